"""Service-level due times, in business time (a calendar) or calendar time (none). Rules: docs/metrics.md."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from caredesk.domain.calendar import BusinessCalendar, Interval, add_working_time


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
    paused: bool = False  # waiting on the customer now: the resolution clock is stopped
    pauses: tuple[Interval, ...] = ()  # earlier periods waiting on the customer


@dataclass(frozen=True, slots=True)
class DueTimes:
    first_reply: datetime | None
    next_reply: datetime | None
    resolution: datetime | None


def due_times(facts: Clock, targets: Targets, calendar: BusinessCalendar | None = None) -> DueTimes:
    """First reply is due until answered; next reply is due while the customer waits after that; resolution
    runs from the first customer message, stopped while waiting on the customer."""
    first = next_ = resolution = None

    def add(start: datetime, minutes: int, pauses: tuple[Interval, ...] = ()) -> datetime | None:
        return add_working_time(calendar, start, timedelta(minutes=minutes), pauses)

    if facts.first_inbound_at is not None and not facts.resolved:
        if facts.first_reply_at is None and targets.first_reply_minutes is not None:
            first = add(facts.first_inbound_at, targets.first_reply_minutes)
        if (
            facts.first_reply_at is not None
            and facts.waiting_since is not None
            and targets.next_reply_minutes is not None
        ):
            next_ = add(facts.waiting_since, targets.next_reply_minutes)
        if targets.resolution_minutes is not None and not facts.paused:
            resolution = add(facts.first_inbound_at, targets.resolution_minutes, facts.pauses)
    return DueTimes(first, next_, resolution)


def policy_matches(
    match: dict[str, Any],
    *,
    channel_id: int,
    is_public: bool,
    priority: int,
    language: str | None = None,
    team_id: int | None = None,
    topic: str | None = None,
) -> bool:
    """`match` keys: channel_ids (list), public (bool), min_priority (int), languages (list), team_ids
    (list), topics (list). Missing keys match anything."""
    if "topics" in match and topic not in match["topics"]:
        return False
    if "channel_ids" in match and channel_id not in match["channel_ids"]:
        return False
    if "public" in match and bool(match["public"]) != is_public:
        return False
    if "languages" in match and language not in match["languages"]:
        return False
    if "team_ids" in match and team_id not in match["team_ids"]:
        return False
    return not ("min_priority" in match and priority < int(match["min_priority"]))
