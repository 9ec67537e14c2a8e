"""A learnt tagger for personal data, beside the written rules of `pii.py`.

The rules find what an introducing phrase they know announces; customers also write "Şifrem
Galatasaray1905", "I always use Pa55word! for everything" or answer an agent's question on the next line,
in languages no phrase list covers. The tagger labels each token (O or one of the eight types) with a
logistic regression over hashed features of the token (its shape, prefix, suffix) and of its context
(the words before and after, their prefixes, the previous line of a transcript), then joins neighbouring
tokens of one type into spans. It is trained on messages written for the project (`corpus/pii/`), and
stored like the other heads: int8 weights in an `.npz`, loaded without pickle.
"""

from __future__ import annotations

import bisect
import re
import zlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

import numpy as np
import scipy.sparse as sp

from caredesk.triage import hashing
from caredesk.triage.heads import LinearHead

N_FEATURES = 2**18
NAME = "pii_tagger"
OUTSIDE = "O"
# Han and kana are written without spaces: each character is a token of its own, as are the full-width
# punctuation marks around them.
_UNSPACED = "\u3000-\u303f\u3040-\u30ff\u3400-\u9fff\uff01-\uff0f\uff1a-\uff20"
_TOKEN = re.compile(f"[{_UNSPACED}]|[^\\s{_UNSPACED}]+")
_LEAD = "([{\"'«“‘<¿¡*"
_TRAIL = ".,;:)]}\"'»”’?…>*،؛؟"
_JOIN_GAP = re.compile(r"[\s,.\-/:()]{0,3}")
_NEWLINE = re.compile("\n")
_SPEAKER = re.compile(r"^\s*[\w .'-]{1,24}[:：]")


# (start, end, text, line): where the token is, what it says, and the index of its line. A plain tuple:
# a message has a few dozen, made for every message the pipeline sees.
Token = tuple[int, int, str, int]
START: Final = 0
END: Final = 1
TEXT: Final = 2
LINE: Final = 3


def tokens(text: str) -> list[Token]:
    """Words with their leading and trailing punctuation split off as tokens of their own."""
    out: list[Token] = []
    breaks = [m.start() for m in _NEWLINE.finditer(text)] if "\n" in text else []
    for m in _TOKEN.finditer(text):
        s, e = m.span()
        word = m.group()
        line = bisect.bisect_left(breaks, s) if breaks else 0
        if word[0] not in _LEAD and word[-1] not in _TRAIL:
            out.append((s, e, word, line))
            continue
        rest = word.lstrip(_LEAD)
        core = rest.rstrip(_TRAIL)
        if not core:  # punctuation alone
            out.append((s, e, word, line))
            continue
        a = s + len(word) - len(rest)
        b = a + len(core)
        if a > s:
            out.append((s, a, text[s:a], line))
        out.append((a, b, core, line))
        if e > b:
            out.append((b, e, text[b:e], line))
    return out


def _shape(word: str) -> str:
    out: list[str] = []
    for ch in word:
        c = "A" if ch.isupper() else "a" if ch.isalpha() else "0" if ch.isdigit() else ch
        if not out or out[-1] != c:
            out.append(c)
    return "".join(out[:8])


def _crc(value: str) -> int:
    return zlib.crc32(value.encode("utf-8", "surrogatepass"))


_WORD_IDS: dict[str, tuple[int, int, int, int, int, int, int, int]] = {}


@cache
def _common_words() -> tuple[frozenset[str], frozenset[str]]:
    """Words that are rarely anyone's secret: the stop words of 58 languages (stopwords-iso: "I don't
    remember", "it's"), and English words that carry sentiment (VADER's lexicon: "great" is how a car was,
    not its make)."""
    import stopwordsiso  # noqa: PLC0415
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # noqa: PLC0415

    stop = frozenset(w.lower() for w in stopwordsiso.stopwords(stopwordsiso.langs()))
    return stop, frozenset(w for w in SentimentIntensityAnalyzer().lexicon if w.isalpha())


def _word_ids(word: str) -> tuple[int, int, int, int, int, int, int, int]:
    """The hashed ids of what a token says by itself, remembered per distinct token (words repeat)."""
    low = word.lower()
    ids = (
        _crc(low),
        _crc(_shape(word)),
        min(len(low), 12),
        _crc(low[:3]),
        _crc(low[-3:]),
        _crc(low[:4]) if len(low) >= 4 else _EDGE,
        min(sum(c.isdigit() for c in low), 12),
        (1 if low in _common_words()[0] else 0) + (2 if low in _common_words()[1] else 0),
    )
    if len(_WORD_IDS) >= 200_000:
        _WORD_IDS.clear()
    _WORD_IDS[word] = ids
    return ids


# Feature slots: each (slot, value) pair is hashed to one column.
_W, _SHAPE, _LEN, _PRE, _SUF, _NDIG = range(6)
_COMMON = 21
_P1, _P2, _P3, _P21, _PS1, _N1, _N2, _NS1, _BP, _BP4, _BN, _LINE0, _PL, _QA, _QUOTE = range(6, 21)
_EDGE = 0xFFFFFFFF  # the word id before the first and after the last token of a message


def _columns(slot: int, values: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        mixed = values.astype(np.uint64) * np.uint64(0x9E3779B1) + np.uint64(slot + 1)
    return (hashing.fmix(mixed) % np.uint64(N_FEATURES)).astype(np.int64)


@dataclass(frozen=True, slots=True)
class _Answer:
    after: int  # where the speaker's words begin, after "Customer:"
    question: list[int]  # the word ids and word-start ids of the line before
    asked: bool  # the line before ends with a question mark
    n_words: int


_QUOTE_CHARS = re.compile("[\"'“”‘’«»„]")
_QUOTED = re.compile("([\"'“‘«„])([^\"'“”‘’«»„\n]{1,40}?)([\"'”’»“])")


def _answer_lines(text: str) -> dict[int, _Answer]:
    """Lines of a transcript that answer the line before: "Agent: First pet?" then "Customer: Rex"."""
    if "\n" not in text:
        return {}
    out: dict[int, _Answer] = {}
    lines = text.split("\n")
    offset = len(lines[0]) + 1
    for n in range(1, len(lines)):
        label = _SPEAKER.match(lines[n])
        if label:
            before = lines[n - 1].strip()
            prev = [w.strip(_TRAIL).lower() for w in before.split()[:20]]
            ids = [_crc(w) for w in prev if w] + [_crc("4:" + w[:4]) for w in prev if len(w) >= 4]
            spoken = lines[n][label.end() :].split()
            out[n] = _Answer(offset + label.end(), ids, before.endswith(("?", "？", "؟")), len(spoken))
        offset += len(lines[n]) + 1
    return out


def featurize(texts: list[str], toks: list[list[Token]]) -> sp.csr_matrix:
    """One row per token of every text, in order: hashed features of the token and of its context,
    built for the whole batch at once."""
    per_token: list[tuple[int, int, int, int, int, int, int, int]] = []
    line0: list[bool] = []
    extra: list[tuple[int, int, int]] = []  # (row, slot, value) of the features few tokens have
    row = 0
    for text, ts in zip(texts, toks, strict=True):
        answers = _answer_lines(text)
        quoted = [m.span(2) for m in _QUOTED.finditer(text)] if _QUOTE_CHARS.search(text) else []
        last_line = -1
        for t in ts:
            ids = _WORD_IDS.get(t[TEXT]) or _word_ids(t[TEXT])
            per_token.append(ids)
            line0.append(t[LINE] != last_line)
            last_line = t[LINE]
            if answers:
                answer = answers.get(t[LINE])
                if answer is not None and t[START] >= answer.after:
                    extra.extend((row, _PL, w) for w in answer.question)
                    if answer.asked:
                        extra.append((row, _QA, min(answer.n_words, 6)))
            for qs, qe in quoted:
                if qs <= t[START] and t[END] <= qe:
                    extra.append((row, _QUOTE, min(len(text[qs:qe].split()), 5)))
            if ids[7]:
                extra.append((row, _COMMON, ids[7]))
            row += 1
    n = row
    if n == 0:
        return sp.csr_matrix((0, N_FEATURES), dtype=np.float32)
    ids_all = np.array(per_token, dtype=np.int64)
    w, sh, p4 = ids_all[:, 0], ids_all[:, 1], ids_all[:, 5]
    dc = np.repeat(np.arange(len(toks)), [len(ts) for ts in toks])
    idx = np.arange(n)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []

    def add(slot: int, values: np.ndarray, where: np.ndarray | None = None) -> None:
        if where is None:
            rows.append(idx)
            cols.append(_columns(slot, values))
        else:
            rows.append(idx[where])
            cols.append(_columns(slot, values[where]))

    def shifted(values: np.ndarray, by: int) -> tuple[np.ndarray, np.ndarray]:
        """values[i + by] where that token is in the same message, else the edge marker."""
        j = idx + by
        ok = (j >= 0) & (j < n)
        jc = np.clip(j, 0, n - 1)
        same = ok & (dc[jc] == dc)
        return np.where(same, values[jc], _EDGE), same

    add(_W, w)
    add(_SHAPE, sh)
    add(_LEN, ids_all[:, 2])
    add(_PRE, ids_all[:, 3])
    add(_SUF, ids_all[:, 4])
    add(_NDIG, ids_all[:, 6])
    for slot, by in ((_P1, -1), (_P2, -2), (_P3, -3), (_N1, 1), (_N2, 2)):
        add(slot, shifted(w, by)[0])
    prev2, prev1 = shifted(w, -2)[0], shifted(w, -1)[0]
    with np.errstate(over="ignore"):
        add(_P21, prev2.astype(np.uint64) * np.uint64(1_000_003) + prev1.astype(np.uint64))
    add(_PS1, shifted(sh, -1)[0])
    add(_NS1, shifted(sh, 1)[0])
    for by in range(-12, 0):
        if by >= -8:
            values, same = shifted(w, by)
            add(_BP, values, same)
        v4, same4 = shifted(p4, by)
        add(_BP4, v4, same4 & (v4 != _EDGE))
    for by in (1, 2, 3):
        values, same = shifted(w, by)
        add(_BN, values, same)
    add(_LINE0, np.zeros(n, dtype=np.int64), np.array(line0, dtype=bool))
    for slot in (_PL, _QA, _QUOTE, _COMMON):
        picked = [(r, v) for r, sl, v in extra if sl == slot]
        if picked:
            rows.append(np.array([r for r, _ in picked], dtype=np.int64))
            cols.append(_columns(slot, np.array([v for _, v in picked], dtype=np.int64)))
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    x = sp.csr_matrix((np.ones(len(r), dtype=np.float32), (r, c)), shape=(n, N_FEATURES))
    x.sum_duplicates()
    return x


def labels_for(toks: list[Token], gold: list[tuple[str, int, int]]) -> list[str]:
    """A token takes a gold span's type when at least half of it lies inside that span."""
    out = []
    for t in toks:
        label = OUTSIDE
        for kind, s, e in gold:
            if min(t[END], e) - max(t[START], s) >= 0.5 * (t[END] - t[START]):
                label = kind
                break
        out.append(label)
    return out


class PiiTagger:
    def __init__(self, head: LinearHead, thresholds: dict[str, float] | None = None) -> None:
        self.head = head
        given = thresholds if thresholds is not None else head.card.get("thresholds", {})
        # a token joins a span of its most likely type when that type's probability reaches its threshold
        self.thresholds = np.array([float(given.get(c, 0.5)) for c in head.classes])

    @classmethod
    def load(cls, folder: Path) -> PiiTagger:
        _common_words()  # the word lists are read with the model, not by the first message
        return cls(LinearHead.load(folder, NAME))

    def spans(self, text: str) -> list[tuple[str, int, int, float]]:
        return self.tag_batch([text])[0].spans

    def tag_batch(self, texts: list[str]) -> list[Tagged]:
        """Each text's spans (type, start, end, confidence), joined over neighbouring tokens of one type,
        and every token's probabilities (what `pii.py` asks when it weighs a rule's finding)."""
        toks = [tokens(t) for t in texts]
        x = featurize(texts, toks)
        classes = self.head.classes
        p = self.head.proba(x) if x.shape[0] else np.zeros((0, len(classes)))
        outside = classes.index(OUTSIDE)
        p_in = p.copy()
        p_in[:, outside] = -1.0
        best = p_in.argmax(axis=1)
        conf_all = p_in[np.arange(len(best)), best]
        flagged = np.flatnonzero(conf_all >= self.thresholds[best]).tolist()  # few tokens of few messages
        out: list[Tagged] = []
        row, at = 0, 0
        for text, ts in zip(texts, toks, strict=True):
            found: list[tuple[str, int, int, float]] = []
            first, row = row, row + len(ts)
            while at < len(flagged) and flagged[at] < row:
                t = ts[flagged[at] - first]
                k, conf = int(best[flagged[at]]), float(conf_all[flagged[at]])
                at += 1
                if not any(c.isalnum() for c in t[TEXT]):
                    continue
                kind = classes[k]
                if found and found[-1][0] == kind and _JOIN_GAP.fullmatch(text[found[-1][2] : t[START]]):
                    last = found[-1]
                    found[-1] = (kind, last[1], t[END], min(last[3], conf))
                else:
                    found.append((kind, t[START], t[END], conf))
            found = [_grown(text, ts, f) if f[0] == "account_number" else f for f in found]
            spans = [f for f in found if _plausible(f[0], text[f[1] : f[2]])]
            out.append(Tagged(spans, ts, p[first:row], classes))
        return out


def _grown(text: str, ts: list[Token], span: tuple[str, int, int, float]) -> tuple[str, int, int, float]:
    """An account number takes in the digit groups written next to it ("3001 2288 4419"): the tagger often
    labels one group."""
    kind, start, end, conf = span
    i = next(n for n, t in enumerate(ts) if t[START] == start)
    j = next(n for n, t in enumerate(ts) if t[END] == end)
    while (
        i > 0
        and _GROUP.fullmatch(ts[i - 1][TEXT])
        and _GROUP_GAP.fullmatch(text[ts[i - 1][END] : ts[i][START]])
    ):
        i -= 1
    while (
        j + 1 < len(ts)
        and _GROUP.fullmatch(ts[j + 1][TEXT])
        and _GROUP_GAP.fullmatch(text[ts[j][END] : ts[j + 1][START]])
    ):
        j += 1
    return kind, ts[i][START], ts[j][END], conf


_GROUP = re.compile(r"[0-9A-Z]*\d[0-9A-Z]*")
_GROUP_GAP = re.compile(r"[ -]")


@dataclass(frozen=True, slots=True)
class Tagged:
    spans: list[tuple[str, int, int, float]]
    tokens: list[Token]
    probs: np.ndarray  # tokens x classes
    classes: list[str]

    def mean(self, kind: str, start: int, end: int) -> float:
        """The mean probability of `kind` over the tokens inside start..end (0 if none)."""
        p = self._inside(kind, start, end)
        return float(p.mean()) if p.size else 0.0

    def support(self, kind: str, start: int, end: int) -> float:
        """The highest probability of `kind` among the tokens inside start..end (0 if none)."""
        p = self._inside(kind, start, end)
        return float(p.max()) if p.size else 0.0

    def _inside(self, kind: str, start: int, end: int) -> np.ndarray:
        rows = [i for i, t in enumerate(self.tokens) if t[START] >= start and t[END] <= end]
        return self.probs[rows, self.classes.index(kind)]


def _plausible(kind: str, value: str) -> bool:
    """What a span of its type must at least look like: the tagger proposes, these shapes dispose."""
    digits = sum(c.isdigit() for c in value)
    if kind == "phone":
        return 7 <= digits <= 15 and digits >= 0.6 * sum(not c.isspace() for c in value)
    if kind == "address":
        return digits >= 1 and sum(c.isalpha() for c in value) >= 3 and len(value.split()) >= 2
    if kind == "account_number":
        return digits >= 4
    return kind in ("password", "security_answer")
