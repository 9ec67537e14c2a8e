"""Hashed character and word n-grams for a whole batch at once, in numpy.

A batch's texts become one array of code points; each n-gram's hash is a polynomial over its code points
(64-bit, wrapping) finished with MurmurHash3's 64-bit mixer, so the same text gives the same columns on
every machine and no vocabulary ships. Counting is one sparse matrix build per block. Doing it per batch in
numpy rather than per n-gram in Python is what makes features cheap (tens of microseconds a message).

Characters: n-grams of 1..5 code points inside each word padded with one space on each side (the
"within words" n-grams of scikit-learn's `char_wb`), so "ab" gives " a", "ab", "b ", " ab", "ab ", " ab ".
Words: runs of letters, marks, digits and `_` (marks belong to the word, so Devanagari and Arabic words
with vowel signs stay whole), and every other visible character alone; unigrams and bigrams.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from functools import cache

import numpy as np
import scipy.sparse as sp

_PRIME = np.uint64(0x100000001B3)
_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)
_NL = 10  # separates the texts of a batch


def fmix(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser: every input bit reaches every output bit."""
    h = h ^ (h >> _S33)
    h = h * _M1
    h = h ^ (h >> _S33)
    h = h * _M2
    return h ^ (h >> _S33)  # type: ignore[no-any-return]


@cache
def _word_chars() -> np.ndarray:
    """For each code point of the Basic Multilingual Plane: is it part of a word?"""
    table = np.zeros(0x10000, dtype=bool)
    for cp in range(0x10000):
        ch = chr(cp)
        table[cp] = unicodedata.category(ch)[0] in "LMN" or ch == "_"
    return table


@cache
def _spaces() -> np.ndarray:
    return np.array([cp for cp in range(0x10000) if chr(cp).isspace()], dtype=np.uint64)


def _codepoints(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """All texts as one array of code points (newline-separated) and the text each position belongs to."""
    joined = "\n".join(t.replace("\n", " ") for t in texts)
    c = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    lengths = np.fromiter((len(t) + 1 for t in texts), dtype=np.int64, count=len(texts))
    doc = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)[: len(c)]
    return c, doc


def _matrix(rows: np.ndarray, hashes: np.ndarray, n_docs: int, n_features: int) -> sp.csr_matrix:
    cols = (hashes & np.uint64(n_features - 1)).astype(np.int64)
    data = np.ones(len(rows), dtype=np.float32)
    return sp.csr_matrix((data, (rows, cols)), shape=(n_docs, n_features), dtype=np.float32)


def char_ngrams(texts: Sequence[str], n_features: int, min_n: int = 1, max_n: int = 5) -> sp.csr_matrix:
    """Counts of the hashed character n-grams within words (n_features a power of two)."""
    padded = [" " + " ".join(t.split()) + " " if t.strip() else "" for t in texts]
    c, doc = _codepoints(padded)
    size = len(c)
    if size == 0:
        return sp.csr_matrix((len(texts), n_features), dtype=np.float32)
    space = c == 32
    edge = c == _NL
    spaces_before = np.concatenate([[0], np.cumsum(space)])
    h = np.zeros(size, dtype=np.uint64)
    rows, hashes = [], []
    with np.errstate(over="ignore"):
        for n in range(1, max_n + 1):
            m = size - n + 1
            if m <= 0:
                break
            last = c[n - 1 : n - 1 + m]
            h = h[:m] * _PRIME + last
            if n < min_n:
                continue
            ok = (doc[:m] == doc[n - 1 : n - 1 + m]) & ~edge[:m] & ~edge[n - 1 : n - 1 + m]
            if n == 1:
                ok &= ~space[:m]
            elif n == 2:
                ok &= ~(space[:m] & space[1 : 1 + m])
            else:  # no space inside: the n-gram stays within one padded word
                ok &= spaces_before[n - 1 : n - 1 + m] == spaces_before[1 : 1 + m]
            at = np.flatnonzero(ok)
            rows.append(doc[at])
            hashes.append(fmix(h[at] + np.uint64(n) * _M2))
    return _matrix(np.concatenate(rows), np.concatenate(hashes), len(texts), n_features)


def word_ngrams(texts: Sequence[str], n_features: int) -> sp.csr_matrix:
    """Counts of the hashed word unigrams and bigrams (n_features a power of two)."""
    c, doc = _codepoints(texts)
    size = len(c)
    if size == 0:
        return sp.csr_matrix((len(texts), n_features), dtype=np.float32)
    bmp = c <= 0xFFFF
    in_word = bmp & _word_chars()[np.where(bmp, c, 0).astype(np.int64)]
    blank = np.isin(c, _spaces())
    alone = ~in_word & ~blank  # punctuation, symbols, emoji: one token each
    prev_word = np.concatenate([[False], in_word[:-1]])
    start = (in_word & ~prev_word) | alone  # a newline always separates texts, so no run spans two
    starts = np.flatnonzero(start)
    if len(starts) == 0:
        return sp.csr_matrix((len(texts), n_features), dtype=np.float32)
    token = np.cumsum(start) - 1
    inside = in_word | alone
    offset = np.arange(size) - starts[np.maximum(token, 0)]
    offset = np.where(inside & (token >= 0), offset, 0)
    top = int(offset.max()) + 1
    with np.errstate(over="ignore"):
        powers = np.cumprod(np.concatenate([[np.uint64(1)], np.full(top - 1, _PRIME, dtype=np.uint64)]))
        contrib = np.where(inside, c * powers[offset] + np.uint64(1), np.uint64(0))
        token_hash = np.add.reduceat(contrib, starts)  # blanks after a token add nothing
        token_doc = doc[starts]
        same = token_doc[:-1] == token_doc[1:]
        unigrams = fmix(token_hash)
        bigrams = fmix(token_hash[:-1][same] * _M1 + token_hash[1:][same] + np.uint64(7))
    rows = np.concatenate([token_doc, token_doc[:-1][same]])
    return _matrix(rows, np.concatenate([unigrams, bigrams]), len(texts), n_features)
