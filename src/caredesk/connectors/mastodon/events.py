"""Mastodon notifications and statuses as network-neutral InboundEvents.

Private threads. A Mastodon DM is a status with `visibility: "direct"`. The REST API does not expose a
status's conversation id (only `GET /api/v1/conversations`, which shows each conversation's *last* status,
so it cannot name the conversation of older DMs). The thread key is therefore derived from the DM itself:
`dm:` + the ids of the people in it other than the brand, sorted (`dm:110541` for a one-to-one DM). It is
stable, needs no extra request, and says who a reply must mention; the `in_reply_to` chain still ties
each DM to the one it answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from caredesk.connectors.mastodon.api import id_key
from caredesk.connectors.mastodon.content import mentions_of, status_text
from caredesk.domain.errors import InvalidInput
from caredesk.domain.types import Author, Direction, InboundEvent

DM_PREFIX = "dm:"


def parse_time(value: Any) -> datetime:
    if not isinstance(value, str) or not value:
        raise InvalidInput("Mastodon status without created_at")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"Mastodon status with an unreadable created_at: {value[:40]!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _str(value: Any) -> str | None:
    """A text or id field; anything else (objects, lists, booleans) counts as absent."""
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        return None
    return str(value)


def _id(value: Any, what: str) -> str:
    found = _str(value)
    if found is None:
        raise InvalidInput(f"Mastodon {what} without a usable id")
    return found


def author_of(account: Any) -> Author:
    if not isinstance(account, Mapping):
        raise InvalidInput("Mastodon status without an account")
    followers = account.get("followers_count")
    counted = isinstance(followers, int) and not isinstance(followers, bool) and followers >= 0
    acct = account.get("acct")
    return Author(
        id=_id(account.get("id"), "account"),
        handle=f"@{acct}" if isinstance(acct, str) and acct else None,
        name=_str(account.get("display_name")) or _str(account.get("username")),
        followers=followers if counted else None,
    )


def dm_thread(status: Mapping[str, Any], own_id: str) -> str:
    people = {author_of(status.get("account")).id} | {m.id for m in mentions_of(status)}
    people.discard(own_id)
    return DM_PREFIX + ",".join(sorted(people, key=id_key))


def thread_people(thread: str | None) -> list[str]:
    """The account ids a DM thread key names (empty for any other key)."""
    if not thread or not thread.startswith(DM_PREFIX):
        return []
    return [p for p in thread[len(DM_PREFIX) :].split(",") if p]


def status_event(status: Mapping[str, Any], own_id: str, raw: dict[str, Any]) -> InboundEvent:
    """One status, written by a customer or by the brand itself (then direction OUT, addressed to someone)."""
    status_id = _id(status.get("id"), "status")
    author = author_of(status.get("account"))
    direct = status.get("visibility") == "direct"
    own = author.id == own_id
    event = InboundEvent(
        external_id=status_id,
        created_at=parse_time(status.get("created_at")),
        text=status_text(status, own_id=own_id),
        author=author,
        direction=Direction.OUT if own else Direction.IN,
        public=not direct,
        in_reply_to=_str(status.get("in_reply_to_id")),
        thread=dm_thread(status, own_id) if direct else None,
        language=_str(status.get("language")),
        raw=raw,
    )
    if own:
        event.recipient = addressee(status, own_id)
    return event


def addressee(status: Mapping[str, Any], own_id: str) -> Author | None:
    """Whom the brand's own status answers: the author replied to, else the first person it mentions."""
    mentions = [m for m in mentions_of(status) if m.id != own_id]
    replied = _str(status.get("in_reply_to_account_id"))
    if replied and replied != own_id:
        acct = next((m.acct for m in mentions if m.id == replied), None)
        return Author(id=replied, handle=f"@{acct}" if acct else None)
    if mentions:
        return Author(id=mentions[0].id, handle=f"@{mentions[0].acct}")
    return None


def mention_event(notification: Mapping[str, Any], own_id: str) -> InboundEvent | None:
    """A `mention` notification's status; None when it has none (deleted since)."""
    status = notification.get("status")
    if not isinstance(status, Mapping):
        return None
    return status_event(status, own_id, raw=dict(notification))


def own_status_event(status: Mapping[str, Any], own_id: str) -> InboundEvent | None:
    """The brand's own status as an outbound event, when it answers someone (replies and DMs, not broadcasts
    nor boosts)."""
    if status.get("reblog"):
        return None
    if not status.get("in_reply_to_id") and status.get("visibility") != "direct":
        return None  # a broadcast, even one that mentions someone, is not care work
    if addressee(status, own_id) is None:
        return None
    return status_event(status, own_id, raw={"status": dict(status)})
