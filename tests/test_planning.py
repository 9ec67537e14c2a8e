"""The weekly staffing plan (analytics/planning.py) on a hand-worked month, on SQLite and PostgreSQL:
arrivals per hour of the week are the mean over the last four whole weeks, agents needed follow the
occupancy cap and shrinkage, and the roster follows the teams' calendars, closed dates included."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from xml.etree import ElementTree

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from caredesk.actions import intake, service_levels
from caredesk.actions.admin import create_team
from caredesk.actions.base import Actor
from caredesk.analytics import charts, planning, staffing
from caredesk.cli.main import app
from caredesk.domain.clock import FrozenClock
from caredesk.domain.types import Author, InboundEvent
from caredesk.pipeline.runner import Pipeline
from caredesk.runtime import Runtime
from tests.conftest import World
from tests.test_facts import cph

DEMAND = staffing.Demand(0.0, 3600, 600, 0.8, 3600, None, 1, 0.85, 0.3)


def _write(rt: Runtime, w: World, label: str, times: list) -> None:  # type: ignore[type-arg]
    events = [
        InboundEvent(external_id=f"{label}-{i}", created_at=at, text="where is my parcel?",
                     author=Author(id=f"{label}-{i}", handle=f"@{label}{i}"), public=False,
                     thread=f"dm-{label}-{i}")
        for i, at in enumerate(times)
    ]  # fmt: skip
    intake.accept(rt, w.channel.id, events)
    Pipeline(rt).drain()


@pytest.fixture
def month(rt: Runtime, world: World) -> World:
    """Forty customers every Monday 10:00-11:00 for four weeks, one on a Tuesday at 14:20, and two
    outside the last four whole weeks; an office team (Mon-Fri 09-17, closed Tuesday 8 December) of two
    agents, a team without hours of one, and an admin in no team."""
    system = Actor.system()
    for monday in (9, 16, 23, 30):
        _write(
            rt,
            world,
            f"mon{monday}",
            [cph(2026, 11, monday, 10, 1) + timedelta(minutes=i) for i in range(40)],
        )
    _write(rt, world, "tue", [cph(2026, 11, 10, 14, 20)])
    _write(rt, world, "outside", [cph(2026, 11, 2, 10, 10), cph(2026, 12, 2, 9, 0)])
    office = create_team(
        rt, system, workspace_id=world.ws.id, name="Office",
        agent_ids=[world.agents["agent"], world.agents["agent2"]],
    )  # fmt: skip
    create_team(rt, system, workspace_id=world.ws.id, name="Night", agent_ids=[world.agents["supervisor"]])
    week = {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
    service_levels.save_calendar(
        rt, system, workspace_id=world.ws.id,
        data={"name": "Office", "time_zone": "Europe/Copenhagen", "week": week,
              "closed_dates": ["2026-12-08"], "team_ids": [office.id]},
    )  # fmt: skip
    rt.clock = FrozenClock(cph(2026, 12, 2, 12, 0))  # a Wednesday
    return world


def test_weekly_plan_on_a_hand_worked_month(rt: Runtime, month: World) -> None:
    with rt.db.read() as s:
        plan = planning.weekly_plan(s, month.ws.id, rt.clock.now(), DEMAND)
    assert plan["since"].startswith("2026-11-04T00:00") and plan["until"].startswith("2026-12-02T00:00")
    assert plan["weeks_of_history"] == [4] * 7 and plan["roster_week"] == "2026-12-07"
    arrivals = plan["arrivals"]
    assert arrivals[0][10] == 40 and arrivals[1][14] == 0.25
    assert sum(map(sum, arrivals)) == pytest.approx(40.25)  # the two outside the range do not count
    # 40 an hour x 600 s = 6.67 Erlangs; an 85% occupancy cap needs 8 agents (7 would be 95%), and
    # 30% shrinkage makes that ceil(8 / 0.7) = 12 to schedule; a quarter message an hour needs 1 (2)
    assert plan["needed"][0][10] == 8 and plan["scheduled"][0][10] == 12
    assert plan["needed"][1][14] == 1 and plan["scheduled"][1][14] == 2
    assert sum(map(sum, plan["needed"])) == 9
    roster = plan["rostered"]
    assert roster[0][10] == 3  # the office's two and the team without hours
    assert roster[0][8] == 1 and roster[0][16] == 3 and roster[0][17] == 1 and roster[5][10] == 1
    assert roster[1][10] == 1 and roster[2][10] == 3  # the office is closed on Tuesday the 8th
    assert plan["agents_in_no_team"] == 1  # the admin (the analyst answers no one)
    assert plan["short_hours"] == 2 and plan["agent_hours_short"] == (12 - 3) + (2 - 1)


def test_a_range_of_its_own_and_a_bad_range(rt: Runtime, month: World) -> None:
    since, until = cph(2026, 11, 9, 0, 0), cph(2026, 11, 16, 0, 0)
    with rt.db.read() as s:
        plan = planning.weekly_plan(s, month.ws.id, rt.clock.now(), DEMAND, since=since, until=until)
        assert plan["weeks_of_history"] == [1] * 7
        assert plan["arrivals"][0][10] == 40 and plan["arrivals"][1][14] == 1
        with pytest.raises(ValueError, match="before"):
            planning.weekly_plan(s, month.ws.id, rt.clock.now(), DEMAND, since=until, until=since)


def test_the_plan_over_the_api(rt: Runtime, month: World, client: TestClient) -> None:
    url = f"/api/v1/workspaces/{month.ws.id}/reports/staffing"
    params = {"handle_seconds": 600, "target_seconds": 3600, "max_occupancy": 0.85, "shrinkage": 0.3}
    got = client.get(url, params=params, headers=month.headers("analyst"))
    assert got.status_code == 200, got.text
    with rt.db.read() as s:
        assert got.json() == planning.weekly_plan(s, month.ws.id, rt.clock.now(), DEMAND)
    assert client.get(url, headers=month.headers("agent")).status_code == 403
    assert client.get(url, params={"handle_seconds": 0}, headers=month.headers("analyst")).status_code == 422
    backwards = {"since": "2026-11-20T00:00:00+01:00", "until": "2026-11-10T00:00:00+01:00"}
    bad = client.get(url, params=backwards, headers=month.headers("analyst"))
    assert bad.status_code in (400, 422) and "before" in bad.text


def test_the_plan_and_the_weekly_charts_from_the_cli(rt: Runtime, month: World, tmp_path: Path) -> None:
    db = ["--db", rt.settings.database_url, "--workspace", "acme"]
    span = ["--since", "2026-11-04", "--until", "2026-12-02"]
    done = CliRunner().invoke(
        app, ["report", "staffing-plan", *db, *span, "--handle", "600", "--format", "json"]
    )
    assert done.exit_code == 0, done.output
    plan = json.loads(done.output)
    assert plan["arrivals"][0][10] == 40 and plan["scheduled"][0][10] == 12
    table = CliRunner().invoke(app, ["report", "staffing-plan", *db, *span, "--handle", "600"])
    assert "Mon" in table.output and "12/" in table.output and "agent-hours" in table.output
    for fmt in ("svg", "png"):
        args = ["report", "charts", *db, *span, "--format", fmt]
        first = CliRunner().invoke(app, [*args, "--out", str(tmp_path / fmt)])
        assert first.exit_code == 0, first.output
        written = sorted(p.name for p in (tmp_path / fmt).iterdir())
        assert written == sorted(f"acme-{c}.{fmt}" for c in charts.CHARTS)
        again = CliRunner().invoke(app, [*args, "--out", str(tmp_path / f"{fmt}-again")])
        assert again.exit_code == 0
        for name in written:
            data = (tmp_path / fmt / name).read_bytes()
            assert data == (tmp_path / f"{fmt}-again" / name).read_bytes()  # reproducible
            if fmt == "png":
                assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5000
            else:
                root = ElementTree.fromstring(data)  # noqa: S314 (written by the test itself)
                assert root.tag.endswith("svg")
                assert not list(root.iter("{http://www.w3.org/2000/svg}text"))  # outlines, never markup
                assert len(list(root.iter("{http://www.w3.org/2000/svg}path"))) > 20
    bad = CliRunner().invoke(app, ["report", "charts", *db, "--since", "2026-12-02", "--until", "2026-11-01"])
    assert bad.exit_code != 0 and "before" in bad.output
