"""SLA due times in business hours through the API: calendars, policies, pauses waiting on the customer."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from caredesk.actions import conversations as conv_actions
from caredesk.actions import intake
from caredesk.domain.clock import FrozenClock
from caredesk.domain.types import Author, InboundEvent
from caredesk.pipeline.runner import Pipeline
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from tests.conftest import World

OFFICE = {
    "name": "Copenhagen office",
    "time_zone": "Europe/Copenhagen",
    "week": {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
    "holiday_country": "DK",
    "closed_dates": ["2026-12-31"],
}


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _headers(world: World, key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.token(key)}"}


def _message(rt: Runtime, world: World, external_id: str, at: str, thread: str = "t1") -> int:
    intake.accept(
        rt,
        world.channel.id,
        [
            InboundEvent(
                external_id=external_id,
                created_at=_t(at),
                text="my order never arrived",
                author=Author(id="cust-9", handle="@nine", name="Nine"),
                public=False,
                thread=thread,
            )
        ],
    )
    Pipeline(rt).drain()
    with rt.db.read() as session:
        return int(
            session.scalars(sa.select(m.Conversation.id).order_by(m.Conversation.id.desc())).first() or 0
        )


def _due(rt: Runtime, conv_id: int) -> tuple[datetime | None, datetime | None, datetime | None]:
    with rt.db.read() as session:
        conv = session.get(m.Conversation, conv_id)
        assert conv is not None
        return conv.first_reply_due_at, conv.next_reply_due_at, conv.resolution_due_at


def _default_policy(rt: Runtime, world: World) -> int:
    with rt.db.read() as session:
        return int(
            session.scalar(sa.select(m.SlaPolicy.id).where(m.SlaPolicy.workspace_id == world.ws.id)) or 0
        )


def test_business_hours_due_times_and_pauses(rt: Runtime, world: World, client: TestClient) -> None:
    rt.clock = FrozenClock(_t("2026-11-28T12:05+01:00"))
    admin_h, ws = _headers(world, "admin"), world.ws.id
    # A Saturday message under the default calendar-time policy: due an hour later.
    conv = _message(rt, world, "m1", "2026-11-28T12:00+01:00")
    assert _due(rt, conv)[0] == _t("2026-11-28T13:00+01:00")

    r = client.post(f"/api/v1/workspaces/{ws}/calendars", json={**OFFICE, "channel_ids": [world.channel.id]},
                    headers=admin_h)  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json()["channel_ids"] == [world.channel.id] and r.json()["closed_dates"] == ["2026-12-31"]
    policy = _default_policy(rt, world)
    r = client.put(
        f"/api/v1/workspaces/{ws}/sla-policies/{policy}",
        json={
            "name": "Default",
            "first_reply_minutes": 60,
            "resolution_minutes": 480,
            "business_hours": True,
        },
        headers=admin_h,
    )
    assert r.status_code == 200, r.text
    # The open conversation is recomputed: the hour starts on Monday at 09:00 (the channel's calendar).
    first, _, resolution = _due(rt, conv)
    assert first == _t("2026-11-30T10:00+01:00")
    assert resolution == _t("2026-11-30T17:00+01:00")

    # Waiting on the customer stops the resolution clock; their answer restarts it with the pause left out.
    rt.clock = FrozenClock(_t("2026-11-30T09:30+01:00"))
    r = client.post(
        f"/api/v1/conversations/{conv}/status", json={"status": "pending"}, headers=_headers(world, "agent")
    )
    assert r.status_code == 200, r.text
    assert _due(rt, conv)[2] is None
    rt.clock = FrozenClock(_t("2026-11-30T11:30+01:00"))
    _message(rt, world, "m2", "2026-11-30T11:30+01:00")
    assert _due(rt, conv)[2] == _t("2026-12-01T11:00+01:00")  # 17:00 + the 2 working hours paused
    detail = client.get(f"/api/v1/conversations/{conv}", headers=admin_h).json()
    assert detail["resolution_due_at"].startswith("2026-12-01T10:00")  # in UTC


def test_policy_match_by_language_and_its_own_calendar(rt: Runtime, world: World, client: TestClient) -> None:
    rt.clock = FrozenClock(_t("2026-12-30T16:30+01:00"))
    admin_h, ws = _headers(world, "admin"), world.ws.id
    cal = client.post(f"/api/v1/workspaces/{ws}/calendars", json=OFFICE, headers=admin_h).json()
    r = client.post(
        f"/api/v1/workspaces/{ws}/sla-policies",
        json={"name": "Office hours", "position": 1, "first_reply_minutes": 60, "calendar_id": cal["id"]},
        headers=admin_h,
    )
    assert r.status_code == 201 and r.json()["business_hours"] is True
    conv = _message(rt, world, "m1", "2026-12-30T16:30+01:00")
    # 30 minutes on Wednesday, the company's closed 31 December, New Year's Day, the weekend: Monday 09:30.
    assert _due(rt, conv)[0] == _t("2027-01-04T09:30+01:00")
    policies = client.get(f"/api/v1/workspaces/{ws}/sla-policies", headers=_headers(world, "analyst")).json()
    assert [p["name"] for p in policies] == ["Office hours", "Default"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({**OFFICE, "time_zone": "Mars/Olympus"}, "unknown time zone"),
        ({**OFFICE, "holiday_country": "XX"}, "no public holidays"),
        ({**OFFICE, "closed_dates": ["31/12/2026"]}, "YYYY-MM-DD"),
        ({**OFFICE, "week": {"mon": [["9", "17:00"]]}}, "pattern"),
        ({**OFFICE, "week": {"funday": [["09:00", "17:00"]]}}, "funday"),
        ({**OFFICE, "channel_ids": [999]}, "not found"),
    ],
)
def test_bad_calendars_change_nothing(
    rt: Runtime, world: World, client: TestClient, body: dict[str, object], message: str
) -> None:
    r = client.post(
        f"/api/v1/workspaces/{world.ws.id}/calendars", json=body, headers=_headers(world, "admin")
    )
    assert 400 <= r.status_code < 500 and message in r.text, r.text
    with rt.db.read() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(m.BusinessCalendarRow)) == 0


def _events(rt: Runtime, kind: str) -> list[dict[str, object]]:
    with rt.db.read() as session:
        return [
            dict(d)
            for d in session.scalars(sa.select(m.Event.data).where(m.Event.kind == kind).order_by(m.Event.id))
        ]


def test_warning_then_breach_once_each_with_escalation(rt: Runtime, world: World, client: TestClient) -> None:
    rt.clock = FrozenClock(_t("2026-12-01T10:00+01:00"))
    admin_h, ws = _headers(world, "admin"), world.ws.id
    policy = _default_policy(rt, world)
    r = client.put(
        f"/api/v1/workspaces/{ws}/sla-policies/{policy}",
        json={
            "name": "Default",
            "first_reply_minutes": 60,
            "warn_before_minutes": 10,
            "escalation": {"raise_priority": 20, "reassign": True, "notify_supervisors": True},
        },
        headers=admin_h,
    )
    assert r.status_code == 200 and r.json()["escalation"]["raise_priority"] == 20, r.text
    conv = _message(rt, world, "m1", "2026-12-01T10:00+01:00")
    with rt.db.write() as session:  # owned by an agent who is not online
        row = session.get(m.Conversation, conv)
        assert row is not None
        row.assignee_id = world.agents["agent"]
        before = row.priority
    for at, warnings, breaches in [
        ("2026-12-01T10:49+01:00", 0, 0),
        ("2026-12-01T10:51+01:00", 1, 0),
        ("2026-12-01T10:55+01:00", 1, 0),  # not again
        ("2026-12-01T11:00+01:00", 1, 1),
        ("2026-12-01T11:30+01:00", 1, 1),  # not again
    ]:
        rt.clock = FrozenClock(_t(at))
        conv_actions.watch_slas(rt)
        assert (len(_events(rt, "sla.warning")), len(_events(rt, "sla.breached"))) == (warnings, breaches), at
    (breach,) = _events(rt, "sla.breached")
    assert breach["clock"] == "first_reply" and breach["raised_priority"] == 20
    assert breach["unassigned"] == world.agents["agent"]
    assert breach["notified"] == sorted([world.agents["supervisor"], world.agents["admin"]])
    with rt.db.read() as session:
        row = session.get(m.Conversation, conv)
        assert row is not None and row.priority == min(100, before + 20) and row.assignee_id is None
        assert row.priority_reasons[-1] == {"signal": "sla_breach", "points": 20}
