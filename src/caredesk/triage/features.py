"""Features computed once per message and shared by every head: hashed word and character n-grams (no
vocabulary to ship), and a small dense block of lexicon, punctuation and shape signals.

The language head reads the n-grams alone; the other heads read both, because the lexicon block needs the
language first. Hashing is scikit-learn's MurmurHash3, so the same text gives the same columns on every
machine and in every release that keeps `FEATURE_SPEC`.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.preprocessing import normalize

from caredesk.triage.lexicon import N_FEATURES as N_LEXICON
from caredesk.triage.lexicon import Lexicon, default_lexicon

FEATURE_SPEC: dict[str, Any] = {
    "version": 1,
    "word": {"n_features": 2**16, "ngram_range": [1, 2]},
    "char": {"n_features": 2**16, "ngram_range": [1, 5], "analyzer": "char_wb"},
}
_EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf]")
N_SHAPE = 8
N_DENSE = N_LEXICON + N_SHAPE + 4  # + the English VADER scores


class Featurizer:
    def __init__(self, spec: dict[str, Any] | None = None, lexicon: Lexicon | None = None) -> None:
        self.spec = spec or FEATURE_SPEC
        w, c = self.spec["word"], self.spec["char"]
        self.word = HashingVectorizer(
            n_features=w["n_features"],
            ngram_range=tuple(w["ngram_range"]),
            alternate_sign=False,
            norm=None,
            token_pattern=r"(?u)\b\w+\b|[^\w\s]",  # noqa: S106 (a regex, not a password)
            dtype=np.float32,
        )
        self.char = HashingVectorizer(
            n_features=c["n_features"],
            ngram_range=tuple(c["ngram_range"]),
            analyzer=c["analyzer"],
            alternate_sign=False,
            norm=None,
            dtype=np.float32,
        )
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
        blocks = []
        for vec in (self.char, self.word):
            x = vec.transform(lowered)
            x.data = np.log1p(x.data)
            blocks.append(normalize(x, copy=False))
        return sp.hstack(blocks, format="csr", dtype=np.float32)

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
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # noqa: PLC0415

            self._vader = SentimentIntensityAnalyzer()
        d = self._vader.polarity_scores(text)
        return [d["neg"], d["pos"], max(d["compound"], 0.0), max(-d["compound"], 0.0)]

    def full(self, grams: sp.csr_matrix, dense: np.ndarray) -> sp.csr_matrix:
        return sp.hstack([grams, sp.csr_matrix(dense)], format="csr", dtype=np.float32)
