"""How message text is cleaned once for every model: handles, links and look-alike punctuation folded."""

from __future__ import annotations

import re
import unicodedata

_URL = re.compile(r"https?://\S+|www\.\S+")
_HANDLE = re.compile(r"(?<!\w)@\w+")
_QUOTES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "“": '"', "”": '"', "«": '"', "»": '"'})
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_REPEAT = re.compile(r"(.)\1{3,}")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)


def clean(text: str) -> str:
    """The text the models see: NFKC, user handles and links replaced by placeholders, zero-width and
    bidirectional controls removed, letters repeated more than three times shortened (sooooo → sooo)."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    text = _INVISIBLE.sub("", text)
    text = _URL.sub(" http ", text)
    text = _HANDLE.sub(" @user ", text)
    return _REPEAT.sub(r"\1\1\1", text).strip()


def words(lowered: str) -> list[str]:
    return _WORD.findall(lowered)
