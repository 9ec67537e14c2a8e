"""The checks a reply passes before anything is published, in one pass, each finding with its fix.

- **length**: the network's counting rule; too long blocks, with the thread the text would split into
  where the network has threads.
- **personal_data**: phone numbers, emails, cards, IBANs, passwords, security answers, account numbers and
  addresses (the triage detector) in a public reply block it, with the "move to private" fix: the text
  goes in a private message and a short public note says so.
- **policy**: the workspace's words and patterns that must never appear publicly (`settings["policy"]`:
  {"words": [...], "patterns": [...]}) block a public reply.
- **fill_in**: a canned response's fill-in field (`[[Tracking number]]`) left in the text blocks it.
- **spelling**: words not in the reply language's dictionary (Hunspell through Enchant: en, da, de, es,
  fr, pt), with suggestions; a warning, never a block. Without a dictionary the check says so.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from caredesk.connectors import length
from caredesk.domain.errors import InvalidInput
from caredesk.triage.pii import find_pii

DICTIONARIES = {"en": "en_US", "da": "da_DK", "de": "de_DE", "es": "es_ES", "fr": "fr_FR", "pt": "pt_PT"}
MOVED_NOTES = {
    "en": "We have sent you a private message.",
    "da": "Vi har sendt dig en privat besked.",
    "de": "Wir haben Ihnen eine private Nachricht geschickt.",
    "es": "Te hemos enviado un mensaje privado.",
    "fr": "Nous vous avons envoyé un message privé.",
    "pt": "Enviámos-lhe uma mensagem privada.",
    "it": "Ti abbiamo inviato un messaggio privato.",
    "nl": "We hebben je een privébericht gestuurd.",
    "sv": "Vi har skickat ett privat meddelande till dig.",
}
# Words of a reply the spelling check leaves alone: handles, tags, links, emails, and words with digits.
_SKIP = re.compile(r"(?:@|#)\w+|https?://\S+|\S+@\S+\.\w+|\^\w+")
# A canned response's fill-in field the agent must complete: [[Tracking number]].
FILL_IN = re.compile(r"\[\[([^\[\]\n]{1,80})\]\]")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


@dataclass(frozen=True, slots=True)
class Finding:
    check: str  # length, personal_data, policy, spelling
    severity: str  # block, warn, info
    message: str
    spans: list[dict[str, Any]] = field(default_factory=list)
    fix: dict[str, Any] | None = None

    def view(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "severity": self.severity,
            "message": self.message,
            "spans": self.spans,
            "fix": self.fix,
        }


class ChecksFailed(InvalidInput):
    """A reply stopped by its checks; `findings` holds all of them, the blocking ones and the rest."""

    def __init__(self, findings: list[Finding]) -> None:
        super().__init__("; ".join(f.message for f in blocking(findings)))
        self.findings = findings


@dataclass(frozen=True, slots=True)
class ReplyTarget:
    """What the checks need to know of where the reply goes."""

    public: bool
    rule: str  # the length rule (connectors/length.py)
    network: str  # its display name
    can_private: bool
    language: str | None


@functools.lru_cache(maxsize=16)
def _dictionary(language: str) -> Any:
    tag = DICTIONARIES.get(language)
    if tag is None:
        return None
    try:
        import enchant  # noqa: PLC0415 (the C library is optional: without it the check says so)

        return enchant.Dict(tag) if enchant.dict_exists(tag) else None
    except (ImportError, OSError):
        return None


def spelling(text: str, language: str | None) -> Finding | None:
    lang = (language or "en")[:2]
    dictionary = _dictionary(lang)
    if dictionary is None:
        return Finding("spelling", "info", f"spelling not checked: no dictionary for '{lang}'")
    masked = _SKIP.sub(lambda m: " " * len(m.group()), text)
    spans = []
    for m in _WORD.finditer(masked):
        word = m.group()
        if len(word) < 2 or (word.isupper() and len(word) <= 5) or dictionary.check(word):
            continue
        if word[0].isupper() and dictionary.check(word.lower()):
            continue
        spans.append(
            {"start": m.start(), "end": m.end(), "word": word, "suggestions": dictionary.suggest(word)[:5]}
        )
    if not spans:
        return None
    words = ", ".join(s["word"] for s in spans[:5])
    return Finding("spelling", "warn", f"possible misspellings: {words}", spans)


def policy(text: str, rules: dict[str, Any]) -> Finding | None:
    spans: list[dict[str, Any]] = []
    for word in rules.get("words") or []:
        for m in re.finditer(rf"(?<!\w){re.escape(str(word))}(?!\w)", text, re.IGNORECASE):
            spans.append({"start": m.start(), "end": m.end(), "rule": str(word)})
    for pattern in rules.get("patterns") or []:
        for m in re.finditer(str(pattern), text, re.IGNORECASE):
            spans.append({"start": m.start(), "end": m.end(), "rule": str(pattern)})
    if not spans:
        return None
    said = ", ".join(sorted({text[int(s["start"]) : int(s["end"])] for s in spans}))
    return Finding(
        "policy", "block", f"not allowed in a public reply: {said}", sorted(spans, key=lambda s: s["start"])
    )


def check(text: str, target: ReplyTarget, policy_rules: dict[str, Any] | None = None) -> list[Finding]:
    findings: list[Finding] = []
    counted = length.count(target.rule, text)
    if not counted.valid:
        fix: dict[str, Any] | None = None
        if length.allows_threads(target.rule):
            fix = {"thread": length.split(target.rule, text)}
        how = " It would go as the thread shown." if fix else " Shorten it."
        findings.append(
            Finding(
                "length",
                "block",
                f"reply is {counted.length} {counted.unit} long; {target.network} allows {counted.limit}."
                + how,
                fix=fix,
            )
        )
    blanks = list(FILL_IN.finditer(text))
    if blanks:
        names = ", ".join(dict.fromkeys(mt.group(1).strip() for mt in blanks))
        findings.append(
            Finding(
                "fill_in",
                "block",
                f"fill in before sending: {names}",
                [{"start": mt.start(), "end": mt.end(), "field": mt.group(1).strip()} for mt in blanks],
            )
        )
    if target.public:
        found = find_pii(text, brand=True)
        if found:
            kinds = ", ".join(sorted({p.type.replace("_", " ") for p in found}))
            lang = (target.language or "en")[:2]
            moved: dict[str, Any] | None = (
                {
                    "move_to_private": {
                        "private_text": text,
                        "public_note": MOVED_NOTES.get(lang, MOVED_NOTES["en"]),
                    }
                }
                if target.can_private
                else None
            )
            findings.append(
                Finding(
                    "personal_data",
                    "block",
                    f"personal data in a public reply: {kinds}",
                    [{"start": p.start, "end": p.end, "type": p.type} for p in found],
                    moved,
                )
            )
        if policy_rules:
            hit = policy(text, policy_rules)
            if hit:
                findings.append(hit)
    spelled = spelling(text, target.language)
    if spelled:
        findings.append(spelled)
    return findings


def blocking(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "block"]
