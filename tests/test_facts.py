"""The report facts on hand-worked cases, in calendar time and in business hours (a Copenhagen office,
Mon-Fri 09:00-17:00, one closed Tuesday), on SQLite and PostgreSQL: first, next and per-message
response times, resolution time, the waits a conversation had, and facts that follow every change."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from caredesk.actions import approvals, intake, service_levels
from caredesk.actions import conversations as conv_actions
from caredesk.actions.base import Actor
from caredesk.analytics import facts, reports
from caredesk.analytics.reports import reply_times
from caredesk.domain.clock import FrozenClock
from caredesk.domain.types import Author, Direction, InboundEvent, Status
from caredesk.pipeline.runner import Pipeline
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from tests.conftest import World

CPH = ZoneInfo("Europe/Copenhagen")
H = 3600


def cph(*args: int) -> datetime:
    return datetime(*args, tzinfo=CPH).astimezone(UTC)  # type: ignore[misc]


@pytest.fixture
def office(rt: Runtime, world: World) -> World:
    week = {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
    data = {"name": "Office", "time_zone": "Europe/Copenhagen", "week": week, "closed_dates": ["2026-12-01"],
            "channel_ids": [world.channel.id]}  # fmt: skip
    service_levels.save_calendar(rt, Actor.system(), workspace_id=world.ws.id, data=data)
    return world


def say(
    rt: Runtime, world: World, ext: str, at: datetime, *, brand: bool = False, to: str | None = None
) -> None:
    customer = Author(id="cust-1", handle="@cust", name="Claire")
    event = InboundEvent(
        external_id=ext,
        created_at=at,
        text=f"message {ext}",
        author=Author(id="acme", handle="@acme") if brand else customer,
        direction=Direction.OUT if brand else Direction.IN,
        public=False,
        thread="dm-cust-1",
        in_reply_to=to,
        recipient=customer if brand else None,
    )
    intake.accept(rt, world.channel.id, [event])
    Pipeline(rt).drain()


def message_facts(rt: Runtime) -> dict[str, m.MessageFact]:
    with rt.db.read() as s:
        rows = s.execute(
            sa.select(m.Message.external_id, m.MessageFact).join(
                m.Message, m.Message.id == m.MessageFact.message_id
            )
        )
        return {r[0]: r[1] for r in rows}


def conversation_fact(rt: Runtime) -> m.ConversationFact:
    with rt.db.read() as s:
        return s.scalars(sa.select(m.ConversationFact)).one()


def test_first_next_and_per_message_times_in_calendar_and_business_hours(rt: Runtime, office: World) -> None:
    w = office
    # Friday 16:30 -> Monday 09:30: 65 h on the clock, 30 + 30 minutes of office hours
    say(rt, w, "c1", cph(2026, 11, 27, 16, 30))
    say(rt, w, "b1", cph(2026, 11, 30, 9, 30), brand=True, to="c1")
    # the customer answers; the next response takes 20 minutes
    say(rt, w, "c2", cph(2026, 11, 30, 10, 0))
    say(rt, w, "b2", cph(2026, 11, 30, 10, 20), brand=True, to="c2")
    # two messages in a row: the wait starts at the first; the reply answers the second
    say(rt, w, "c3", cph(2026, 11, 30, 10, 30))
    say(rt, w, "c4", cph(2026, 11, 30, 10, 40))
    say(rt, w, "b3", cph(2026, 11, 30, 11, 0), brand=True, to="c4")
    # Monday 16:00 -> Wednesday 10:00 over the closed Tuesday: 42 h on the clock, 2 h of office hours
    say(rt, w, "c5", cph(2026, 11, 30, 16, 0))
    say(rt, w, "b4", cph(2026, 12, 2, 10, 0), brand=True, to="c5")
    # Saturday noon, answered at once: no office time at all
    say(rt, w, "c6", cph(2026, 12, 5, 12, 0))
    say(rt, w, "b5", cph(2026, 12, 5, 12, 45), brand=True, to="c6")
    f = message_facts(rt)
    assert set(f) == {"c1", "c2", "c3", "c4", "c5", "c6"}  # customer messages only
    got = {k: (v.reply_s, v.reply_bh_s, v.wait, v.response_s, v.response_bh_s) for k, v in f.items()}
    assert got == {
        "c1": (65 * H, 1 * H, 1, 65 * H, 1 * H),
        "c2": (1200, 1200, 2, 1200, 1200),
        "c3": (None, None, 3, 1800, 1800),  # no reply names it; its wait ended at 11:00
        "c4": (1200, 1200, None, None, None),  # it did not start a wait: one was running
        "c5": (42 * H, 2 * H, 4, 42 * H, 2 * H),
        "c6": (2700, 0, 5, 2700, 0),
    }
    c = conversation_fact(rt)
    assert (c.first_response_s, c.first_response_bh_s, c.inbound_count, c.reply_count) == (65 * H, H, 6, 5)
    (report,) = reply_times_for(rt)
    assert (report.customer_messages, report.replied) == (6, 5)
    assert report.median_minutes == 45.0  # of 20 min, 20 min, 45 min, 42 h and 65 h
    (business,) = reply_times_for(rt, business_hours=True)
    assert business.median_minutes == 20.0  # of 0, 20, 20, 60 and 120 minutes
    assert business.mean_minutes == pytest.approx(44.0)


def reply_times_for(rt: Runtime, **kwargs: bool) -> list:  # type: ignore[type-arg]
    """The exact figures (from the facts), after checking that the roll-ups' agree with them."""
    with rt.db.read() as s:
        exact = reply_times(s, exact=True, **kwargs)
        assert_agree([r.as_dict() for r in reply_times(s, **kwargs)], [r.as_dict() for r in exact])
        return exact


QUANTILES = {"median", "p90", "median_minutes", "p90_minutes", "response_median_minutes"}


def assert_agree(rolled: object, exact: object, key: str = "") -> None:
    """The roll-ups' figures are the facts' figures: counts, sums, means and shares the same, medians and
    p90s within 1% (analytics/rollups.py)."""
    if isinstance(exact, dict):
        assert isinstance(rolled, dict) and rolled.keys() == exact.keys(), (key, rolled, exact)
        for k in exact:
            assert_agree(rolled[k], exact[k], k)
    elif isinstance(exact, list):
        assert isinstance(rolled, list) and len(rolled) == len(exact), (key, rolled, exact)
        for a, b in zip(rolled, exact, strict=True):
            assert_agree(a, b, key)
    elif isinstance(exact, float) and key in QUANTILES:
        assert rolled == pytest.approx(exact, rel=0.01), key
    elif isinstance(exact, float):
        assert rolled == pytest.approx(exact, rel=1e-6, abs=1e-4), key
    else:
        assert rolled == exact, key


def test_a_reply_across_the_change_from_summer_time(rt: Runtime, office: World) -> None:
    """Friday 23 Oct 16:00 (CEST) -> Monday 26 Oct 10:00 (CET): 67 hours pass, 2 of them office hours."""
    say(rt, office, "c1", cph(2026, 10, 23, 16, 0))
    say(rt, office, "b1", cph(2026, 10, 26, 10, 0), brand=True, to="c1")
    fact = message_facts(rt)["c1"]
    assert (fact.reply_s, fact.reply_bh_s) == (67 * H, 2 * H)


def test_resolution_time_and_reopening(rt: Runtime, office: World) -> None:
    say(rt, office, "c1", cph(2026, 11, 27, 16, 30))
    say(rt, office, "b1", cph(2026, 11, 30, 9, 30), brand=True, to="c1")
    with rt.db.read() as s:
        conv_id = s.scalar(sa.select(m.Conversation.id))
    assert conv_id is not None
    rt.clock = FrozenClock(cph(2026, 11, 30, 12, 0))
    conv_actions.set_status(rt, office.actor("agent"), conv_id, Status.RESOLVED)
    c = conversation_fact(rt)
    # Friday 16:30 -> Monday 12:00: 67.5 h; office hours: 30 min Friday + 3 h Monday
    assert (c.status, c.resolution_s, c.resolution_bh_s) == ("resolved", 67.5 * H, 3.5 * H)
    rt.clock = FrozenClock(cph(2026, 11, 30, 13, 0))
    say(rt, office, "c2", cph(2026, 11, 30, 13, 0), to="b1")  # the customer answers the reply: reopened
    c = conversation_fact(rt)
    assert (c.status, c.resolution_s, c.reopen_count, c.inbound_count) == ("open", None, 1, 2)


def test_facts_never_count_automatic_or_unpublished_replies_and_rebuild_gives_the_same(
    rt: Runtime, office: World
) -> None:
    conv = office.customer_writes("c1", "hello?")
    msg = conv_actions.reply(rt, office.actor("agent"), conv, "On it")  # queued, not yet published
    with rt.db.read() as s:
        fact = s.get(m.ConversationFact, conv)
        assert fact is not None and fact.reply_count == 0 and fact.first_response_s is None
    with rt.db.write() as s:
        row = s.get(m.Message, msg.id)
        assert row is not None
        row.delivery, row.sent_at = "sent", row.created_at
    with rt.db.read() as s:
        fact = s.get(m.ConversationFact, conv)
        assert fact is not None and fact.reply_count == 1 and fact.first_response_s is not None
        before = [tuple(r) for r in s.execute(sa.select(m.MessageFact.__table__)).all()]
    with rt.db.write() as s:
        s.execute(sa.delete(m.MessageFact))
        s.execute(sa.delete(m.ConversationFact))
        facts.rebuild(s, [conv])
    with rt.db.read() as s:
        assert [tuple(r) for r in s.execute(sa.select(m.MessageFact.__table__)).all()] == before


def test_the_conversation_export_gives_times_in_the_workspace_zone_and_no_formulas(
    rt: Runtime, office: World, client: TestClient
) -> None:
    say(rt, office, "c1", cph(2026, 11, 27, 16, 30))
    say(rt, office, "b1", cph(2026, 11, 30, 9, 30), brand=True, to="c1")
    with rt.db.write() as s:
        agent = s.get(m.Agent, office.agents["agent"])
        conv = s.scalars(sa.select(m.Conversation)).one()
        assert agent is not None
        agent.name = '=HYPERLINK("http://evil.example")'
        conv.assignee_id = agent.id
    r = client.get(
        f"/api/v1/workspaces/{office.ws.id}/reports/conversations.csv", headers=office.headers("supervisor")
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    (row,) = list(csv.DictReader(io.StringIO(r.text)))
    assert (
        row["started_at"] == "2026-11-27T16:30:00+01:00"
        and row["first_reply_at"] == "2026-11-30T09:30:00+01:00"
    )
    assert (row["first_response_minutes"], row["first_response_business_minutes"]) == ("3900.0", "60.0")
    assert row["assignee"] == '\'=HYPERLINK("http://evil.example")'  # shown as text, never run
    cells = [c for line in csv.reader(io.StringIO(r.text)) for c in line]
    assert not any(c.startswith(("=", "+", "-", "@")) for c in cells)
    later = client.get(
        f"/api/v1/workspaces/{office.ws.id}/reports/conversations.csv?since=2026-11-28T00:00:00%2B01:00",
        headers=office.headers("supervisor"),
    )
    assert later.text.count("\r\n") == 1  # the header only: the conversation started before
    with rt.db.read() as s:
        assert s.scalar(sa.select(sa.func.count()).where(m.Event.kind == "report.exported")) == 2
    assert (
        client.get(
            f"/api/v1/workspaces/{office.ws.id}/reports/conversations.csv", headers=office.headers("agent")
        ).status_code
        == 403
    )


def test_the_hour_of_week_grid_is_on_the_workspace_clock(rt: Runtime, office: World) -> None:
    say(rt, office, "c1", cph(2026, 11, 27, 16, 30))  # Friday 16:xx in Copenhagen (15:30 UTC)
    say(rt, office, "c2", cph(2026, 11, 27, 16, 40))  # the same wait: counted, starts none
    say(rt, office, "b1", cph(2026, 11, 30, 9, 30), brand=True, to="c1")
    say(rt, office, "c3", cph(2026, 11, 30, 9, 45))  # Monday 09:xx
    say(rt, office, "b2", cph(2026, 11, 30, 9, 55), brand=True, to="c3")
    with rt.db.read() as s:
        grid = reports.hour_of_week(s, office.ws.id, exact=True)
        business = reports.hour_of_week(s, office.ws.id, business_hours=True, exact=True)
        assert_agree(reports.hour_of_week(s, office.ws.id), grid)
        assert_agree(reports.hour_of_week(s, office.ws.id, business_hours=True), business)
    assert grid["time_zone"] == "Europe/Copenhagen" and grid["days"][4] == "Fri"
    assert grid["volume"][4][16] == 2 and grid["volume"][0][9] == 1 and sum(map(sum, grid["volume"])) == 3
    assert grid["response_median_minutes"][4][16] == 65 * 60 and grid["response_median_minutes"][0][9] == 10
    assert business["response_median_minutes"][4][16] == 60 and grid["response_median_minutes"][4][15] is None


def test_the_summary_on_hand_worked_conversations(rt: Runtime, office: World, client: TestClient) -> None:
    """Two customers: Claire (first response 65 h / 1 h of office time, a next response of 20 minutes,
    resolved) and Dan (unanswered); a 30-minute first-reply SLA that Claire's reply missed."""
    service_levels.save_policy(
        rt, Actor.system(), workspace_id=office.ws.id, data={"name": "Chat", "first_reply_minutes": 30}
    )
    say(rt, office, "c1", cph(2026, 11, 27, 16, 30))
    say(rt, office, "b1", cph(2026, 11, 30, 9, 30), brand=True, to="c1")
    say(rt, office, "c2", cph(2026, 11, 30, 10, 0), to="b1")
    say(rt, office, "b2", cph(2026, 11, 30, 10, 20), brand=True, to="c2")
    dan = Author(id="dan", handle="@dan", name="Dan")
    at = cph(2026, 11, 30, 11, 0)
    dan_writes = InboundEvent(
        external_id="d1", created_at=at, text="hello?", author=dan, public=False, thread="dm-dan"
    )
    intake.accept(rt, office.channel.id, [dan_writes])
    Pipeline(rt).drain()
    with rt.db.read() as s:
        claire = s.scalar(sa.select(m.Message.conversation_id).where(m.Message.external_id == "c1"))
    assert claire is not None
    rt.clock = FrozenClock(cph(2026, 11, 30, 12, 0))
    conv_actions.set_status(rt, office.actor("agent"), claire, Status.RESOLVED)
    url = f"/api/v1/workspaces/{office.ws.id}/reports/summary"
    r = client.get(f"{url}?exact=true", headers=office.headers("analyst"))
    assert_agree(client.get(url, headers=office.headers("analyst")).json(), r.json())
    (row,) = r.json()
    assert (row["conversations"], row["customer_messages"], row["replies"], row["response_rate"]) == (
        2,
        3,
        2,
        0.5,
    )
    first = {
        "median": 3900.0,
        "p90": 3900.0,
        "mean": 3900.0,
        "within_60_minutes": 0.0,
        "within_24_hours": 0.0,
    }
    assert row["first_response"] == {**first, "count": 1}
    assert (row["next_response"]["median"], row["next_response"]["count"]) == (20.0, 1)
    assert (row["resolved"], row["resolution"]["median"], row["replies_per_resolution"]) == (1, 4050.0, 2.0)
    assert row["first_reply_sla"] == {"with_target": 2, "met": 0, "attainment": 0.0}
    business = client.get(f"{url}?business_hours=true&by=agent&exact=true", headers=office.headers("analyst"))
    rolled = client.get(f"{url}?business_hours=true&by=agent", headers=office.headers("analyst"))
    assert_agree(rolled.json(), business.json())
    business = business.json()
    (nobody,) = business  # the replies came from the network, so no agent owns either conversation
    assert nobody["slice"] == "(nobody)" and nobody["conversations"] == 2
    assert (nobody["first_response"]["median"], nobody["resolution"]["median"]) == (60.0, 210.0)
    assert nobody["next_response"]["median"] == 20.0
    bad = client.get(
        f"/api/v1/workspaces/{office.ws.id}/reports/summary?by=mood", headers=office.headers("analyst")
    )
    assert bad.status_code == 422


def _event(ext: str, at: datetime, *, public: bool, brand: bool = False, to: str | None = None,
           who: str = "cust-9") -> InboundEvent:  # fmt: skip
    customer = Author(id=who, handle=f"@{who}", name=who.title())
    return InboundEvent(
        external_id=ext, created_at=at, text=f"message {ext}",
        author=Author(id="acme", handle="@acme") if brand else customer,
        direction=Direction.OUT if brand else Direction.IN, public=public,
        thread=f"t-{who}", in_reply_to=to, recipient=customer if brand else None,
    )  # fmt: skip


def test_moved_to_private_and_approval_times(rt: Runtime, world: World) -> None:
    """Four conversations: public answered in private (moved), public answered in public, private
    answered in private, and one whose two held replies waited 30 and 10 minutes for a decision."""
    start = cph(2026, 11, 23, 10, 0)
    rt.clock = FrozenClock(start)
    for who, public, reply_public in (("a", True, False), ("b", True, True), ("c", False, False)):
        intake.accept(rt, world.channel.id, [_event(f"{who}1", start, public=public, who=who)])
        at = start + timedelta(minutes=5)
        answer = _event(f"{who}r", at, public=reply_public, brand=True, to=f"{who}1", who=who)
        intake.accept(rt, world.channel.id, [answer])
    conv = world.customer_writes("d1", "please refund my order", who="d")
    Pipeline(rt).drain()
    held = [
        conv_actions.reply(rt, world.actor("agent"), conv, text, public=False, request_approval=True)
        for text in ("We will refund you", "We have refunded you")
    ]
    with rt.db.read() as s:
        ids = {mid: aid for aid, mid in s.execute(sa.select(m.Approval.id, m.Approval.message_id))}
    rt.clock.advance(minutes=10)
    approvals.decide(rt, world.actor("supervisor"), ids[held[1].id], approve=False, reason="not yet")
    rt.clock.advance(minutes=20)
    approvals.decide(rt, world.actor("supervisor"), ids[held[0].id], approve=True)
    with rt.db.read() as s:
        f = m.ConversationFact
        moved = dict(list(s.execute(sa.select(f.conversation_id, f.moved_private))))
        exact = reports.summary(s, world.ws.id, exact=True)
        rolled = reports.summary(s, world.ws.id)
        by_public = reports.summary(s, world.ws.id, by="public")
        exported = reports.conversation_rows(s, world.ws.id)
    assert sorted(moved.values()) == [False, False, False, True]
    (whole,) = exact
    assert whole["conversations"] == 4 and whole["moved_to_private"] == 0.25
    assert whole["approval"]["count"] == 2 and whole["approval"]["median"] == 20.0  # of 30 and 10 minutes
    assert whole["approval"]["mean"] == 20.0 and whole["approval"]["within_60_minutes"] == 1.0
    assert_agree(rolled, exact)
    shares = {r["slice"]: r["moved_to_private"] for r in by_public}
    assert shares == {"public": 0.5, "private": 0.0}
    assert [(r["moved_to_private"], r["approvals_decided"], r["approval_minutes"]) for r in exported] == [
        (True, 0, None), (False, 0, None), (False, 0, None), (False, 2, 40.0)
    ]  # fmt: skip


def test_the_commands_csv_never_starts_a_cell_with_a_formula(capsys: pytest.CaptureFixture[str]) -> None:
    from caredesk.cli.main import Format, _rows_out

    hostile = ['=HYPERLINK("http://evil.example")', "+1", "-2+3", "@SUM(A1)", "\tx", "plain"]
    _rows_out([{"name": v, "n": -4} for v in hostile], Format.csv, ["name", "n"], [])
    cells = [c for row in csv.reader(io.StringIO(capsys.readouterr().out)) for c in row]
    assert cells[:2] == ["name", "n"] and "plain" in cells and "-4" in cells  # numbers stay numbers
    texts = [c for c in cells[2:] if c != "-4"]
    assert texts == ["'" + v if v != "plain" else v for v in hostile]  # shown as text, never run
