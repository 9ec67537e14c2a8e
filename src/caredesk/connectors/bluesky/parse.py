"""Bluesky payloads -> InboundEvents: notifications (mentions, replies, quotes), the brand's own replies
from its author feed, and direct messages from the chat log.

A post's id is its `at://` URI. A reply's `record.reply` holds strong references (uri + cid) to its parent
and to the thread's root; the whole notification is kept in `raw`, so those references stay available.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from caredesk.domain.types import Author, Direction, InboundEvent

POST_COLLECTION = "app.bsky.feed.post"
LOG_CREATE_MESSAGE = "chat.bsky.convo.defs#logCreateMessage"
MESSAGE_VIEW = "chat.bsky.convo.defs#messageView"
# A post's createdAt is set by the client: trusted only when it is at most this much older than when the
# network indexed it (backdated imports and wrong clocks fall back to indexedAt).
MAX_CLIENT_SKEW = timedelta(hours=1)

_FRACTION = re.compile(r"(\.\d{6})\d+")
_POST_URI = re.compile(r"^at://[^/\s]+/app\.bsky\.feed\.post/[^/\s]+$")


def obj(value: Any) -> dict[str, Any]:
    """`value` if it is a JSON object, else an empty one (payloads are read defensively)."""
    return value if isinstance(value, dict) else {}


def parse_time(value: Any) -> datetime | None:
    """An AT Protocol datetime (ISO 8601 with a zone, up to nanoseconds) as aware UTC, or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(_FRACTION.sub(r"\1", value.strip()))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_time(value: datetime) -> str:
    """The form Bluesky clients write: UTC, milliseconds, a trailing Z."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def is_post_uri(value: str | None) -> bool:
    return bool(value) and _POST_URI.match(value or "") is not None


def strong_ref(value: Any) -> dict[str, str] | None:
    """`{"uri", "cid"}` when `value` is a valid strong reference to a post."""
    if not isinstance(value, dict):
        return None
    uri, cid = value.get("uri"), value.get("cid")
    if isinstance(uri, str) and isinstance(cid, str) and uri.startswith("at://") and cid:
        return {"uri": uri, "cid": cid}
    return None


def _author(profile: Any) -> Author | None:
    if not isinstance(profile, dict) or not isinstance(profile.get("did"), str):
        return None
    handle = profile.get("handle")
    name = profile.get("displayName")
    return Author(
        id=profile["did"],
        handle=handle if isinstance(handle, str) and handle != "handle.invalid" else None,
        name=(name.strip() or None) if isinstance(name, str) else None,
    )


def _created_at(record: dict[str, Any], indexed: datetime) -> datetime:
    written = parse_time(record.get("createdAt"))
    if written is None or written > indexed or written < indexed - MAX_CLIENT_SKEW:
        return indexed
    return written


def _threading(record: dict[str, Any]) -> tuple[str | None, list[str]]:
    """(in_reply_to, references) of a post record: its parent, and the thread root or quoted post."""
    reply = obj(record.get("reply"))
    parent = strong_ref(reply.get("parent"))
    root = strong_ref(reply.get("root"))
    references: list[str] = []
    if root and (parent is None or root["uri"] != parent["uri"]):
        references.append(root["uri"])
    quoted = quoted_uri(record)
    if quoted and quoted not in references:
        references.append(quoted)
    return (parent["uri"] if parent else None), references


def quoted_uri(record: dict[str, Any]) -> str | None:
    """The post a quote post quotes (`app.bsky.embed.record`, or `recordWithMedia`), if any."""
    embed = record.get("embed")
    if not isinstance(embed, dict):
        return None
    inner = embed.get("record")
    if isinstance(inner, dict) and isinstance(inner.get("record"), dict):  # recordWithMedia
        inner = inner["record"]
    ref = strong_ref(inner)
    return ref["uri"] if ref and "/app.bsky.feed.post/" in ref["uri"] else None


def _language(record: dict[str, Any]) -> str | None:
    langs = record.get("langs")
    if isinstance(langs, list) and langs and isinstance(langs[0], str):
        return langs[0][:8]
    return None


def notification_event(notification: dict[str, Any], own_did: str) -> InboundEvent | None:
    """A mention, reply or quote notification as an event; None for anything that is not a post."""
    record = notification.get("record")
    uri = notification.get("uri")
    author = _author(notification.get("author"))
    indexed = parse_time(notification.get("indexedAt"))
    if not isinstance(record, dict) or not isinstance(uri, str) or author is None or indexed is None:
        return None
    if record.get("$type") != POST_COLLECTION or not isinstance(record.get("text"), str):
        return None
    in_reply_to, references = _threading(record)
    return InboundEvent(
        external_id=uri,
        created_at=_created_at(record, indexed),
        text=record["text"],
        author=author,
        direction=Direction.OUT if author.id == own_did else Direction.IN,
        public=True,
        in_reply_to=in_reply_to,
        references=references,
        language=_language(record),
        raw=notification,
    )


def own_reply_event(item: dict[str, Any], own_did: str) -> InboundEvent | None:
    """A reply the brand wrote (a `feedViewPost` of its author feed) as an outbound event, addressed to
    the nearest other person up the thread. None for reposts, top-level posts and the brand's own threads
    (a brand post answering only brand posts is not customer care)."""
    post = item.get("post")
    if item.get("reason") is not None or not isinstance(post, dict):
        return None
    record = post.get("record")
    uri = post.get("uri")
    author = _author(post.get("author"))
    indexed = parse_time(post.get("indexedAt"))
    if not isinstance(record, dict) or not isinstance(uri, str) or author is None or indexed is None:
        return None
    if (
        author.id != own_did
        or record.get("$type") != POST_COLLECTION
        or not isinstance(record.get("text"), str)
    ):
        return None
    in_reply_to, references = _threading(record)
    if in_reply_to is None:
        return None
    context = obj(item.get("reply"))
    people = [
        _author(obj(context.get("parent")).get("author")),
        _author(context.get("grandparentAuthor")),
        _author(obj(context.get("root")).get("author")),
    ]
    recipient = next((p for p in people if p is not None and p.id != own_did), None)
    if recipient is None:
        return None
    return InboundEvent(
        external_id=uri,
        created_at=_created_at(record, indexed),
        text=record["text"],
        author=author,
        direction=Direction.OUT,
        public=True,
        in_reply_to=in_reply_to,
        references=references,
        language=_language(record),
        recipient=recipient,
        raw=item,
    )


def log_event(entry: dict[str, Any], own_did: str) -> InboundEvent | None:
    """A chat log entry as a private message; None for anything but a new, not deleted message."""
    if entry.get("$type") != LOG_CREATE_MESSAGE:
        return None
    message = entry.get("message")
    convo_id = entry.get("convoId")
    if not isinstance(message, dict) or not isinstance(convo_id, str) or message.get("$type") != MESSAGE_VIEW:
        return None
    sender = message.get("sender")
    sent = parse_time(message.get("sentAt"))
    if (
        not isinstance(message.get("id"), str)
        or not isinstance(message.get("text"), str)
        or not isinstance(sender, dict)
        or not isinstance(sender.get("did"), str)
        or sent is None
    ):
        return None
    did = sender["did"]
    profiles = entry.get("relatedProfiles")
    profiles = profiles if isinstance(profiles, list) else []
    author = next(
        (a for a in (_author(p) for p in profiles) if a is not None and a.id == did), None
    ) or Author(id=did)
    own = did == own_did
    return InboundEvent(
        external_id=message["id"],
        created_at=sent,
        text=message["text"],
        author=author,
        direction=Direction.OUT if own else Direction.IN,
        public=False,
        thread=convo_id,
        raw=entry,
    )
