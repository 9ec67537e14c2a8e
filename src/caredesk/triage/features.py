"""Features computed once per message and shared by every head: hashed word and character n-grams (no
vocabulary to ship), and a small dense block of lexicon, punctuation and shape signals.

The language head reads the n-grams alone; the other heads read both, because the lexicon block needs the
language first. Heads that read `full+language` (sentiment) also read the n-grams again in columns of
their own per language (`crossed`), so a word can weigh differently in Arabic and in English tweets.
Hashing is `hashing.py`'s (a polynomial finished by MurmurHash3's mixer), so the same text gives the same
columns on every machine and in every release that keeps `FEATURE_SPEC`.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from caredesk.triage import hashing
from caredesk.triage.lexicon import N_FEATURES as N_LEXICON
from caredesk.triage.lexicon import Lexicon, default_lexicon

FEATURE_SPEC: dict[str, Any] = {
    "version": 2,
    "word": {"n_features": 2**16, "ngram_range": [1, 2]},
    "char": {"n_features": 2**16, "ngram_range": [1, 5], "analyzer": "char_wb"},
    "hash": "polynomial 0x100000001b3 over code points, murmur3 fmix64",
    "crossed_languages": ["en", "es", "fr", "de", "it", "pt", "hi", "ar", "he"],
}
_EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf]")
N_SHAPE = 8
N_DENSE = N_LEXICON + N_SHAPE + 4  # + the English VADER scores


class Featurizer:
    def __init__(self, spec: dict[str, Any] | None = None, lexicon: Lexicon | None = None) -> None:
        self.spec = spec or FEATURE_SPEC
        self.crossed_languages: list[str] = list(self.spec["crossed_languages"])
        self.lexicon = lexicon or default_lexicon()
        self._vader: Any = None

    @property
    def n_char(self) -> int:
        return int(self.spec["char"]["n_features"])

    @property
    def n_sparse(self) -> int:
        return int(self.spec["word"]["n_features"]) + self.n_char

    @property
    def n_total(self) -> int:
        return self.n_sparse + N_DENSE

    def ngrams(self, cleaned: list[str]) -> sp.csr_matrix:
        """Character block first (the language head reads only those columns), then words; log-scaled
        counts, each block of unit length."""
        lowered = [t.lower() for t in cleaned]
        c_lo, c_hi = self.spec["char"]["ngram_range"]
        blocks = [
            hashing.char_ngrams(lowered, self.n_char, c_lo, c_hi),
            hashing.word_ngrams(lowered, int(self.spec["word"]["n_features"])),
        ]
        for x in blocks:
            x.data = np.log1p(x.data)
            normalize(x, copy=False)
        return sp.hstack(blocks, format="csr", dtype=np.float32)

    @property
    def n_crossed(self) -> int:
        return self.n_sparse + len(self.crossed_languages) + 1

    def crossed(self, grams: sp.csr_matrix, languages: list[str | None]) -> sp.csr_matrix:
        """The n-grams again, moved to columns of the message's language (languages outside
        `crossed_languages` share one set), then one indicator column per language."""
        known = {code: i for i, code in enumerate(self.crossed_languages)}
        lang = np.array([known.get(code or "", len(known)) for code in languages], dtype=np.int64)
        coo = grams.tocoo()
        with np.errstate(over="ignore"):
            mixed = coo.col.astype(np.uint64) + np.uint64(self.n_sparse) * lang[coo.row].astype(np.uint64)
            cols = (hashing.fmix(mixed) % np.uint64(self.n_sparse)).astype(np.int64)
        moved = sp.csr_matrix((coo.data, (coo.row, cols)), shape=(grams.shape[0], self.n_sparse))
        flags = sp.csr_matrix(
            (np.ones(len(lang), dtype=np.float32), (np.arange(len(lang)), lang)),
            shape=(len(lang), len(known) + 1),
        )
        return sp.hstack([moved, flags], format="csr", dtype=np.float32)

    def dense(self, cleaned: list[str], languages: list[str | None]) -> np.ndarray:
        out = np.zeros((len(cleaned), N_DENSE), dtype=np.float32)
        for i, (text, lang) in enumerate(zip(cleaned, languages, strict=True)):
            lex = self.lexicon.score(text, lang)
            letters = [c for c in text if c.isalpha()]
            upper = sum(1 for c in letters if c.isupper())
            shape = [
                math.log1p(text.count("!")),
                math.log1p(text.count("?")),
                upper / len(letters) if len(letters) >= 8 else 0.0,
                math.log1p(len(text)) / 6,
                1.0 if "http" in text else 0.0,
                math.log1p(text.count("@user")),
                math.log1p(len(_EMOJI.findall(text))),
                1.0 if text.lower().startswith("rt @user") else 0.0,
            ]
            vader = self.vader(text) if lang == "en" else [0.0, 0.0, 0.0, 0.0]
            out[i] = [*(math.log1p(v) for v in lex[:7]), lex[7], *shape, *vader]
        return out

    def vader(self, text: str) -> list[float]:
        if self._vader is None:
            self._vader = Valence()
        return self._vader.scores(text)  # type: ignore[no-any-return]

    def full(self, grams: sp.csr_matrix, dense: np.ndarray) -> sp.csr_matrix:
        return sp.hstack([grams, sp.csr_matrix(dense)], format="csr", dtype=np.float32)


_EDGE_PUNCT = "".join(chr(c) for c in range(33, 127) if not chr(c).isalnum()) + "“”‘’«»…"


class Valence:
    """English word valences from VADER's lexicon (the vaderSentiment package's own file), scored the way
    VADER scores them but in one short pass: a negator within three words before flips and damps a
    word, a booster before strengthens it, a word in capitals among lower-case ones counts more, and after
    "but" words weigh 1.5 times, before it half. Gives [neg share, pos share, positive compound, negative
    compound], VADER's output shape, at a fraction of its cost."""

    def __init__(self) -> None:
        from vaderSentiment.vaderSentiment import (  # noqa: PLC0415
            BOOSTER_DICT,
            NEGATE,
            SentimentIntensityAnalyzer,
        )

        self.lexicon: dict[str, float] = dict(SentimentIntensityAnalyzer().lexicon)
        self.negators = frozenset(NEGATE)
        self.boosters: dict[str, float] = dict(BOOSTER_DICT)

    def scores(self, text: str) -> list[float]:
        tokens = text.split()
        if not tokens:
            return [0.0, 0.0, 0.0, 0.0]
        shouting = any(t.isupper() for t in tokens) and not all(t.isupper() for t in tokens if t.isalpha())
        lowered = [t.lower() for t in tokens]
        try:
            but = lowered.index("but")
        except ValueError:
            but = -1
        values: list[float] = []
        words = [w.strip(_EDGE_PUNCT) or w for w in lowered]
        for i, word in enumerate(words):
            v = self.lexicon.get(word)
            if v is None:
                v = self.lexicon.get(lowered[i])  # emoticons keep their punctuation
            if v is None:
                continue
            if shouting and tokens[i].isupper():
                v += 0.733 if v > 0 else -0.733
            for back in (1, 2, 3):
                j = i - back
                if j < 0:
                    break
                prev = words[j]
                if prev in self.boosters:
                    b = self.boosters[prev] * (1.0 if back == 1 else 0.95 if back == 2 else 0.9)
                    v += b if v > 0 else -b
                if prev in self.negators or prev.endswith("n't"):
                    v *= -0.74
                    break
            if but >= 0:
                v *= 0.5 if i < but else 1.5 if i > but else 1.0
            values.append(v)
        pos = sum(v + 1 for v in values if v > 0)
        neg = sum(1 - v for v in values if v < 0)
        neutral = len(tokens) - len(values)
        total = pos + neg + neutral
        s = sum(values) + min(text.count("!"), 4) * 0.292 * (1 if sum(values) >= 0 else -1) * bool(values)
        compound = s / math.sqrt(s * s + 15)
        return [neg / total, pos / total, max(compound, 0.0), max(-compound, 0.0)]
