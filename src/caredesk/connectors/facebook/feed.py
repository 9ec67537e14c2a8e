"""Facebook Page comments: `feed` webhook changes, and polling `GET /{page-id}/feed` as a safety net.

Ids: a comment's external id is its `comment_id`; it answers its `parent_id` (a comment, or the post for a
top-level comment), else the post. A visitor's post on the Page is a message too (external id `post_id`).
The Page's own posts are not conversations and are skipped; the Page's own replies to comments (`from.id`
= Page id) are outbound messages, so replies written in Facebook itself show in the conversation. The
Page's own top-level comments under a post are skipped: they answer no customer message, and would
otherwise open a conversation of the brand talking to itself.

Verbs: `add` is a new message. `edited` carries the same comment id: the core deduplicates on external id,
so an edit of a comment already stored is not re-ingested (the stored text stays); an edit of one never seen
is ingested with its new text. `remove` (and hide/unhide/block) is ignored: nothing is deleted from the desk.

Polling cursor (a JSON dict): `since` = newest `created_time` seen (unix seconds); `seen` = {id: created}
of the items near it (so the overlap re-read below brings no duplicate); `walk` = where an unfinished walk
over the feed's pages stands (`after` cursor, the walk's `since`, the newest time it saw). Each fetch reads
one page of posts (with every comment of each post), stores its events and the cursor together, and says
`more` until the feed has no `next`. A new walk asks for posts created up to 7 days before `since`, because
a new comment may arrive on an older post; comments older than `since` minus a 10-minute overlap are taken
as already read. Comments on posts older than 7 days therefore come only through webhooks.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Final

from caredesk.connectors.facebook.graph import (
    GraphClient,
    from_epoch,
    from_graph_time,
    next_after,
    optional_id,
    str_id,
)
from caredesk.domain.errors import ConnectorError, InvalidInput
from caredesk.domain.types import Author, Direction, InboundEvent

log = logging.getLogger(__name__)

POST_ITEMS: Final = frozenset({"post", "status", "photo", "video", "share"})
COMMENT_FIELDS: Final = "id,message,from,created_time,parent"
# filter(stream): every comment, replies included, oldest first (the default `toplevel` hides replies).
FEED_FIELDS: Final = f"id,message,created_time,from,comments.filter(stream).limit(100){{{COMMENT_FIELDS}}}"
FEED_PAGE: Final = 25
POST_LOOKBACK: Final = timedelta(days=7)
OVERLAP_SECONDS: Final = 600
SEEN_LIMIT: Final = 5000
COMMENT_PAGES_PER_POST: Final = 50


def _author(value: object, fallback: str) -> Author:
    if isinstance(value, dict):
        author_id = optional_id(value.get("id"))
        if author_id:
            name = value.get("name")
            return Author(id=author_id, name=name if isinstance(name, str) else None)
    # Graph omits `from` when the token may not see the person (no MODERATE task on the Page).
    return Author(id=f"unknown:{fallback}", name="Facebook user")


def _attachment_note(value: dict[str, Any]) -> str:
    for key in ("photo", "video", "link"):
        url = value.get(key)
        if isinstance(url, str) and url:
            return f"[{key}: {url}]"
    return "[attachment]"


def feed_change_event(value: dict[str, Any], *, page_id: str, entry_time: object) -> InboundEvent | None:
    """One `feed` change, or None when it is not a message (reactions, removals, the Page's own posts)."""
    item, verb = value.get("item"), value.get("verb")
    if verb not in ("add", "edited"):
        return None
    top_level = False
    if item == "comment":
        external_id = str_id(value.get("comment_id"), "feed change comment_id")
        post_id = optional_id(value.get("post_id"))
        parent_id = optional_id(value.get("parent_id"))
        in_reply_to = parent_id or post_id
        top_level = parent_id is None or parent_id == post_id
    elif item in POST_ITEMS:
        external_id = str_id(value.get("post_id"), "feed change post_id")
        in_reply_to = None
    else:
        return None
    author = _author(value.get("from"), external_id)
    own = author.id == page_id
    if own and (item != "comment" or top_level):
        return None
    text = value.get("message")
    created = value.get("created_time") or entry_time
    return InboundEvent(
        external_id=external_id,
        created_at=from_epoch(created),
        text=text if isinstance(text, str) and text.strip() else _attachment_note(value),
        author=Author(id=page_id) if own else author,
        direction=Direction.OUT if own else Direction.IN,
        public=True,
        in_reply_to=in_reply_to,
        raw=value,
    )


def change_events(entry: dict[str, Any], *, page_id: str) -> list[InboundEvent]:
    changes = entry.get("changes")
    if changes is None:
        return []
    if not isinstance(changes, list):
        raise InvalidInput("entry.changes is not a list")
    events = []
    for change in changes:
        if not isinstance(change, dict):
            raise InvalidInput("entry.changes holds something that is not an object")
        if change.get("field") != "feed":
            continue
        value = change.get("value")
        if not isinstance(value, dict):
            raise InvalidInput("a feed change has no value object")
        event = feed_change_event(value, page_id=page_id, entry_time=entry.get("time"))
        if event is not None:
            events.append(event)
    return events


# --- polling -------------------------------------------------------------------------------------------


def _read_post(post: dict[str, Any], page_id: str) -> tuple[str, InboundEvent | None]:
    post_id = str_id(post.get("id"), "feed post id")
    author = _author(post.get("from"), post_id)
    if author.id == page_id:
        return post_id, None
    text = post.get("message")
    return post_id, InboundEvent(
        external_id=post_id,
        created_at=from_graph_time(post.get("created_time")),
        text=text if isinstance(text, str) and text.strip() else "[post without text]",
        author=author,
        public=True,
        raw=post,
    )


def _read_comment(comment: dict[str, Any], post_id: str, page_id: str) -> InboundEvent | None:
    comment_id = str_id(comment.get("id"), "comment id")
    author = _author(comment.get("from"), comment_id)
    parent = comment.get("parent")
    parent_id = optional_id(parent.get("id")) if isinstance(parent, dict) else None
    own = author.id == page_id
    if own and parent_id is None:
        return None
    text = comment.get("message")
    return InboundEvent(
        external_id=comment_id,
        created_at=from_graph_time(comment.get("created_time")),
        text=text if isinstance(text, str) and text.strip() else "[comment without text]",
        author=Author(id=page_id) if own else author,
        direction=Direction.OUT if own else Direction.IN,
        public=True,
        in_reply_to=parent_id or post_id,
        raw={**comment, "post_id": post_id},
    )


def _post_comments(client: GraphClient, post: dict[str, Any], post_id: str) -> list[dict[str, Any]]:
    edge = post.get("comments")
    comments = [c for c in (edge.get("data") or []) if isinstance(c, dict)] if isinstance(edge, dict) else []
    after = next_after(edge)
    for _ in range(COMMENT_PAGES_PER_POST):
        if after is None:
            break
        page = client.get(
            f"{post_id}/comments",
            {"filter": "stream", "fields": COMMENT_FIELDS, "limit": 100, "after": after},
        )
        comments.extend(c for c in (page.get("data") or []) if isinstance(c, dict))
        after = next_after(page)
    return comments


def fetch_feed(
    client: GraphClient, page_id: str, cursor: dict[str, Any], now: datetime
) -> tuple[list[InboundEvent], dict[str, Any], bool]:
    """One page of the feed walk: (events, new cursor, more)."""
    since = cursor.get("since")
    since = int(since) if isinstance(since, int | float) and not isinstance(since, bool) else None
    seen: dict[str, int] = {
        str(k): int(v) for k, v in (cursor.get("seen") or {}).items() if isinstance(v, int | float)
    }
    walk = cursor.get("walk")
    if not isinstance(walk, dict):
        start = since if since is not None else int(now.timestamp())
        walk = {"after": None, "since": start - int(POST_LOOKBACK.total_seconds()), "newest": since or 0}
    floor = since - OVERLAP_SECONDS if since is not None else int(walk["since"])
    params: dict[str, str | int] = {"fields": FEED_FIELDS, "since": int(walk["since"]), "limit": FEED_PAGE}
    if walk.get("after"):
        params["after"] = str(walk["after"])
    try:
        page = client.get(f"{page_id}/feed", params)
    except ConnectorError as exc:
        if exc.retryable or not walk.get("after"):
            raise
        # A paging cursor Graph no longer accepts: start the walk again (what it found is in `seen`).
        log.warning("feed cursor refused (%s); restarting the walk from the newest posts", exc.message)
        walk = {**walk, "after": None}
        params.pop("after")
        page = client.get(f"{page_id}/feed", params)
    posts = page.get("data")
    if not isinstance(posts, list):
        raise InvalidInput("the feed answer has no data list")
    events: list[InboundEvent] = []
    newest = int(walk.get("newest") or 0)
    for post in posts:
        if not isinstance(post, dict):
            continue
        post_id, post_event = _read_post(post, page_id)
        found = [post_event] if post_event else []
        for comment in _post_comments(client, post, post_id):
            event = _read_comment(comment, post_id, page_id)
            if event is not None:
                found.append(event)
        for event in found:
            created = int(event.created_at.timestamp())
            if created < floor or event.external_id in seen:
                continue
            seen[event.external_id] = created
            newest = max(newest, created)
            events.append(event)
    after = next_after(page)
    if after is not None:
        walk = {**walk, "after": after, "newest": newest}
        return events, {"since": since, "seen": _bounded(seen), "walk": walk}, True
    new_since = max(since or 0, newest) or since
    if new_since is not None:
        seen = {k: v for k, v in seen.items() if v >= new_since - OVERLAP_SECONDS}
    return events, {"since": new_since, "seen": _bounded(seen)}, False


def _bounded(seen: dict[str, int]) -> dict[str, int]:
    """Keep the newest ids only: a dropped id can at worst be fetched again, and the core drops repeats."""
    if len(seen) <= SEEN_LIMIT:
        return seen
    return dict(sorted(seen.items(), key=lambda kv: kv[1])[-SEEN_LIMIT:])
