"""Scheduled greeting and sign-off posts: once per opening and closing of the channel's calendar, with who
is online and until when, never as a reply in any figure."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from fastapi.testclient import TestClient

from caredesk.actions import admin, greetings
from caredesk.analytics.kpis import kpis
from caredesk.domain.calendar import BusinessCalendar
from caredesk.domain.clock import FrozenClock
from caredesk.domain.types import Presence
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from tests.conftest import World

OFFICE = {
    "name": "Office",
    "time_zone": "Europe/Copenhagen",
    "week": {d: [["09:00", "12:00"], ["13:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
}


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _posts(rt: Runtime) -> list[m.Message]:
    with rt.db.read() as session:
        return list(
            session.scalars(sa.select(m.Message).where(m.Message.direction == "out").order_by(m.Message.id))
        )


def _setup(rt: Runtime, world: World, client: TestClient, **extra: object) -> None:
    r = client.post(
        f"/api/v1/workspaces/{world.ws.id}/calendars",
        json={**OFFICE, "channel_ids": [world.channel.id]},
        headers=world.headers("admin"),
    )
    assert r.status_code == 201, r.text
    r = client.put(
        f"/api/v1/channels/{world.channel.id}/greetings",
        json={"enabled": True, **extra},
        headers=world.headers("admin"),
    )
    assert r.status_code == 200 and r.json()["enabled"], r.text


def test_greets_at_each_opening_and_signs_off_at_each_closing(
    rt: Runtime, world: World, client: TestClient
) -> None:
    _setup(rt, world, client)
    rt.clock = FrozenClock(_at("2026-11-30T08:59+01:00"))  # Monday, just before opening
    admin.set_presence(rt, world.actor("agent"), Presence.ONLINE)
    admin.set_presence(rt, world.actor("agent2"), Presence.ONLINE)
    assert greetings.post_due(rt) == 0
    rt.clock.advance(minutes=2)  # 09:01
    assert greetings.post_due(rt) == 1
    assert greetings.post_due(rt) == 0  # once per opening
    (hello,) = _posts(rt)
    assert hello.text == "Good morning! Agent and Agent2 here until 12:00. How can we help?"
    assert hello.is_public and hello.is_automatic and hello.delivery == "queued"
    rt.clock.advance(hours=3, minutes=5)  # 12:06: the lunch closing
    assert greetings.post_due(rt) == 1
    assert _posts(rt)[-1].text.startswith("We are signing off for now and back Monday 13:00")
    rt.clock.advance(hours=1)  # 13:06: open again, the second window
    assert greetings.post_due(rt) == 1
    assert _posts(rt)[-1].text.endswith("here until 18:00. How can we help?")
    # Each post is a brand post of its own conversation, resolved until a customer answers it.
    with rt.db.read() as session:
        convs = session.scalars(sa.select(m.Conversation)).all()
        assert (
            len(convs) == 3
            and {c.status for c in convs} == {"resolved"}
            and all(c.contact_id is None for c in convs)
        )
        (row,) = kpis(session, workspace_ids=[world.ws.id], since=None, until=None)
        assert row.as_dict()["inbound_conversations"] == 0


def test_no_morning_greeting_in_the_afternoon_and_none_on_holidays(
    rt: Runtime, world: World, client: TestClient
) -> None:
    _setup(rt, world, client, language="da", greeting="Godmorgen fra {agents}, vi er her til {until}.")
    rt.clock = FrozenClock(_at("2026-11-30T15:00+01:00"))  # a server started mid-afternoon
    assert greetings.post_due(rt) == 0
    rt.clock = FrozenClock(_at("2026-12-25T09:05+01:00"))  # Christmas Day, a Friday: a Danish public holiday
    r = client.put(
        f"/api/v1/workspaces/{world.ws.id}/calendars/1",
        json={**OFFICE, "holiday_country": "DK", "channel_ids": [world.channel.id]},
        headers=world.headers("admin"),
    )
    assert r.status_code == 200, r.text
    assert greetings.post_due(rt) == 0
    rt.clock = FrozenClock(_at("2026-12-28T09:10+01:00"))  # the Monday after
    assert greetings.post_due(rt) == 1
    assert _posts(rt)[-1].text == "Godmorgen fra holdet, vi er her til 12:00."  # nobody online yet


def test_greeting_settings_are_checked(rt: Runtime, world: World, client: TestClient) -> None:
    h = world.headers("admin")
    r = client.put(
        f"/api/v1/channels/{world.channel.id}/greetings",
        json={"enabled": True, "greeting": "Hi {agent}"},
        headers=h,
    )
    assert r.status_code == 422
    r = client.put(f"/api/v1/channels/{world.channel.id}/greetings", json={"enabled": False}, headers=h)
    assert r.status_code == 200 and r.json()["texts_in_force"]["greeting"].startswith("Good morning")
    assert (
        client.put(
            f"/api/v1/channels/{world.channel.id}/greetings",
            json={"enabled": True},
            headers=world.headers("supervisor"),
        ).status_code
        == 403
    )


def test_periods_are_whole_opening_periods() -> None:
    calendar = BusinessCalendar.from_settings(OFFICE)
    periods = calendar.periods(_at("2026-11-30T10:00+01:00"))
    assert next(periods) == (_at("2026-11-30T09:00+01:00"), _at("2026-11-30T12:00+01:00"))
    assert next(periods) == (_at("2026-11-30T13:00+01:00"), _at("2026-11-30T18:00+01:00"))
