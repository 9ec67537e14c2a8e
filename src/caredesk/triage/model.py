"""The triager the pipeline runs: one pass of features per batch, then every head, then the rules.

Each field comes with how sure it is. Language decides which lexicon the other heads read, so it is
settled first from the character n-grams alone.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from caredesk.triage import embeddings, langid, topics
from caredesk.triage.base import TriageInput
from caredesk.triage.caserefs import find_case_refs
from caredesk.triage.features import Featurizer
from caredesk.triage.heads import LinearHead
from caredesk.triage.pii import find_pii_batch, learnt_tagger
from caredesk.triage.text import clean
from caredesk.triage.urgency import URGENCY_TYPES, find_urgency

if TYPE_CHECKING:
    from caredesk.triage.adapt import Adjustment

MODELS = Path(__file__).parent / "models"
MODEL_NAME = "caredesk-triage-1"
HEAD_NAMES = (
    "language",
    "sentiment",
    "complaint",
    "needs_reply",
    "topic",
    *(f"urgency_{u}" for u in URGENCY_TYPES),
)


class ModelTriager:
    def __init__(self, folder: Path = MODELS, encoder: embeddings.SentenceEncoder | None = None) -> None:
        self.heads = {name: LinearHead.load(folder, name) for name in HEAD_NAMES}
        self.features = Featurizer()
        self._crossed_heads = {n for n, h in self.heads.items() if h.card.get("inputs") == "full+language"}
        self._topics: dict[int, tuple[dict[str, list[str]], topics.CustomTopics]] = {}
        self._adjustments: dict[int, Adjustment] = {}
        self.encoder = encoder if encoder is not None else embeddings.configured()
        learnt_tagger()  # loaded with the heads, not by the first message

    def set_adjustment(self, workspace_id: int, adjustment: Adjustment | None) -> None:
        """The workspace's fitted adjustment of the needs-reply head (triage/adapt.py), or None."""
        if adjustment is None:
            self._adjustments.pop(workspace_id, None)
        else:
            self._adjustments[workspace_id] = adjustment

    def set_topics(self, workspace_id: int, examples: dict[str, list[str]]) -> None:
        """The workspace's own topics (name -> example phrases); rebuilt only when they change."""
        known = self._topics.get(workspace_id)
        if known is None or known[0] != examples:
            built = topics.build(self.features, examples, self.encoder)
            self._topics[workspace_id] = (examples, built)

    def featurize(self, items: list[TriageInput]) -> Features:
        """Clean once, n-grams once, the language of each message, then the dense block and the full
        feature matrix every other head reads (adapt.py fits on the same matrix)."""
        cleaned = [clean(i.text) for i in items]
        grams = self.features.ngrams(cleaned)
        lang_head = self.heads["language"]
        lang_p = lang_head.proba(grams[:, : self.features.n_char])
        languages: list[tuple[str | None, float, list[dict[str, Any]]]] = []
        for i, item in enumerate(items):
            probs = dict(zip(lang_head.classes, (float(v) for v in lang_p[i]), strict=True))
            decided = langid.decide(cleaned[i], probs)
            hint = _hint(item.language_hint)
            if hint and hint != decided[0] and (decided[1] < 0.97 or len(cleaned[i]) < 40):
                # the language the author or the network declared, unless the text clearly says otherwise
                decided = (hint, 0.9, decided[2])
            languages.append(decided)
        codes = [lang for lang, _, _ in languages]
        dense = self.features.dense(cleaned, codes)
        x = self.features.full(grams, dense)
        crossed = None
        if self._crossed_heads:
            crossed = sp.hstack([x, self.features.crossed(grams, codes)], format="csr")
        return Features(cleaned, grams, languages, dense, x, crossed)

    def inputs(self, f: Features, name: str) -> sp.csr_matrix:
        """The matrix head `name` reads: the full features, or those and the per-language n-grams."""
        if name in self._crossed_heads:
            assert f.crossed is not None
            return f.crossed
        return f.x

    def classify(self, items: list[TriageInput]) -> list[dict[str, Any]]:
        if not items:
            return []
        f = self.featurize(items)
        cleaned, grams, lang_out, dense, x = f.cleaned, f.grams, f.languages, f.dense, f.x
        p = {name: self.heads[name].proba(self.inputs(f, name)) for name in HEAD_NAMES if name != "language"}
        shipped_reply = p["needs_reply"][:, 1]
        groups = _by_workspace(items)
        adjusted_reply: dict[int, float] = {}
        for ws, rows in groups.items():
            if ws in self._adjustments:
                base = self.heads["needs_reply"].logits(x[rows])[:, 0]
                adjusted_reply.update(
                    zip(rows, map(float, self._adjustments[ws].proba(x[rows], base)), strict=True)
                )
        custom: list[tuple[str, float] | None] = [None] * len(items)
        for ws, rows in groups.items():
            if ws not in self._topics:
                continue
            custom_ws = self._topics[ws][1]
            embedded = None
            if self.encoder is not None and custom_ws.embedded is not None:
                embedded = self.encoder.encode([cleaned[n] for n in rows])
            for n, hit in zip(rows, topics.nearest(custom_ws, grams[rows], embedded), strict=True):
                custom[n] = hit
        found_pii = find_pii_batch([item.text for item in items])
        out = []
        sent_classes = self.heads["sentiment"].classes
        topic_classes = self.heads["topic"].classes
        for i, item in enumerate(items):
            s = p["sentiment"][i]
            k = int(np.argmax(s))
            neg, pos = float(s[sent_classes.index("negative")]), float(s[sent_classes.index("positive")])
            t = p["topic"][i]
            tk = int(np.argmax(t))
            lowered = cleaned[i].lower()
            urgency = _urgency(lowered, {u: float(p[f"urgency_{u}"][i][1]) for u in URGENCY_TYPES})
            language, language_conf, parts = lang_out[i]
            out.append(
                {
                    "language": language,
                    "language_confidence": language_conf,
                    **({"languages": parts} if parts else {}),
                    "sentiment": sent_classes[k],
                    "sentiment_confidence": round(float(s[k]), 3),
                    "sentiment_score": round(pos - neg, 3),
                    "anger": round(_anger(dense[i], neg), 3),
                    "needs_reply": round(adjusted_reply.get(i, float(shipped_reply[i])), 3),
                    **(
                        {"needs_reply_shipped": round(float(shipped_reply[i]), 3)}
                        if i in adjusted_reply
                        else {}
                    ),
                    "complaint": round(float(p["complaint"][i][1]), 3),
                    **_topic(topic_classes[tk], float(t[tk]), custom[i]),
                    "urgency": urgency,
                    # Spans index the message text as stored; the personal data itself is not copied here.
                    "pii": [
                        {"type": q.type, "start": q.start, "end": q.end, "confidence": q.confidence}
                        for q in found_pii[i]
                    ],
                    "case_refs": [
                        {"kind": r.kind, "value": r.value, "start": r.start, "end": r.end}
                        for r in find_case_refs(item.text)
                    ],
                    "model": MODEL_NAME,
                }
            )
        return out


@dataclass(frozen=True, slots=True)
class Features:
    cleaned: list[str]
    grams: sp.csr_matrix
    languages: list[tuple[str | None, float, list[dict[str, Any]]]]  # (language, confidence, parts)
    dense: np.ndarray
    x: sp.csr_matrix  # n-grams and dense block: what every head but language reads
    crossed: sp.csr_matrix | None = None  # x, then the per-language n-grams (heads reading full+language)


def _by_workspace(items: list[TriageInput]) -> dict[int, list[int]]:
    groups: dict[int, list[int]] = {}
    for n, item in enumerate(items):
        if item.workspace_id is not None:
            groups.setdefault(item.workspace_id, []).append(n)
    return groups


_HINT = re.compile(r"^([a-z]{2})(?:[-_][a-z0-9]+)*$")


def _hint(declared: str | None) -> str | None:
    """The ISO 639-1 code of a declared language ("pt-BR" -> "pt"); None for networks' placeholders such
    as X's "und" (undetermined) or "zxx" (no text), which are not languages."""
    match = _HINT.match((declared or "").strip().lower())
    return match.group(1) if match else None


def _topic(default: str, confidence: float, custom: tuple[str, float] | None) -> dict[str, Any]:
    if custom is None:
        return {"topic": default, "topic_confidence": round(confidence, 3)}
    return {
        "topic": custom[0],
        "topic_confidence": round(custom[1], 3),
        "topic_source": "workspace",
        "default_topic": default,
    }


def _urgency(lowered: str, head_p: dict[str, float]) -> list[dict[str, Any]]:
    """A signal is raised by its wording (confidence 0.9) or by its head (its probability, from 0.5)."""
    found = {u["type"]: u for u in find_urgency(lowered)}
    result = []
    for kind in URGENCY_TYPES:
        prob = head_p[kind]
        if kind in found:
            result.append({"type": kind, "confidence": round(max(0.9, prob), 3), "cue": found[kind]["cue"]})
        elif prob >= 0.5:
            result.append({"type": kind, "confidence": round(prob, 3)})
    return result


def _anger(dense: np.ndarray, negative: float) -> float:
    """0..1: the lexicon's anger words, shouting and exclamation marks, scaled by how negative it reads.
    Column positions follow `Featurizer.dense` (log1p of the lexicon anger sum is column 4)."""
    anger_words = math.expm1(float(dense[4]))
    exclaim = math.expm1(float(dense[8]))
    caps = float(dense[10])
    raw = 0.35 * min(anger_words, 4) / 4 + 0.2 * min(exclaim, 3) / 3 + 0.15 * caps + 0.3
    return max(0.0, min(1.0, raw * negative * 1.6))


@cache
def default_triager() -> ModelTriager:
    return ModelTriager()
