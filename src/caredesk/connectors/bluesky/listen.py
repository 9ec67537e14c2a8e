"""Listening on Bluesky: watch rules -> `app.bsky.feed.searchPosts` queries -> listening events.

Each term of a rule (`to_search_queries`: a keyword, or a phrase kept in quotes) is one query with
`sort=latest`. A rule with exactly one language adds `lang`; the same term wanted without a language
restriction by another rule is searched once, without `lang` (the search may be coarser than the rules,
never narrower: the pipeline filters again with `matches`). Results are read newest first, page by page,
down to what the previous watch of that query saw (`walk`), keyed by the AppView's sort time: the earlier
of the post's `createdAt` and `indexedAt`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from caredesk.connectors.bluesky.parse import (
    POST_COLLECTION,
    _author,
    _created_at,
    _language,
    _threading,
    format_time,
    parse_time,
)
from caredesk.domain.types import InboundEvent
from caredesk.domain.watch import WatchSpec, to_search_queries


def plan(rules: Sequence[WatchSpec]) -> dict[str, tuple[str, str | None]]:
    """The searches to run: cursor key -> (q, lang). Sorted, deduplicated regardless of case; a term wanted
    in all languages by any rule is searched without `lang`."""
    wanted: dict[str, set[str | None]] = {}
    for rule in rules:
        lang = rule.languages[0] if len(rule.languages) == 1 else None
        for query in to_search_queries(rule):
            q = " ".join(query.split()).casefold()  # the search ignores case: one query per term
            if q:
                wanted.setdefault(q, set()).add(lang)
    out: dict[str, tuple[str, str | None]] = {}
    for q in sorted(wanted):
        langs = wanted[q]
        if None in langs:
            out[q] = (q, None)
        else:
            for lang in sorted(x for x in langs if x is not None):
                out[f"{q} lang:{lang}"] = (q, lang)
    return out


def sort_key(post: dict[str, Any]) -> tuple[str, str] | None:
    """(sort time, uri) of a postView: the earlier of createdAt and indexedAt, as the AppView sorts."""
    uri, indexed_at = post.get("uri"), post.get("indexedAt")
    if not isinstance(uri, str) or not isinstance(indexed_at, str):
        return None
    indexed = parse_time(indexed_at)
    record = post.get("record")
    written = parse_time(record.get("createdAt")) if isinstance(record, dict) else None
    if indexed is not None and written is not None and written < indexed:
        return format_time(written), uri
    return indexed_at, uri


def search_event(post: dict[str, Any], own_did: str) -> InboundEvent | None:
    """A searchPosts postView as a public listening event; None for the brand's own posts and for
    anything that is not a readable post."""
    record = post.get("record")
    uri = post.get("uri")
    author = _author(post.get("author"))
    indexed = parse_time(post.get("indexedAt"))
    if not isinstance(record, dict) or not isinstance(uri, str) or author is None or indexed is None:
        return None
    if author.id == own_did:
        return None
    if record.get("$type", POST_COLLECTION) != POST_COLLECTION or not isinstance(record.get("text"), str):
        return None
    in_reply_to, references = _threading(record)
    return InboundEvent(
        external_id=uri,
        created_at=_created_at(record, indexed),
        text=record["text"],
        author=author,
        public=True,
        in_reply_to=in_reply_to,
        references=references,
        language=_language(record),
        listening=True,
        raw=post,
    )
