"""Instagram comments from `comments` webhook changes.

A comment's external id is its `id`; it answers its `parent_id` (a reply answers a top-level comment), else
the media it was left on (`media.id`). The author is `from.id` (stable) with `from.username` as handle. The
account's own replies (`from.id` = the Instagram account id) are outbound messages; its own top-level
comments on its media answer no one and are skipped.
"""

from __future__ import annotations

from typing import Any

from caredesk.connectors.facebook.graph import from_epoch, optional_id, str_id
from caredesk.domain.errors import InvalidInput
from caredesk.domain.types import Author, Direction, InboundEvent


def comment_event(value: dict[str, Any], *, own_id: str, entry_time: object) -> InboundEvent | None:
    comment_id = str_id(value.get("id"), "comment id")
    author = value.get("from")
    if not isinstance(author, dict):
        raise InvalidInput("an Instagram comment has no 'from' object")
    author_id = str_id(author.get("id"), "comment from.id")
    username = author.get("username")
    media = value.get("media")
    media_id = optional_id(media.get("id")) if isinstance(media, dict) else None
    own = author_id == own_id
    parent_id = optional_id(value.get("parent_id"))
    if own and parent_id is None:
        return None  # the account commenting on its own media answers no one
    text = value.get("text")
    created = value.get("timestamp") or entry_time
    return InboundEvent(
        external_id=comment_id,
        created_at=from_epoch(created),
        text=text if isinstance(text, str) and text.strip() else "[comment without text]",
        author=Author(id=own_id)
        if own
        else Author(id=author_id, handle=username if isinstance(username, str) and username else None),
        direction=Direction.OUT if own else Direction.IN,
        public=True,
        in_reply_to=parent_id or media_id,
        raw=value,
    )


def change_events(entry: dict[str, Any], *, own_id: str) -> list[InboundEvent]:
    changes = entry.get("changes")
    if changes is None:
        return []
    if not isinstance(changes, list):
        raise InvalidInput("entry.changes is not a list")
    events = []
    for change in changes:
        if not isinstance(change, dict):
            raise InvalidInput("entry.changes holds something that is not an object")
        if change.get("field") != "comments":  # mentions, story_insights, live_comments...: not handled
            continue
        value = change.get("value")
        if not isinstance(value, dict):
            raise InvalidInput("a comments change has no value object")
        event = comment_event(value, own_id=own_id, entry_time=entry.get("time"))
        if event is not None:
            events.append(event)
    return events
