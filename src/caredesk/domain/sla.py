"""Service-level due times (calendar time). Business-hours calendars plug in through `add_minutes`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

AddMinutes = Callable[[datetime, int], datetime]


def calendar_minutes(start: datetime, minutes: int) -> datetime:
    return start + timedelta(minutes=minutes)


@dataclass(frozen=True, slots=True)
class Targets:
    first_reply_minutes: int | None
    next_reply_minutes: int | None
    resolution_minutes: int | None


@dataclass(frozen=True, slots=True)
class Clock:
    """The timing facts of a conversation that SLA due times are computed from."""

    first_inbound_at: datetime | None
    first_reply_at: datetime | None
    waiting_since: datetime | None
    resolved: bool


@dataclass(frozen=True, slots=True)
class DueTimes:
    first_reply: datetime | None
    next_reply: datetime | None
    resolution: datetime | None


def due_times(facts: Clock, targets: Targets, add: AddMinutes = calendar_minutes) -> DueTimes:
    """First reply is due until answered; next reply is due while the customer waits after that."""
    first = next_ = resolution = None
    if facts.first_inbound_at is not None and not facts.resolved:
        if facts.first_reply_at is None and targets.first_reply_minutes is not None:
            first = add(facts.first_inbound_at, targets.first_reply_minutes)
        if (
            facts.first_reply_at is not None
            and facts.waiting_since is not None
            and targets.next_reply_minutes is not None
        ):
            next_ = add(facts.waiting_since, targets.next_reply_minutes)
        if targets.resolution_minutes is not None:
            resolution = add(facts.first_inbound_at, targets.resolution_minutes)
    return DueTimes(first, next_, resolution)


def policy_matches(match: dict[str, Any], *, channel_id: int, is_public: bool, priority: int) -> bool:
    """`match` keys: channel_ids (list), public (bool), min_priority (int). Missing keys match anything."""
    if "channel_ids" in match and channel_id not in match["channel_ids"]:
        return False
    if "public" in match and bool(match["public"]) != is_public:
        return False
    return not ("min_priority" in match and priority < int(match["min_priority"]))
