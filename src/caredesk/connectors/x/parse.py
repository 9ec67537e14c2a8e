"""X payloads -> InboundEvents: API v2 posts and DM events (polling), and Account Activity deliveries
(v1.1-style objects pushed to the webhook).

Naming drift: the v2.167 OpenAPI spec renames `referenced_tweets` -> `referenced_posts`,
`edit_history_tweet_ids` -> `edit_history_post_ids` and `includes.tweets` -> `includes.posts`; both
spellings are read. Post text comes HTML-escaped (`&amp;`, `&lt;`, `&gt;`) and, for replies, starts with
the auto-populated `@mentions` outside `display_text_range`; the event keeps the text a person sees.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from caredesk.domain.errors import InvalidInput
from caredesk.domain.types import Author, Direction, InboundEvent

# Fields asked of GET /2/users/:id/mentions and of the brand's timeline.
TWEET_FIELDS = (
    "author_id,conversation_id,created_at,in_reply_to_user_id,referenced_tweets,display_text_range,lang"
)
TWEET_EXPANSIONS = "author_id"
USER_FIELDS = "username,name,public_metrics"
DM_FIELDS = "id,text,event_type,dm_conversation_id,created_at,sender_id,participant_ids"
DM_EXPANSIONS = "sender_id"

_REPLY_PREFIX = re.compile(r"^(?:\s*@\w{1,15})+\s*$")
_ID = re.compile(r"^[0-9]{1,19}$")

# Account Activity objects caredesk turns into messages, and those it accepts and ignores.
AAA_MESSAGES = ("tweet_create_events", "direct_message_events")
AAA_IGNORED = (
    "favorite_events",
    "follow_events",
    "unfollow_events",
    "block_events",
    "unblock_events",
    "mute_events",
    "unmute_events",
    "user_event",
    "tweet_delete_events",
    "direct_message_indicate_typing_events",
    "direct_message_mark_read_events",
)


def is_id(value: object) -> bool:
    return isinstance(value, str) and bool(_ID.match(value))


def id_key(value: str) -> tuple[int, str]:
    """Order X ids (snowflakes: later is larger) numerically, anything odd after them."""
    return (int(value), "") if value.isdigit() else (1 << 64, value)


def conversation_key(a: str, b: str) -> str:
    """A 1:1 DM conversation id: `{smaller_user_id}-{larger_user_id}`."""
    low, high = sorted((a, b), key=id_key)
    return f"{low}-{high}"


def other_participant(conversation_id: str, own_id: str) -> str | None:
    parts = conversation_id.split("-")
    if len(parts) != 2 or own_id not in parts:
        return None
    other = parts[1] if parts[0] == own_id else parts[0]
    return other if is_id(other) else None


def visible_text(text: str, display_range: object = None) -> str:
    """What X shows: the auto-populated leading @mentions of a reply dropped, entities unescaped. Only the
    range's start is used: its end may count the unescaped text."""
    if isinstance(display_range, list) and len(display_range) == 2 and isinstance(display_range[0], int):
        start = display_range[0]
        if 0 < start <= len(text) and _REPLY_PREFIX.match(text[:start]):
            text = text[start:]
    return html.unescape(text)


def parse_time(value: object) -> datetime:
    if not isinstance(value, str) or not value:
        raise InvalidInput("an X object has no created_at")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"an X object has an unreadable created_at: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _references(post: Mapping[str, Any]) -> list[dict[str, Any]]:
    refs = post.get("referenced_tweets")
    if refs is None:
        refs = post.get("referenced_posts")
    return [r for r in refs or [] if isinstance(r, dict)]


def replied_to(post: Mapping[str, Any]) -> str | None:
    for ref in _references(post):
        if ref.get("type") == "replied_to" and ref.get("id"):
            return str(ref["id"])
    return None


def is_repost(post: Mapping[str, Any]) -> bool:
    return any(ref.get("type") == "retweeted" for ref in _references(post))


def users_by_id(includes: object) -> dict[str, dict[str, Any]]:
    users = includes.get("users") if isinstance(includes, dict) else None
    return {str(u["id"]): u for u in users or [] if isinstance(u, dict) and u.get("id")}


def _author(user_id: str, user: Mapping[str, Any] | None) -> Author:
    if not user:
        return Author(id=user_id)
    metrics = user.get("public_metrics")
    followers = metrics.get("followers_count") if isinstance(metrics, dict) else None
    username = user.get("username") or user.get("screen_name")
    return Author(
        id=user_id,
        handle=f"@{username}" if username else None,
        name=user.get("name") or None,
        followers=followers if isinstance(followers, int) else None,
    )


def post_event(post: Mapping[str, Any], users: Mapping[str, Mapping[str, Any]], own_id: str) -> InboundEvent:
    """A v2 post (mention, reply, or one of the brand's own)."""
    post_id, author_id = post.get("id"), post.get("author_id")
    if not is_id(post_id) or not is_id(author_id):
        raise InvalidInput("an X post lacks its id or author_id (ask for tweet.fields=author_id)")
    assert isinstance(post_id, str)
    assert isinstance(author_id, str)
    parent = replied_to(post)
    root = post.get("conversation_id")
    own = author_id == own_id
    recipient_id = str(post.get("in_reply_to_user_id") or "")
    lang = post.get("lang")
    return InboundEvent(
        external_id=post_id,
        created_at=parse_time(post.get("created_at")),
        text=visible_text(str(post.get("text") or ""), post.get("display_text_range")),
        author=_author(author_id, users.get(author_id)),
        direction=Direction.OUT if own else Direction.IN,
        public=True,
        in_reply_to=parent,
        references=[str(root)] if is_id(root) and root not in (post_id, parent) else [],
        language=lang if isinstance(lang, str) and lang != "und" else None,
        recipient=_author(recipient_id, users.get(recipient_id)) if own and is_id(recipient_id) else None,
        raw=dict(post),
    )


def dm_event(event: Mapping[str, Any], users: Mapping[str, Mapping[str, Any]], own_id: str) -> InboundEvent:
    """A v2 DM event of type MessageCreate; the brand's own (sender_id == own id) go out."""
    event_id, sender = event.get("id"), event.get("sender_id")
    if not is_id(event_id) or not is_id(sender):
        raise InvalidInput("an X DM event lacks its id or sender_id (ask for dm_event.fields=sender_id)")
    assert isinstance(event_id, str)
    assert isinstance(sender, str)
    conversation = str(event.get("dm_conversation_id") or "")
    participants = [str(p) for p in event.get("participant_ids") or []]
    own = sender == own_id
    other = other_participant(conversation, own_id) if conversation else None
    if other is None and own:
        other = next((p for p in participants if p != own_id), None)
    if not conversation:
        conversation = conversation_key(sender, other or own_id)
    return InboundEvent(
        external_id=event_id,
        created_at=parse_time(event.get("created_at")),
        text=str(event.get("text") or ""),
        author=_author(sender, users.get(sender)),
        direction=Direction.OUT if own else Direction.IN,
        public=False,
        thread=conversation,
        recipient=_author(other, users.get(other)) if own and other else None,
        raw=dict(event),
    )


# --- Account Activity (v1.1-style objects) --------------------------------------------------------


def _v1_time(tweet: Mapping[str, Any]) -> datetime:
    millis = tweet.get("timestamp_ms")
    if isinstance(millis, str) and millis.isdigit():
        return datetime.fromtimestamp(int(millis) / 1000, tz=UTC)
    value = tweet.get("created_at")
    if isinstance(value, str):
        try:
            return datetime.strptime(value, "%a %b %d %H:%M:%S %z %Y").astimezone(UTC)
        except ValueError:
            pass
    raise InvalidInput("an Account Activity tweet has no readable created_at")


def _v1_user(user: object) -> tuple[str, Author]:
    if not isinstance(user, dict):
        raise InvalidInput("an Account Activity tweet has no user")
    user_id = str(user.get("id_str") or user.get("id") or "")
    if not is_id(user_id):
        raise InvalidInput("an Account Activity tweet's user has no id")
    followers = user.get("followers_count")
    return user_id, Author(
        id=user_id,
        handle=f"@{user['screen_name']}" if user.get("screen_name") else None,
        name=user.get("name") or None,
        followers=followers if isinstance(followers, int) else None,
    )


def aaa_tweet_event(tweet: Mapping[str, Any], own_id: str) -> InboundEvent | None:
    """A tweet_create_events item, or None for what is not part of a care conversation: reposts, and the
    brand's own posts that answer nobody (announcements, which would otherwise gather every customer who
    replies to them into one conversation)."""
    if tweet.get("retweeted_status") is not None:
        return None
    tweet_id = str(tweet.get("id_str") or tweet.get("id") or "")
    if not is_id(tweet_id):
        raise InvalidInput("an Account Activity tweet has no id_str")
    author_id, author = _v1_user(tweet.get("user"))
    extended = tweet.get("extended_tweet")
    if tweet.get("truncated") and isinstance(extended, dict) and extended.get("full_text"):
        text, shown = str(extended["full_text"]), extended.get("display_text_range")
    else:
        text, shown = str(tweet.get("full_text") or tweet.get("text") or ""), tweet.get("display_text_range")
    parent = tweet.get("in_reply_to_status_id_str")
    own = author_id == own_id
    if own and not is_id(parent):
        return None  # the brand's own announcements are not care conversations; its replies are
    recipient = None
    if own and is_id(tweet.get("in_reply_to_user_id_str")):
        name = tweet.get("in_reply_to_screen_name")
        recipient = Author(id=str(tweet["in_reply_to_user_id_str"]), handle=f"@{name}" if name else None)
    lang = tweet.get("lang")
    return InboundEvent(
        external_id=tweet_id,
        created_at=_v1_time(tweet),
        text=visible_text(text, shown),
        author=author,
        direction=Direction.OUT if own else Direction.IN,
        public=True,
        in_reply_to=str(parent) if is_id(parent) else None,
        language=lang if isinstance(lang, str) and lang != "und" else None,
        recipient=recipient,
        raw=dict(tweet),
    )


def aaa_dm_event(
    event: Mapping[str, Any], users: Mapping[str, Mapping[str, Any]], own_id: str
) -> InboundEvent | None:
    """A direct_message_events item of type message_create (other types carry no message)."""
    if event.get("type") != "message_create":
        return None
    create = event.get("message_create")
    if not isinstance(create, dict):
        raise InvalidInput("an Account Activity DM has no message_create object")
    event_id, sender = str(event.get("id") or ""), str(create.get("sender_id") or "")
    target = create.get("target")
    recipient = str(target.get("recipient_id") or "") if isinstance(target, dict) else ""
    if not (is_id(event_id) and is_id(sender) and is_id(recipient)):
        raise InvalidInput("an Account Activity DM lacks its id, sender_id or recipient_id")
    stamp = event.get("created_timestamp")
    if not (isinstance(stamp, str) and stamp.isdigit()):
        raise InvalidInput("an Account Activity DM has no created_timestamp (epoch milliseconds)")
    data = create.get("message_data")
    text = str(data.get("text") or "") if isinstance(data, dict) else ""
    own = sender == own_id

    def person(user_id: str) -> Author:
        user = users.get(user_id) or {}
        name = user.get("screen_name")
        return Author(id=user_id, handle=f"@{name}" if name else None, name=user.get("name") or None)

    return InboundEvent(
        external_id=event_id,
        created_at=datetime.fromtimestamp(int(stamp) / 1000, tz=UTC),
        text=html.unescape(text),
        author=person(sender),
        direction=Direction.OUT if own else Direction.IN,
        public=False,
        thread=conversation_key(sender, recipient),
        recipient=person(recipient) if own else None,
        raw=dict(event),
    )


def aaa_events(payload: object, own_id: str) -> list[InboundEvent]:
    """Every message in one Account Activity delivery; InvalidInput for what is not one."""
    if not isinstance(payload, dict) or "for_user_id" not in payload:
        raise InvalidInput("not an X Account Activity delivery (no for_user_id)")
    if str(payload["for_user_id"]) != own_id:
        raise InvalidInput("this X Account Activity delivery is for another account than the channel's")
    kinds = [k for k in payload if k not in ("for_user_id", "users", "apps", "source", "user_has_blocked")]
    unknown = [k for k in kinds if k not in AAA_MESSAGES + AAA_IGNORED]
    if not kinds or unknown:
        what = ", ".join(sorted(unknown)[:5]) or "no activity"
        raise InvalidInput(f"unknown X Account Activity payload ({what})")
    raw_users = payload.get("users")
    users: dict[str, dict[str, Any]] = (
        {str(k): v for k, v in raw_users.items() if isinstance(v, dict)}
        if isinstance(raw_users, dict)
        else {}
    )
    events: list[InboundEvent] = []
    blocked = payload.get("user_has_blocked") in (True, "true")  # the brand blocked who mentions it
    for tweet in _items(payload, "tweet_create_events"):
        event = aaa_tweet_event(tweet, own_id)
        if event is not None and not (blocked and event.direction == Direction.IN):
            events.append(event)
    for dm in _items(payload, "direct_message_events"):
        event = aaa_dm_event(dm, users, own_id)
        if event is not None:
            events.append(event)
    return events


def _items(payload: Mapping[str, Any], key: str) -> Iterable[Mapping[str, Any]]:
    items = payload.get(key)
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise InvalidInput(f"{key} is not a list of objects")
    return items
