"""Business calendars: when a team is at work, and how much working time lies between two instants.

A calendar has a time zone, working windows for each day of the week and closed dates (public holidays
from the `holidays` package for a country and subdivision, plus the workspace's own dates). The rules,
also written in docs/metrics.md:

- A window is a pair of wall-clock times on the day it starts. An end at or before its start runs past
  midnight into the next day ("22:00"-"02:00"); "24:00" is the end of the day.
- A closed date removes the windows that start on it; a window that started the evening before runs on.
- Windows are read in the calendar's time zone. On a day the clocks change, a window lasts the wall-clock
  time it covers: 09:00-17:00 is 8 hours on every working day; a window that crosses the change is an
  hour shorter or longer. A boundary in the hour the clocks skip falls where the clock jumps to (a start
  at 02:30 on the spring-forward night opens at 03:30 summer time, the instant 02:30 winter time would
  have been); in the repeated autumn hour, the first time the clock shows it.
- Overlapping windows count once. Pauses (time waiting on the customer) are taken out of working time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_lib

from caredesk.domain.errors import InvalidInput

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Interval = tuple[datetime, datetime]
# The search for an instant gives up after this many days without enough working time.
_HORIZON_DAYS = 3 * 366


@dataclass(frozen=True, slots=True)
class Window:
    start: time
    end: time | None  # None is "24:00", the end of the day

    def bounds(self, day: date, tz: ZoneInfo) -> Interval:
        start = datetime.combine(day, self.start, tzinfo=tz)
        if self.end is None:
            end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
        elif self.end <= self.start:
            end = datetime.combine(day + timedelta(days=1), self.end, tzinfo=tz)
        else:
            end = datetime.combine(day, self.end, tzinfo=tz)
        return start.astimezone(UTC), end.astimezone(UTC)


def _parse_time(value: str) -> time | None:
    if value == "24:00":
        return None
    try:
        hours, minutes = value.split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise InvalidInput(f"'{value}' is not a time of day as HH:MM") from None


@dataclass
class BusinessCalendar:
    time_zone: str
    week: Mapping[str, Sequence[tuple[str, str]]]
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    closed_dates: Iterable[date] = ()
    _tz: ZoneInfo = field(init=False, repr=False)
    _windows: tuple[tuple[Window, ...], ...] = field(init=False, repr=False)
    _closed: frozenset[date] = field(init=False, repr=False)
    _holidays: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        try:
            self._tz = ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput(f"unknown time zone '{self.time_zone}'") from None
        unknown = set(self.week) - set(DAYS)
        if unknown:
            raise InvalidInput(f"unknown day names {sorted(unknown)}; use {', '.join(DAYS)}")
        windows = []
        for day in DAYS:
            parsed = []
            for pair in self.week.get(day, ()):
                if len(pair) != 2:
                    raise InvalidInput(f"a window on {day} must be [start, end]")
                start = _parse_time(pair[0])
                if start is None:
                    raise InvalidInput("a window cannot start at 24:00")
                parsed.append(Window(start, _parse_time(pair[1])))
            windows.append(tuple(parsed))
        self._windows = tuple(windows)
        self._closed = frozenset(self.closed_dates)
        self._holidays = None
        if self.holiday_country:
            try:
                self._holidays = holidays_lib.country_holidays(
                    self.holiday_country.upper(), subdiv=self.holiday_subdivision
                )
            except NotImplementedError:
                raise InvalidInput(
                    f"no public holidays known for '{self.holiday_country}' {self.holiday_subdivision or ''}"
                ) from None

    @classmethod
    def from_settings(cls, data: Mapping[str, Any]) -> BusinessCalendar:
        return cls(
            time_zone=str(data.get("time_zone", "UTC")),
            week={k: [tuple(w) for w in v] for k, v in dict(data.get("week", {})).items()},
            holiday_country=data.get("holiday_country") or None,
            holiday_subdivision=data.get("holiday_subdivision") or None,
            closed_dates=[date.fromisoformat(str(d)) for d in data.get("closed_dates", ())],
        )

    @property
    def tz(self) -> ZoneInfo:
        return self._tz

    def is_closed_date(self, day: date) -> bool:
        return day in self._closed or (self._holidays is not None and day in self._holidays)

    def holiday_name(self, day: date) -> str | None:
        if self._holidays is not None and day in self._holidays:
            return str(self._holidays.get(day))
        return "closed" if day in self._closed else None

    def _day_intervals(self, day: date) -> list[Interval]:
        if self.is_closed_date(day):
            return []
        return [w.bounds(day, self._tz) for w in self._windows[day.weekday()]]

    def open_intervals(self, start: datetime, end: datetime) -> Iterator[Interval]:
        """The working time within [start, end), as merged UTC intervals in order."""
        yield from _clip(self._merged(start), start, end)

    def periods(self, start: datetime) -> Iterator[Interval]:
        """Whole open periods (not clipped), in order, from the one open at or next after `start`."""
        return (p for p in self._merged(start) if p[1] > start)

    def _merged(self, start: datetime) -> Iterator[Interval]:
        """Merged working intervals from the day before `start` on, without end (until the horizon)."""
        first = start.astimezone(self._tz).date() - timedelta(days=1)
        pending: list[Interval] = []
        current: Interval | None = None
        for offset in range(_HORIZON_DAYS):
            day = first + timedelta(days=offset)
            pending.extend(self._day_intervals(day))
            pending.sort()
            # intervals of later days start no earlier than the next day's local midnight
            horizon = datetime.combine(day + timedelta(days=1), time(0), tzinfo=self._tz).astimezone(UTC)
            while pending and pending[0][0] < horizon:
                s, e = pending.pop(0)
                if s >= e:
                    continue
                if current is None:
                    current = (s, e)
                elif s <= current[1]:
                    current = (current[0], max(current[1], e))
                else:
                    yield current
                    current = (s, e)
            if current is not None and current[1] < horizon and not any(p[0] <= current[1] for p in pending):
                yield current
                current = None
        if current is not None:
            yield current

    def is_open(self, at: datetime) -> bool:
        return any(s <= at < e for s, e in self.open_intervals(at, at + timedelta(seconds=1)))

    def next_open(self, at: datetime) -> datetime | None:
        """`at` itself when open, else the next instant the calendar opens (None: never within 3 years)."""
        for s, e in self._merged(at):
            if e > at:
                return max(s, at)
        return None


def _clip(intervals: Iterable[Interval], start: datetime, end: datetime) -> Iterator[Interval]:
    for s, e in intervals:
        if s >= end:
            return
        if e > start:
            yield max(s, start), min(e, end)


def _minus(intervals: Iterable[Interval], pauses: Sequence[Interval]) -> Iterator[Interval]:
    """Intervals with the paused parts taken out (pauses sorted or not, may overlap)."""
    ordered = sorted(pauses)
    for s, e in intervals:
        cursor = s
        for ps, pe in ordered:
            if pe <= cursor or ps >= e:
                continue
            if ps > cursor:
                yield cursor, ps
            cursor = max(cursor, pe)
            if cursor >= e:
                break
        if cursor < e:
            yield cursor, e


def _always(start: datetime) -> Iterator[Interval]:
    yield start, datetime.max.replace(tzinfo=UTC)


def _require_aware(*values: datetime) -> None:
    for v in values:
        if v.tzinfo is None:
            raise ValueError("times must carry a time zone")


def working_time(
    calendar: BusinessCalendar | None,
    start: datetime,
    end: datetime,
    pauses: Sequence[Interval] = (),
) -> timedelta:
    """Working time in [start, end): business time with a calendar, calendar time without, less pauses."""
    _require_aware(start, end)
    if end <= start:
        return timedelta(0)
    source = calendar.open_intervals(start, end) if calendar else _clip(_always(start), start, end)
    return sum((e - s for s, e in _minus(source, pauses)), timedelta(0))


def add_working_time(
    calendar: BusinessCalendar | None,
    start: datetime,
    amount: timedelta,
    pauses: Sequence[Interval] = (),
) -> datetime | None:
    """The earliest instant by which `amount` of working time has passed since `start`.

    None when the calendar does not open enough within three years (a calendar without windows).
    """
    _require_aware(start)
    if amount <= timedelta(0):
        return start
    left = amount
    source = (
        _clip(calendar._merged(start), start, datetime.max.replace(tzinfo=UTC))
        if calendar
        else _always(start)
    )
    for s, e in _minus(source, pauses):
        if e - s >= left:
            return s + left
        left -= e - s
    return None
