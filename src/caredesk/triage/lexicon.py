"""The project's multilingual sentiment and anger lexicon (`corpus/lexicon.tsv`, written for caredesk).

Terms are exact words, stems ending in `*`, short phrases, emoji or, for Chinese and Japanese, character
strings found anywhere. Negators flip the polarity of the next three words; intensifiers scale the next.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from caredesk.triage.text import words

LEXICON_PATH = Path(__file__).parent / "corpus" / "lexicon.tsv"
_SUBSTRING_LANGS = frozenset({"zh", "ja"})
_CLAUSE = re.compile(r"[,.;:!?¿¡。，！？、]+|\s-\s|\bbut\b|\baber\b|\bmais\b|\bpero\b|\bmen\b|\bma\b")
N_FEATURES = 8  # see Lexicon.score


@dataclass(slots=True)
class _Table:
    exact: dict[str, tuple[int, int]] = field(default_factory=dict)
    stems: dict[str, tuple[int, int]] = field(default_factory=dict)
    phrases: dict[str, tuple[int, int]] = field(default_factory=dict)
    substrings: dict[str, tuple[int, int]] = field(default_factory=dict)
    negators: set[str] = field(default_factory=set)
    intensifiers: set[str] = field(default_factory=set)
    stem_lengths: tuple[int, ...] = ()
    phrase_lengths: tuple[int, ...] = ()
    phrase_starts: frozenset[str] = frozenset()
    substring_rx: re.Pattern[str] | None = None
    _seen: dict[str, tuple[int, int] | None] = field(default_factory=dict, compare=False, repr=False)

    def word(self, token: str) -> tuple[int, int] | None:
        """The value of one word: an exact term, else the longest stem it starts with. Remembered, since
        most words of a stream are words seen before (at most 200,000 of them per language)."""
        try:
            return self._seen[token]
        except KeyError:
            pass
        value = self.exact.get(token)
        if value is None:
            for n in self.stem_lengths:
                if n <= len(token) and (hit := self.stems.get(token[:n])) is not None:
                    value = hit
                    break
        if len(self._seen) < 200_000:
            self._seen[token] = value
        return value


class Lexicon:
    def __init__(self, path: Path = LEXICON_PATH) -> None:
        self.tables: dict[str, _Table] = {}
        with path.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                lang, term = row["lang"], row["term"]
                table = self.tables.setdefault(lang, _Table())
                if term.startswith("NEG:"):
                    table.negators.add(term[4:].lower())
                    continue
                if term.startswith("INT:"):
                    table.intensifiers.add(term[4:].lower())
                    continue
                value = (int(row["polarity"]), int(row["anger"]))
                if lang in _SUBSTRING_LANGS or lang == "*" or not any(c.isalnum() for c in term):
                    table.substrings[term if lang == "*" else term.lower()] = value
                elif term.endswith("*"):
                    table.stems[term[:-1].lower()] = value
                elif " " in term:
                    table.phrases[" ".join(words(term.lower()))] = value
                else:
                    table.exact[term.lower()] = value
        for table in self.tables.values():
            table.stem_lengths = tuple(sorted({len(s) for s in table.stems}, reverse=True))
            table.phrase_lengths = tuple(sorted({p.count(" ") + 1 for p in table.phrases}, reverse=True))
            table.phrase_starts = frozenset(p.split(" ", 1)[0] for p in table.phrases)
            if table.substrings:  # one pass in C finds which of the substring terms occur at all
                terms = sorted(table.substrings, key=len, reverse=True)
                table.substring_rx = re.compile("|".join(map(re.escape, terms)))
        self.emoji = self.tables.pop("*", _Table())

    def score(self, text: str, language: str | None) -> list[float]:
        """[positive sum, negative sum, positive hits, negative hits, anger sum, negated hits,
        intensified hits, 1 if the language has a table] for a cleaned text."""
        pos = neg = npos = nneg = anger = negated = intense = 0.0
        lowered = text.lower()

        def add(value: tuple[int, int], flip: bool, boost: bool) -> None:
            nonlocal pos, neg, npos, nneg, anger, negated, intense
            polarity = float(-value[0] if flip else value[0])
            if boost:
                polarity *= 1.5
                intense += 1
            if flip:
                negated += 1
            if polarity > 0:
                pos += polarity
                npos += 1
            elif polarity < 0:
                neg -= polarity
                nneg += 1
            anger += value[1]

        for term in _present(self.emoji, text):
            add(self.emoji.substrings[term], False, False)
        table = self.tables.get(language or "")
        if table is not None:
            for term in _present(table, lowered):
                add(table.substrings[term], False, False)
            for clause in _CLAUSE.split(lowered):  # a negation reaches no further than its clause
                tokens = words(clause)
                flip_left = 0
                boost = False
                skip_to = 0
                for i, tok in enumerate(tokens):
                    if i < skip_to:
                        continue
                    if tok in table.negators:
                        flip_left = 3
                        continue
                    if tok in table.intensifiers:
                        boost = True
                        continue
                    value: tuple[int, int] | None = None
                    for n in table.phrase_lengths if tok in table.phrase_starts else ():  # longest wins
                        if i + n <= len(tokens) and (hit := table.phrases.get(" ".join(tokens[i : i + n]))):
                            value, skip_to = hit, i + n
                            break
                    if value is None:
                        value = table.word(tok)
                    if value is not None:
                        add(value, flip_left > 0, boost)
                    boost = False
                    flip_left = max(0, flip_left - 1)
        return [pos, neg, npos, nneg, anger, negated, intense, 1.0 if table is not None else 0.0]


def _present(table: _Table, text: str) -> set[str]:
    """The table's substring terms that occur in the text (each counted once, as before)."""
    if table.substring_rx is None or not table.substring_rx.search(text):
        return set()
    return {t for t in table.substrings if t in text}


@cache
def default_lexicon() -> Lexicon:
    return Lexicon()
