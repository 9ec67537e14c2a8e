"""Watch rules (listening): what a brand wants to hear about when nobody @-mentions it.

A rule is keywords (any of), exact phrases (any of), exclusions (none of) and languages (any of; empty
means all). `matches` is the product's own reading of a rule, applied to everything listening brings in;
the `to_*` functions turn a rule into each network's listening mechanism, which may be coarser (the
product filters again with `matches`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from caredesk.domain.errors import InvalidInput

X_RULE_MAX = 1024


@dataclass(frozen=True, slots=True)
class WatchSpec:
    keywords: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    exclusions: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.keywords and not self.phrases:
            raise InvalidInput("a watch rule needs at least one keyword or phrase")
        for word in (*self.keywords, *self.exclusions):
            if not word.strip() or len(word) > 100:
                raise InvalidInput("keywords and exclusions are 1 to 100 characters")
        for phrase in self.phrases:
            if len(phrase.split()) < 2 or len(phrase) > 200:
                raise InvalidInput("a phrase is 2 or more words, at most 200 characters")
        for lang in self.languages:
            if not re.fullmatch(r"[a-z]{2}", lang):
                raise InvalidInput(f"language {lang!r} is not an ISO 639-1 code")


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _contains_term(haystack: str, term: str) -> bool:
    """Whole words for letters and digits (so 'acme' does not match 'acmeville'); scripts written
    without spaces (CJK) match as substrings."""
    needle = _fold(term.strip())
    if not needle:
        return False
    if any(unicodedata.east_asian_width(ch) in ("W", "F") for ch in needle):
        return needle in haystack
    return re.search(rf"(?<![\w]){re.escape(needle)}(?![\w])", haystack) is not None


def matches(spec: WatchSpec, text: str, language: str | None) -> bool:
    if spec.languages and language not in spec.languages:
        return False
    haystack = _fold(text)
    if any(_contains_term(haystack, ex) for ex in spec.exclusions):
        return False
    return any(_contains_term(haystack, term) for term in (*spec.keywords, *spec.phrases))


def _x_term(term: str) -> str:
    """A bare word, @handle, #tag or $cashtag stays as it is; anything else is quoted (exact match)."""
    term = term.replace('"', "").strip()
    return term if re.fullmatch(r"[@#$]?\w+", term) else f'"{term}"'


def to_x_rule(spec: WatchSpec) -> str:
    """An X filtered-stream rule: (terms OR ...) -exclusions (lang:xx OR ...) -is:retweet."""
    terms = [_x_term(k) for k in spec.keywords] + [_x_term(p) for p in spec.phrases]
    parts = ["(" + " OR ".join(terms) + ")" if len(terms) > 1 else terms[0]]
    parts += [f"-{_x_term(e)}" for e in spec.exclusions]
    if spec.languages:
        langs = [f"lang:{lang}" for lang in spec.languages]
        parts.append("(" + " OR ".join(langs) + ")" if len(langs) > 1 else langs[0])
    parts.append("-is:retweet")
    rule = " ".join(parts)
    if len(rule) > X_RULE_MAX:
        raise InvalidInput(f"this watch rule is {len(rule)} characters as an X rule; X allows {X_RULE_MAX}")
    return rule


def to_search_queries(spec: WatchSpec) -> list[str]:
    """Plain search queries, one per term, for networks whose search takes one term or phrase at a time
    (Mastodon statuses search, Bluesky searchPosts); exclusions and languages are applied by `matches`."""
    return [*spec.keywords, *(f'"{p}"' for p in spec.phrases)]
