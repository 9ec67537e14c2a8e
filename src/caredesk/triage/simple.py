"""A first, rule-based triage: language by script and common words, sentiment by a small lexicon.

It fills the same fields the trained models will each with a confidence, so the rest of
the product is built against the final interface. Word lists are written for this project.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Protocol

from caredesk.triage.caserefs import find_case_refs
from caredesk.triage.pii import find_pii

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_HANDLE_OR_URL = re.compile(r"(@\w+|https?://\S+|#\w+)")

# Frequent function words per language (written for this project).
_STOPWORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        "the and is are was to of my i you it not have has for with this that on in me your what why".split()
    ),
    "da": frozenset(
        "og er jeg det ikke en at har til på med som du min mit jeg kan hvad hvorfor der for af vi".split()
    ),
    "es": frozenset(
        "el la los las y es que de no mi por para con una un se lo me qué por qué pero muy esta".split()
    ),
    "fr": frozenset(
        "le la les et est que de ne pas mon ma je vous une un pour avec ce qui sur mais très".split()
    ),
    "de": frozenset(
        "der die das und ist nicht ich mein meine sie ein eine zu mit für auf was warum aber noch".split()
    ),
    "pt": frozenset(
        "o a os as e é que de não meu minha com para um uma por isso mas muito você está".split()
    ),
    "it": frozenset("il la lo e è che di non mio mia con per un una ma molto sono questo perché".split()),
    "nl": frozenset("de het en is niet ik mijn een van voor met dat wat waarom maar nog".split()),
    "sv": frozenset("och är jag det inte en att har till på med som du min mitt kan vad varför".split()),
}

_SCRIPTS: tuple[tuple[str, str], ...] = (
    ("HEBREW", "he"),
    ("ARABIC", "ar"),
    ("HIRAGANA", "ja"),
    ("KATAKANA", "ja"),
    ("HANGUL", "ko"),
    ("CJK", "zh"),
    ("DEVANAGARI", "hi"),
    ("CYRILLIC", "ru"),
    ("GREEK", "el"),
    ("THAI", "th"),
)

_NEGATIVE = frozenset(
    """
    terrible awful worst horrible useless broken angry furious disappointed ridiculous unacceptable scam
    never slow down outage cancel refund wrong failed fail failing problem issue still waiting hate
    elendig dårlig forfærdelig langsom nede utilfreds vred skuffet opsige
    terrible pésimo horrible enfadado decepcionado nunca lento cancelar problema
    nul horrible inadmissible lent panne problème annuler déçu
    schlecht furchtbar katastrophe langsam kaputt ärgerlich enttäuscht kündigen problem
    """.split()
)
_POSITIVE = frozenset(
    """
    thanks thank great love awesome excellent perfect amazing helpful happy appreciate fast quick resolved
    tak super fantastisk god glad hurtig perfekt dejlig
    gracias genial excelente perfecto encanta rápido
    merci génial excellent parfait super rapide
    danke toll super perfekt schnell prima
    """.split()
)
_CJK_NEGATIVE = ("差", "慢", "坏", "退款", "投诉", "失望", "生气", "垃圾", "没有", "不能")
_CJK_POSITIVE = ("谢谢", "感谢", "好评", "满意", "很好", "棒")
_HE_NEGATIVE = ("גרוע", "איטי", "תקלה", "לא עובד", "מאוכזב", "כועס", "לבטל", "החזר")
_HE_POSITIVE = ("תודה", "מעולה", "מצוין", "אהבתי", "שירות טוב")


@dataclass(frozen=True, slots=True)
class TriageInput:
    text: str
    language_hint: str | None = None
    workspace_id: int | None = None  # whose own topics apply (ModelTriager.set_topics)


class Triager(Protocol):
    def classify(self, items: list[TriageInput]) -> list[dict[str, Any]]: ...


class SimpleTriager:
    def classify(self, items: list[TriageInput]) -> list[dict[str, Any]]:
        return [self.classify_one(i) for i in items]

    def classify_one(self, item: TriageInput) -> dict[str, Any]:
        text = _HANDLE_OR_URL.sub(" ", item.text)
        language, language_conf = detect_language(text)
        if item.language_hint and language_conf < 0.9:
            language, language_conf = item.language_hint.lower()[:2], 0.9
        sentiment, score = sentiment_of(text, language)
        return {
            "language": language,
            "language_confidence": round(language_conf, 3),
            "sentiment": sentiment,
            "sentiment_score": round(score, 3),
            # Spans index the message text as stored; the personal data itself is not copied here.
            "pii": [
                {"type": p.type, "start": p.start, "end": p.end, "confidence": p.confidence}
                for p in find_pii(item.text)
            ],
            "case_refs": [
                {"kind": r.kind, "value": r.value, "start": r.start, "end": r.end}
                for r in find_case_refs(item.text)
            ],
            "model": "simple-rules-1",
        }


def detect_language(text: str) -> tuple[str | None, float]:
    counts: dict[str, int] = {}
    letters = 0
    for ch in text:
        if not ch.isalpha():
            continue
        letters += 1
        name = unicodedata.name(ch, "")
        for marker, lang in _SCRIPTS:
            if marker in name:
                counts[lang] = counts.get(lang, 0) + 1
                break
    if letters == 0:
        return None, 0.0
    if counts:
        lang, n = max(counts.items(), key=lambda kv: kv[1])
        if counts.get("ja") and lang == "zh":
            lang = "ja"  # kana among kanji: Japanese
        if n / letters >= 0.3:
            return lang, min(0.99, 0.6 + 0.4 * n / letters)
    words = [w.lower() for w in _WORD.findall(text)]
    if not words:
        return None, 0.0
    scores = {lang: sum(1 for w in words if w in stop) for lang, stop in _STOPWORDS.items()}
    best = max(scores, key=lambda k: scores[k])
    if scores[best] == 0:
        return "en", 0.3
    total = sum(scores.values())
    return best, min(0.95, 0.4 + 0.6 * scores[best] / total)


def sentiment_of(text: str, language: str | None) -> tuple[str, float]:
    lowered = text.lower()
    if language in {"zh", "ja"}:
        neg = sum(lowered.count(w) for w in _CJK_NEGATIVE)
        pos = sum(lowered.count(w) for w in _CJK_POSITIVE)
    elif language == "he":
        neg = sum(lowered.count(w) for w in _HE_NEGATIVE)
        pos = sum(lowered.count(w) for w in _HE_POSITIVE)
    else:
        words = _WORD.findall(lowered)
        neg = sum(1 for w in words if w in _NEGATIVE)
        pos = sum(1 for w in words if w in _POSITIVE)
    neg += text.count("!!") + (1 if "😡" in text or "🤬" in text else 0)
    pos += 1 if any(e in text for e in ("❤", "😍", "🙏", "👍")) else 0
    if neg > pos:
        return "negative", -min(1.0, 0.3 + 0.2 * (neg - pos))
    if pos > neg:
        return "positive", min(1.0, 0.3 + 0.2 * (pos - neg))
    return "neutral", 0.0
