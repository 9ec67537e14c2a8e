"""Business-hours maths against hand-worked cases, and its laws checked on random calendars."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from caredesk.domain.calendar import BusinessCalendar, add_working_time, working_time
from caredesk.domain.errors import InvalidInput

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
CALENDARS = {
    # Copenhagen office hours, Danish public holidays.
    "cph": BusinessCalendar("Europe/Copenhagen", {d: [("09:00", "17:00")] for d in WEEKDAYS}, "DK"),
    # A split shift in London with a Saturday morning, English bank holidays.
    "lon": BusinessCalendar(
        "Europe/London",
        {**{d: [("08:00", "12:00"), ("13:00", "17:00")] for d in WEEKDAYS}, "sat": [("10:00", "14:00")]},
        "GB",
        "ENG",
    ),
    # A night desk in New York: every evening 20:00 to 04:00 the next morning, US holidays.
    "nyn": BusinessCalendar(
        "America/New_York", {d: [("20:00", "04:00")] for d in (*WEEKDAYS, "sat", "sun")}, "US"
    ),
    # New York office hours, US holidays and the company's own closed day (24 December).
    "nyd": BusinessCalendar(
        "America/New_York",
        {d: [("09:00", "17:00")] for d in WEEKDAYS},
        "US",
        closed_dates=[date(2026, 12, 24)],
    ),
    # Open around the clock in Berlin, no holidays: business time is calendar time.
    "ber": BusinessCalendar("Europe/Berlin", {d: [("00:00", "24:00")] for d in (*WEEKDAYS, "sat", "sun")}),
    # 01:00-04:00 every night in Copenhagen: across the clock changes of late March and late October.
    "early": BusinessCalendar(
        "Europe/Copenhagen", {d: [("01:00", "04:00")] for d in (*WEEKDAYS, "sat", "sun")}
    ),
    # Sunday 02:30-05:00 in Copenhagen: on 29 March 2026 02:30 does not exist.
    "gap": BusinessCalendar("Europe/Copenhagen", {"sun": [("02:30", "05:00")]}),
    # Two overlapping windows, and two that touch at midnight.
    "overlap": BusinessCalendar("UTC", {"mon": [("09:00", "17:00"), ("12:00", "20:00")]}),
    "touch": BusinessCalendar("UTC", {"mon": [("20:00", "24:00")], "tue": [("00:00", "02:00")]}),
}

# (calendar, start, working minutes to add, the instant they are used up, why). 2026-12-01 is a Tuesday.
# Offsets are written out: +01:00 is Copenhagen's and Berlin's winter time, +02:00 their summer time.
ADD_CASES = [
    ("cph", "2026-12-01T10:00+01:00", 60, "2026-12-01T11:00+01:00", "inside a window"),
    ("cph", "2026-12-01T16:30+01:00", 60, "2026-12-02T09:30+01:00", "runs over the evening"),
    ("cph", "2026-11-27T16:00+01:00", 120, "2026-11-30T10:00+01:00", "runs over the weekend"),
    ("cph", "2026-11-28T12:00+01:00", 30, "2026-11-30T09:30+01:00", "starts on a Saturday"),
    ("cph", "2026-12-01T07:00+01:00", 15, "2026-12-01T09:15+01:00", "starts before opening"),
    ("cph", "2026-12-01T17:00+01:00", 1, "2026-12-02T09:01+01:00", "starts at closing time"),
    ("cph", "2026-12-24T16:00+01:00", 120, "2026-12-28T10:00+01:00", "Christmas Day and the 26th"),
    ("cph", "2026-04-01T16:00+02:00", 120, "2026-04-07T10:00+02:00", "Maundy Thursday to Easter Monday"),
    ("cph", "2026-12-01T10:00+01:00", 480, "2026-12-02T10:00+01:00", "a whole working day"),
    ("cph", "2026-12-01T10:00+01:00", 0, "2026-12-01T10:00+01:00", "nothing to add"),
    ("cph", "2026-03-27T16:00+01:00", 120, "2026-03-30T10:00+02:00", "weekend of the spring change"),
    ("cph", "2026-10-23T16:00+02:00", 120, "2026-10-26T10:00+01:00", "weekend of the autumn change"),
    ("lon", "2026-11-30T11:30+00:00", 60, "2026-11-30T13:30+00:00", "over the lunch break"),
    ("lon", "2026-11-30T12:15+00:00", 30, "2026-11-30T13:30+00:00", "starts in the break"),
    ("lon", "2026-12-04T16:30+00:00", 60, "2026-12-05T10:30+00:00", "Friday into the Saturday shift"),
    ("lon", "2026-12-05T13:30+00:00", 60, "2026-12-07T08:30+00:00", "Saturday shift into Monday"),
    (
        "lon",
        "2026-12-24T16:00+00:00",
        180,
        "2026-12-29T10:00+00:00",
        "Christmas, Boxing Day and its substitute",
    ),
    ("lon", "2026-11-30T07:00+00:00", 600, "2026-12-01T10:00+00:00", "two shifts, then the next day"),
    ("lon", "2026-03-28T13:00+00:00", 120, "2026-03-30T09:00+01:00", "British Summer Time begins"),
    ("lon", "2026-11-30T12:00+00:00", 1, "2026-11-30T13:01+00:00", "starts as the break begins"),
    ("nyn", "2026-12-01T21:00-05:00", 60, "2026-12-01T22:00-05:00", "inside a night window"),
    ("nyn", "2026-12-01T03:30-05:00", 60, "2026-12-01T20:30-05:00", "the end of Monday night's window"),
    ("nyn", "2026-12-01T12:00-05:00", 10, "2026-12-01T20:10-05:00", "starts in the day"),
    ("nyn", "2026-11-26T03:00-05:00", 120, "2026-11-27T21:00-05:00", "Thanksgiving night is closed"),
    ("nyn", "2026-03-07T20:00-05:00", 420, "2026-03-08T04:00-04:00", "a 7-hour night: clocks go forward"),
    ("nyn", "2026-10-31T20:00-04:00", 540, "2026-11-01T04:00-05:00", "a 9-hour night: clocks go back"),
    ("nyn", "2026-10-31T20:00-04:00", 600, "2026-11-01T21:00-05:00", "past the long night"),
    ("nyd", "2026-12-23T16:00-05:00", 120, "2026-12-28T10:00-05:00", "own closed day, then Christmas"),
    ("nyd", "2026-03-06T16:00-05:00", 120, "2026-03-09T10:00-04:00", "US spring change weekend"),
    ("nyd", "2026-10-30T16:00-04:00", 120, "2026-11-02T10:00-05:00", "US autumn change weekend"),
    ("ber", "2026-03-28T12:00+01:00", 1440, "2026-03-29T13:00+02:00", "24 hours over the spring change"),
    ("ber", "2026-10-24T12:00+02:00", 1440, "2026-10-25T11:00+01:00", "24 hours over the autumn change"),
    ("early", "2026-03-29T01:00+01:00", 150, "2026-03-30T01:30+02:00", "01:00-04:00 lasts 2 hours"),
    ("early", "2026-10-25T01:00+02:00", 210, "2026-10-25T03:30+01:00", "01:00-04:00 lasts 4 hours"),
    ("early", "2026-10-25T02:30+02:00", 60, "2026-10-25T02:30+01:00", "the repeated 02:30"),
    ("gap", "2026-03-29T00:00+01:00", 30, "2026-03-29T04:00+02:00", "a start in the skipped hour"),
    ("gap", "2026-03-22T00:00+01:00", 30, "2026-03-22T03:00+01:00", "the same window a week before"),
    ("overlap", "2026-11-30T16:00+00:00", 180, "2026-11-30T19:00+00:00", "overlapping windows count once"),
    ("touch", "2026-11-30T23:00+00:00", 120, "2026-12-01T01:00+00:00", "windows that meet at midnight"),
]

# (calendar or None for calendar time, start, minutes, pauses, due)
PAUSE_CASES = [
    ("cph", "2026-12-01T10:00+01:00", 120, [("2026-12-01T10:30+01:00", "2026-12-01T11:30+01:00")],
     "2026-12-01T13:00+01:00"),
    ("cph", "2026-12-01T16:00+01:00", 120, [("2026-12-01T16:30+01:00", "2026-12-02T09:45+01:00")],
     "2026-12-02T11:15+01:00"),
    ("cph", "2026-11-30T10:00+01:00", 60,
     [("2026-11-30T10:15+01:00", "2026-11-30T10:45+01:00"),
      ("2026-11-30T10:30+01:00", "2026-11-30T11:00+01:00")],
     "2026-11-30T11:45+01:00"),
    (None, "2026-12-01T10:00+01:00", 120, [("2026-12-01T10:30+01:00", "2026-12-01T23:30+01:00")],
     "2026-12-02T01:00+01:00"),
]  # fmt: skip

# (calendar, from, to, working minutes between)
BETWEEN_CASES = [
    ("cph", "2026-11-27T16:00+01:00", "2026-11-30T10:00+01:00", 120),
    ("cph", "2026-12-01T08:00+01:00", "2026-12-01T18:00+01:00", 480),
    ("lon", "2026-11-30T11:00+00:00", "2026-11-30T14:00+00:00", 120),
    ("nyn", "2026-10-31T12:00-04:00", "2026-11-01T12:00-05:00", 540),
    ("nyn", "2026-03-07T12:00-05:00", "2026-03-08T12:00-04:00", 420),
    ("cph", "2026-12-24T00:00+01:00", "2026-12-28T00:00+01:00", 480),
    ("overlap", "2026-11-30T00:00+00:00", "2026-12-01T00:00+00:00", 660),
    ("cph", "2026-12-01T12:00+01:00", "2026-12-01T11:00+01:00", 0),
]


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(("cal", "start", "minutes", "due", "why"), ADD_CASES, ids=[c[4] for c in ADD_CASES])
def test_add_working_time(cal: str, start: str, minutes: int, due: str, why: str) -> None:
    got = add_working_time(CALENDARS[cal], _t(start), timedelta(minutes=minutes))
    assert got == _t(due), why
    # the same span measured back is the minutes added
    assert working_time(CALENDARS[cal], _t(start), _t(due)) == timedelta(minutes=minutes)


@pytest.mark.parametrize(("cal", "start", "minutes", "pauses", "due"), PAUSE_CASES)
def test_pauses_are_not_working_time(
    cal: str | None, start: str, minutes: int, pauses: list[tuple[str, str]], due: str
) -> None:
    calendar = CALENDARS[cal] if cal else None
    spans = [(_t(a), _t(b)) for a, b in pauses]
    assert add_working_time(calendar, _t(start), timedelta(minutes=minutes), spans) == _t(due)
    assert working_time(calendar, _t(start), _t(due), spans) == timedelta(minutes=minutes)


@pytest.mark.parametrize(("cal", "start", "end", "minutes"), BETWEEN_CASES)
def test_working_time_between(cal: str, start: str, end: str, minutes: int) -> None:
    assert working_time(CALENDARS[cal], _t(start), _t(end)) == timedelta(minutes=minutes)


def test_case_table_is_large_enough() -> None:
    assert len(ADD_CASES) + len(PAUSE_CASES) + len(BETWEEN_CASES) >= 40


def test_open_and_next_open() -> None:
    cph = CALENDARS["cph"]
    assert cph.is_open(_t("2026-12-01T10:00+01:00"))
    assert not cph.is_open(_t("2026-12-01T17:00+01:00"))
    assert not cph.is_open(_t("2026-12-25T10:00+01:00"))
    assert cph.next_open(_t("2026-11-28T12:00+01:00")) == _t("2026-11-30T09:00+01:00")
    assert cph.next_open(_t("2026-12-01T10:00+01:00")) == _t("2026-12-01T10:00+01:00")
    assert cph.holiday_name(_t("2026-12-25T10:00+01:00").date()) == "Christmas Day"


def test_a_calendar_that_never_opens_has_no_due_time() -> None:
    never = BusinessCalendar("UTC", {})
    assert add_working_time(never, _t("2026-12-01T10:00+00:00"), timedelta(minutes=1)) is None
    assert never.next_open(_t("2026-12-01T10:00+00:00")) is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"time_zone": "Mars/Olympus", "week": {}}, "unknown time zone"),
        ({"time_zone": "UTC", "week": {"monday": [("09:00", "17:00")]}}, "unknown day names"),
        ({"time_zone": "UTC", "week": {"mon": [("9am", "17:00")]}}, "HH:MM"),
        ({"time_zone": "UTC", "week": {"mon": [("24:00", "01:00")]}}, "cannot start at 24:00"),
        ({"time_zone": "UTC", "week": {}, "holiday_country": "XX"}, "no public holidays"),
    ],
)
def test_bad_calendars_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        BusinessCalendar(**kwargs)  # type: ignore[arg-type]


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        working_time(CALENDARS["cph"], datetime(2026, 12, 1), datetime(2026, 12, 2))  # noqa: DTZ001


# --- laws, on random calendars and instants -----------------------------------------------------------
_minutes = st.integers(min_value=0, max_value=24 * 60 - 15).map(lambda m: m - m % 15)
_window = st.tuples(_minutes, _minutes).map(
    lambda w: (f"{w[0] // 60:02d}:{w[0] % 60:02d}", f"{w[1] // 60:02d}:{w[1] % 60:02d}")
)
_calendars = st.builds(
    lambda zone, week, holidays: BusinessCalendar(zone, week, "DK" if holidays else None),
    st.sampled_from(["UTC", "Europe/Copenhagen", "America/New_York", "Asia/Tokyo", "Australia/Sydney"]),
    st.dictionaries(
        st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]),
        st.lists(_window, max_size=3),
        min_size=1,
    ),
    st.booleans(),
)
_instants = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)).map(  # noqa: DTZ001
    lambda d: d.replace(tzinfo=UTC, microsecond=0)
)


@settings(max_examples=150, deadline=None)
@given(_calendars, _instants, _instants, _instants)
def test_business_time_is_bounded_and_additive(
    cal: BusinessCalendar, a: datetime, b: datetime, c: datetime
) -> None:
    a, b, c = sorted((a, b, c))
    ab, bc, ac = working_time(cal, a, b), working_time(cal, b, c), working_time(cal, a, c)
    assert timedelta(0) <= ab <= b - a
    assert ab + bc == ac


@settings(max_examples=150, deadline=None)
@given(_calendars, _instants, st.integers(min_value=0, max_value=5000))
def test_adding_then_measuring_gives_the_amount(cal: BusinessCalendar, a: datetime, minutes: int) -> None:
    due = add_working_time(cal, a, timedelta(minutes=minutes))
    if due is None:  # the calendar does not open for that long within three years
        assert working_time(cal, a, a + timedelta(days=3 * 365)) < timedelta(minutes=minutes)
        return
    assert working_time(cal, a, due) == timedelta(minutes=minutes)
    # and it is the earliest such instant: a minute earlier, less has passed
    if minutes:
        assert working_time(cal, a, due - timedelta(minutes=1)) < timedelta(minutes=minutes)
