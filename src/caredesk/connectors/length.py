"""Per-network message length rules, and splitting a too-long reply into a thread.

`count(rule, text)` says how long `text` is in the unit the network counts in, and whether it may be sent.
`split(rule, text)` cuts a too-long text into parts that each pass `count`, for the networks where a reply
may be a thread (`allows_threads`). Rule keys are the ones a `ConnectorSpec.length_rule` names.

| rule               | unit       | limit                                                            |
|--------------------|------------|------------------------------------------------------------------|
| `x`                | weighted   | 280, twitter-text v3 (URLs 23, CJK 2, emoji 2, NFC)              |
| `x_dm`             | characters | 10,000                                                           |
| `mastodon`         | graphemes  | 500 (instances differ: pass `limit`); URLs 23, `@u@host` as `@u` |
| `bluesky`          | graphemes  | 300 graphemes and 3,000 UTF-8 bytes                              |
| `bluesky_dm`       | graphemes  | 1,000 graphemes and 10,000 UTF-8 bytes                           |
| `messenger`        | characters | 2,000                                                            |
| `instagram`        | characters | 1,000                                                            |
| `facebook_comment` | characters | 8,000                                                            |
| `email`            | characters | 100,000 (no practical limit)                                     |
| `webhook`          | characters | 20,000                                                           |

"characters" are Unicode code points (Python's `len`). An empty text is never valid: no network sends one.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

# Grapheme clusters come from the `regex` module's `\X` (UAX #29 extended grapheme clusters). It is
# maintained monthly, follows the current Unicode version (emoji ZWJ sequences, flags, skin tones, Indic
# conjuncts) and is implemented in C; the `grapheme` package has had no release since 2020 (older Unicode
# data), and `graphemeu` is a one-person fork of it.
import regex
from twitter_text import extract_urls_with_indices, parse_tweet
from twitter_text.config import config as _twitter_config

__all__ = [
    "RULES",
    "Count",
    "allows_threads",
    "count",
    "count_x",
    "graphemes",
    "split",
]

WEIGHTED: Final = "weighted"
GRAPHEMES: Final = "graphemes"
CHARACTERS: Final = "characters"

MASTODON_URL_LENGTH: Final = 23  # `characters_reserved_per_url` of /api/v2/instance


@dataclass(frozen=True, slots=True)
class Count:
    """How long a text is under one rule, in that rule's `unit`, and whether it may be sent."""

    length: int
    limit: int
    valid: bool
    unit: str  # "weighted", "graphemes" or "characters"
    # X only: twitter-text's validRangeEnd, the UTF-16 index of the last character that still fits (-1: none).
    valid_range_end: int | None = None
    # Bluesky only: the UTF-8 size, checked against a second limit besides the grapheme count.
    byte_length: int | None = None
    byte_limit: int | None = None


@dataclass(frozen=True, slots=True)
class _Rule:
    unit: str
    limit: int
    threads: bool = False
    byte_limit: int | None = None


_RULES: Final[dict[str, _Rule]] = {
    "x": _Rule(WEIGHTED, 280, threads=True),
    "x_dm": _Rule(CHARACTERS, 10_000),
    "mastodon": _Rule(GRAPHEMES, 500, threads=True),
    "bluesky": _Rule(GRAPHEMES, 300, threads=True, byte_limit=3_000),
    "bluesky_dm": _Rule(GRAPHEMES, 1_000, byte_limit=10_000),
    "messenger": _Rule(CHARACTERS, 2_000),
    "instagram": _Rule(CHARACTERS, 1_000),
    "facebook_comment": _Rule(CHARACTERS, 8_000),
    "email": _Rule(CHARACTERS, 100_000),
    "webhook": _Rule(CHARACTERS, 20_000),
}

RULES: Final[tuple[str, ...]] = tuple(_RULES)

_GRAPHEME = regex.compile(r"\X")


def _rule(rule: str) -> _Rule:
    try:
        return _RULES[rule]
    except KeyError:
        raise ValueError(f"unknown length rule {rule!r}; known rules: {', '.join(RULES)}") from None


def graphemes(text: str) -> int:
    """The number of extended grapheme clusters (user-perceived characters) in `text`."""
    return len(_GRAPHEME.findall(text))


# --- X -------------------------------------------------------------------------------------------------


def _x_config(version: int) -> dict[str, Any]:
    key = f"version{version}"
    if key not in _twitter_config:
        raise ValueError(f"unknown twitter-text config version {version}; use 1, 2 or 3")
    # The package's version1/version2 configs lack `emoji_parsing_enabled` and parse_tweet raises KeyError.
    return {"emoji_parsing_enabled": False, **_twitter_config[key]}


_X_CONFIGS: Final[dict[int, dict[str, Any]]] = {v: _x_config(v) for v in (1, 2, 3)}


def count_x(text: str, config_version: int = 3, *, limit: int | None = None) -> Count:
    """twitter-text weighted length of `text` under config v1, v2 or v3 (v3 is what X uses today).

    `limit` replaces `maxWeightedTweetLength` (280), e.g. for accounts allowed longer posts.
    """
    options = _X_CONFIGS.get(config_version) or _x_config(config_version)
    if limit is not None:
        options = {**options, "max_weighted_tweet_length": limit}
    result = parse_tweet(text, options)
    return Count(
        length=int(result.weightedLength),
        limit=int(options["max_weighted_tweet_length"]),
        valid=bool(result.valid),
        unit=WEIGHTED,
        valid_range_end=int(result.validRangeEnd),
    )


# --- Mastodon ------------------------------------------------------------------------------------------

# A remote mention `@user@domain` counts as `@user`. The shape follows Mastodon's MENTION_RE: not preceded
# by a word character, `/` or `=`; the domain ends on a word character (so a sentence's final dot is not
# part of it).
_REMOTE_MENTION = regex.compile(r"(?<![=/\w])(@\w+(?:[.\-]+\w+)*)@\w+(?:[.\-]+\w+)*")


def _mastodon_countable(text: str) -> str:
    """`text` as Mastodon counts it: each URL as 23 placeholder characters, remote mentions as `@user`.

    URLs are found with twitter-text's extractor, protocol required: Mastodon's own StatusLengthValidator
    uses the same extractor, so a "URL" the server would not link (no known TLD, e.g. `http://localhost/…`)
    counts in full here too, which errs on the safe side. Mentions inside URLs are not rewritten.
    """
    pieces: list[str] = []
    pos = 0
    for url in extract_urls_with_indices(text, False):
        start, end = url["indices"]
        pieces.append(_REMOTE_MENTION.sub(r"\1", text[pos:start]))
        pieces.append("x" * MASTODON_URL_LENGTH)
        pos = end
    pieces.append(_REMOTE_MENTION.sub(r"\1", text[pos:]))
    return "".join(pieces)


# --- count ---------------------------------------------------------------------------------------------


def count(rule: str, text: str, *, limit: int | None = None) -> Count:
    """Length of `text` under `rule` (see the module docstring), and whether it may be sent.

    `limit` overrides the rule's limit (for Mastodon, the instance's `max_characters`; for X the weighted
    limit; for Bluesky the grapheme limit, while the byte limit stays).
    """
    spec = _rule(rule)
    if rule == "x":
        return count_x(text, limit=limit)
    max_length = spec.limit if limit is None else limit
    if rule == "mastodon":
        length = graphemes(_mastodon_countable(text))
    elif spec.unit == GRAPHEMES:
        length = graphemes(text)
    else:
        length = len(text)
    valid = 0 < length <= max_length
    byte_length: int | None = None
    if spec.byte_limit is not None:
        byte_length = len(text.encode("utf-8"))
        valid = valid and byte_length <= spec.byte_limit
    return Count(
        length=length,
        limit=max_length,
        valid=valid,
        unit=spec.unit,
        byte_length=byte_length,
        byte_limit=spec.byte_limit,
    )


def allows_threads(rule: str) -> bool:
    """True when a too-long reply under `rule` may go out as a thread of numbered parts."""
    return _rule(rule).threads


# --- split ---------------------------------------------------------------------------------------------

# Scripts written without spaces between words: a line may break between any two of their characters.
_CJK = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Bopomofo}\u3000-\u303f\uff01-\uff65]")
# Kinsoku: characters a part must not start with, and ones it must not end with.
_NO_START: Final = frozenset(
    "、。，．・：；？！ー」』）］｝〕〉》】〙〗〟’”｠»ゝゞヽヾぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶ々〻‐゠–〜～…‥"
    ",.!?:;)]}%"
)
_NO_END: Final = frozenset("「『（［｛〔〈《【〘〖〝‘“｟«([{")
_SENTENCE_END: Final = frozenset(".!?。！？")
_CLOSERS: Final = frozenset("\"')]}»”’」』）】〕〉》")
_WIDE_SENTENCE_END: Final = frozenset("。！？")  # ends a sentence even with no space after it
_ABBREVIATIONS: Final = frozenset({"e.g", "i.e", "mr", "mrs", "ms", "dr", "st", "vs"})
# A URL's extent, for "never cut inside a URL": the scheme and everything up to whitespace or CJK
# punctuation (IRIs may carry ideographs in their path), less trailing sentence punctuation.
_URL_RUN = regex.compile(r"(?i)(?<![\w@])https?://[^\s\u3000-\u303f\uff01\uff0c\uff0e\uff1f]+")
_URL_TRAILING: Final = ".,:;!?'\"*"

# A sentence cut is preferred to the farthest word cut when it keeps at least this share of the part.
_SENTENCE_MIN_SHARE: Final = 0.5
_MAX_NUMBERING_ROUNDS: Final = 8


@dataclass(frozen=True, slots=True)
class _Cut:
    end: int  # the part ends here (exclusive)
    resume: int  # the next part starts here (whitespace between end and resume is dropped)
    sentence: bool  # a sentence or paragraph ends at `end`


def _url_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for match in _URL_RUN.finditer(text):
        start, end = match.span()
        while end > start and (
            text[end - 1] in _URL_TRAILING or (text[end - 1] in ")]}" and _unbalanced_closer(text[start:end]))
        ):
            end -= 1
        spans.append((start, end))
    # twitter-text also finds URLs without a scheme ("example.com/help").
    for url in extract_urls_with_indices(text):
        start, end = url["indices"]
        spans.append((int(start), int(end)))
    return spans


def _unbalanced_closer(url: str) -> bool:
    pairs = {")": "(", "]": "[", "}": "{"}
    closer = url[-1]
    return url.count(closer) > url.count(pairs[closer])


def _inside(position: int, spans: Sequence[tuple[int, int]]) -> bool:
    return any(start < position < end for start, end in spans)


def _ends_sentence(text: str, end: int) -> bool:
    """True when the text before `end` finishes a sentence (closing quotes and brackets may follow)."""
    i = end - 1
    while i >= 0 and text[i] in _CLOSERS:
        i -= 1
    if i < 0 or text[i] not in _SENTENCE_END:
        return False
    if text[i] == ".":
        word_start = i
        while word_start > 0 and not text[word_start - 1].isspace():
            word_start -= 1
        if text[word_start:i].lower() in _ABBREVIATIONS:
            return False
    return True


def _cuts(text: str) -> list[_Cut]:
    """Every place `text` may be cut between parts, in order: whitespace runs, and between characters of
    scripts written without spaces (CJK), never inside a URL or a grapheme cluster."""
    spans = _url_spans(text)
    boundaries = {match.start() for match in _GRAPHEME.finditer(text)}
    cuts: list[_Cut] = []
    n = len(text)
    i = 0
    while i < n:
        if text[i].isspace():
            j = i
            while j < n and text[j].isspace():
                j += 1
            if i > 0 and j < n:
                paragraph = "\n" in text[i:j]
                cuts.append(_Cut(i, j, paragraph or _ends_sentence(text, i)))
            i = j
            continue
        if (
            i > 0
            and not text[i - 1].isspace()
            and i in boundaries
            and (_CJK.match(text[i - 1]) or _CJK.match(text[i]))
            and text[i] not in _NO_START
            and text[i - 1] not in _NO_END
            and not _inside(i, spans)
        ):
            j = i - 1
            while j > 0 and text[j] in _CLOSERS:
                j -= 1
            cuts.append(_Cut(i, i, text[j] in _WIDE_SENTENCE_END or _ends_sentence(text, i)))
        i += 1
    return cuts


def _last_fitting(candidates: Sequence[int], fits: Callable[[int], bool]) -> int | None:
    """Index of the last candidate that fits, assuming fitting is monotone (it is up to URL detection
    quirks, and every part is checked again before it is kept). Gallops, so a part costs O(part length)."""
    if not candidates or not fits(candidates[0]):
        return None
    lo, step, hi = 0, 1, len(candidates)
    while lo + step < len(candidates):
        if fits(candidates[lo + step]):
            lo += step
            step *= 2
        else:
            hi = lo + step
            break
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(candidates[mid]):
            lo = mid
        else:
            hi = mid
    return lo


def _numbering(index: int, total: int) -> str:
    return f" {index}/{total}"


def _split_once(
    rule: str,
    text: str,
    cuts: Sequence[_Cut],
    spans: Sequence[tuple[int, int]],
    total: int | None,
    limit: int | None,
) -> list[str]:
    """Greedy split; `total` is the part count assumed for the numbering suffix (None: no numbering)."""
    parts: list[str] = []
    n = len(text)
    # The end of the text is the last place a part may end; everything before it is tried first.
    cuts = [*cuts, _Cut(len(text.rstrip()), n, sentence=True)]
    cut_ends = [cut.end for cut in cuts]
    start = 0
    while start < n and text[start].isspace():
        start += 1
    while start < n:
        suffix = _numbering(len(parts) + 1, total) if total is not None else ""

        def fits(end: int, start: int = start, suffix: str = suffix) -> bool:
            return count(rule, text[start:end] + suffix, limit=limit).valid

        first = bisect.bisect_right(cut_ends, start)
        candidates = cuts[first:]
        best = _last_fitting(cut_ends[first:], fits)
        if best is not None:
            chosen = candidates[best]
            floor = start + (chosen.end - start) * _SENTENCE_MIN_SHARE
            for cut in reversed(candidates[:best] if best < len(candidates) - 1 else []):
                if cut.end < floor:
                    break
                if cut.sentence and fits(cut.end):
                    chosen = cut
                    break
            parts.append(text[start : chosen.end])
            start = chosen.resume
            continue
        # Last resort: the next word alone does not fit in a part, so cut it between grapheme clusters,
        # outside URLs where possible.
        word_end = candidates[0].end
        inner = [m.end() for m in _GRAPHEME.finditer(text, start, word_end)][:-1]
        outside_urls = [pos for pos in inner if not _inside(pos, spans)]
        index = _last_fitting(outside_urls, fits)
        end = outside_urls[index] if index is not None else None
        if end is None:
            index = _last_fitting(inner, fits)
            end = inner[index] if index is not None else None
        if end is None:
            snippet = text[start : start + 20]
            raise ValueError(f"text cannot be split under rule {rule!r}: nothing fits from {snippet!r} on")
        parts.append(text[start:end])
        start = end
    return parts


def split(rule: str, text: str, *, numbered: bool = True, limit: int | None = None) -> list[str]:
    """Cut `text` into a thread of parts that each pass `count(rule, part)`.

    A text that already fits comes back as `[text]`, unnumbered. Otherwise parts are filled greedily and
    cut, by preference, at the end of a sentence (`.`, `!`, `?` followed by whitespace; the ideographic
    full stop and fullwidth `!`/`?` anywhere; or a line break) when that keeps at least half of what the
    part could hold, else at the last word boundary that fits (whitespace, or between two CJK characters,
    respecting kinsoku). A cut never falls inside a URL or a grapheme cluster. The whitespace at a cut is
    dropped, so no part starts or ends with it; text inside a part is kept as is.

    With `numbered`, each part gets " i/N" appended, and that suffix counts towards the part's length.

    Last resort: a single word (or URL) longer than a whole part cannot be kept whole, so it alone is
    hard-split between grapheme clusters (outside URLs if at all possible). Only then may a part start or
    end mid-word.

    Raises ValueError for a rule that does not allow threads, an empty text, or a text containing
    something that makes any part invalid (e.g. U+FFFE on X).
    """
    if not allows_threads(rule):
        raise ValueError(
            f"rule {rule!r} does not allow threads: its messages cannot be split into parts; "
            "shorten the text instead"
        )
    if count(rule, text, limit=limit).valid:
        return [text]
    if not text.strip():
        raise ValueError("cannot split an empty text")
    cuts = _cuts(text)
    spans = _url_spans(text)
    if not numbered:
        return _split_once(rule, text, cuts, spans, None, limit)
    # The suffix " i/N" needs N; its width only depends on N's digits, so a few rounds settle it.
    total = 1
    parts: list[str] = []
    for _ in range(_MAX_NUMBERING_ROUNDS):
        parts = _split_once(rule, text, cuts, spans, total, limit)
        if len(parts) == total:
            break
        total = len(parts)
    else:
        total = len(parts)
    numbered_parts = [part + _numbering(i, total) for i, part in enumerate(parts, start=1)]
    for part in numbered_parts:
        if not count(rule, part, limit=limit).valid:  # only if the rounds did not settle
            raise ValueError(f"text cannot be split under rule {rule!r} into valid numbered parts")
    return numbered_parts
