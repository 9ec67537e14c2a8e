"""Listening on Mastodon: which endpoint a watch query goes to, and which statuses become events.

A query that is one hashtag (`#acme`) reads the hashtag timeline (`GET /api/v1/timelines/tag/:hashtag`,
public statuses carrying the tag, from this instance and the ones it federates with). Anything else
(a word, several words, a quoted phrase) goes to full-text search (`GET /api/v2/search?type=statuses`),
which on a real instance only finds what that instance indexes: with Elasticsearch/OpenSearch enabled,
public posts of accounts that opted in to search ("indexable", Mastodon 4.2+) plus the brand's own posts
and the posts it was mentioned in, favourited or bookmarked; without it, nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from caredesk.connectors.mastodon.content import mentions_of
from caredesk.connectors.mastodon.events import status_event
from caredesk.domain.types import InboundEvent
from caredesk.domain.watch import WatchSpec, to_search_queries

_TAG = re.compile(r"#(\w+)")


def hashtag_of(query: str) -> str | None:
    """The tag name when the query is exactly one hashtag (`#Acme` -> `Acme`), else None."""
    found = _TAG.fullmatch(query.strip())
    return found.group(1) if found else None


def cursor_key(query: str) -> str:
    """The cursor entry of a query: hashtags are case-insensitive on Mastodon, search queries are not."""
    tag = hashtag_of(query)
    return f"tag:{tag.casefold()}" if tag else f"search:{query.strip()}"


def queries_of(rules: Sequence[WatchSpec]) -> dict[str, str]:
    """Each distinct query of the rules, by cursor key, in the rules' order."""
    out: dict[str, str] = {}
    for rule in rules:
        for query in to_search_queries(rule):
            if query.strip():
                out.setdefault(cursor_key(query), query.strip())
    return out


def listen_event(status: Mapping[str, Any], own_id: str) -> InboundEvent | None:
    """A status heard by listening; None for the brand's own statuses, boosts, non-public ones and the ones
    mentioning the brand (those are care work already: `fetch` brings them from the notifications)."""
    if status.get("reblog"):
        return None
    if status.get("visibility") != "public":
        return None
    account = status.get("account")
    if isinstance(account, Mapping) and str(account.get("id")) == own_id:
        return None
    if any(m.id == own_id for m in mentions_of(status)):
        return None
    event = status_event(status, own_id, raw={"status": dict(status)})
    event.listening = True
    return event
