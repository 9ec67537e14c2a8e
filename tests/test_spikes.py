"""Spike alerts on a replayed month: four weeks of a brand's usual traffic (a quiet morning, a late
morning peak on Mondays, a steady Tuesday afternoon), then a fifth week replayed interval by interval.
The Monday peak raises nothing; a surge of ten times the usual negative messages on Tuesday raises
exactly one alert, at the end of the surge's first interval, with its top terms and examples, delivered
as an event; the other workspace stays quiet."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fastapi.testclient import TestClient

from caredesk.actions import intake
from caredesk.analytics import spikes
from caredesk.api.app import create_app
from caredesk.domain.clock import FrozenClock
from caredesk.domain.types import Author, InboundEvent
from caredesk.pipeline.runner import Pipeline
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from tests.conftest import World

CPH = ZoneInfo("Europe/Copenhagen")
Q = timedelta(minutes=15)
NEGATIVE = [
    "This is the worst service ever, I am furious. Your app deleted my playlist again!",
    "Absolutely terrible, the app crashes every time and support is useless. Furious!",
    "Worst experience ever, playlist gone, I hate this app and I'm cancelling",
]
NEUTRAL = [
    "Hi, how do I change the email address on my account?",
    "Hello, what time does the shop open on Saturday?",
    "Can I pay with a gift card online?",
]


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=CPH).astimezone(UTC)


def week_plan(monday: date) -> list[tuple[datetime, int, int]]:
    """(interval start, neutral messages, negative messages) of one usual week."""
    plan = []
    for q in range(20):  # Monday 08:00-13:00: 3 an interval, 12 from 10:00 to 12:00
        start = local(monday, 8) + q * Q
        peak = local(monday, 10) <= start < local(monday, 12)
        plan.append((start, 10 if peak else 2, 2 if peak else 1))
    tuesday = monday + timedelta(days=1)
    for q in range(12):  # Tuesday 13:00-16:00: 6 an interval, 2 of them negative
        plan.append((local(tuesday, 13) + q * Q, 4, 2))
    return plan


def replay(rt: Runtime, world: World, plan: list[tuple[datetime, int, int]], rng: random.Random) -> None:
    events = []
    for start, neutral, negative in plan:
        jitter = rng.choice((-1, 0, 0, 1))  # weeks differ a little
        texts = [
            *(rng.choice(NEUTRAL) for _ in range(max(neutral + jitter, 0))),
            *(rng.choice(NEGATIVE) for _ in range(negative)),
        ]
        for text in texts:
            who = f"c{rng.randrange(10_000)}"
            at = start + timedelta(seconds=rng.randrange(int(Q.total_seconds())))
            events.append(
                InboundEvent(
                    external_id=f"{at.timestamp():.0f}-{len(events)}",
                    created_at=at,
                    text=text,
                    author=Author(id=who, handle=f"@{who}", name=who),
                    public=False,
                    thread=f"dm-{who}",
                )
            )
    for i in range(0, len(events), 500):
        intake.accept(rt, world.channel.id, events[i : i + 500])
    Pipeline(rt).drain()


def test_a_surge_raises_one_alert_and_a_usual_peak_none(rt: Runtime, world: World) -> None:
    rng = random.Random(20261130)
    first_monday = date(2026, 11, 2)
    for week in range(4):
        replay(rt, world, week_plan(first_monday + timedelta(weeks=week)), rng)
    monday = date(2026, 11, 30)
    plan = week_plan(monday)
    surge_start = local(monday + timedelta(days=1), 14)
    plan = [(s, n, neg * 10 if surge_start <= s < surge_start + 4 * Q else neg) for s, n, neg in plan]
    replay(rt, world, plan, rng)
    with rt.db.read() as s:
        sentiments = dict(
            s.execute(
                sa.select(m.Message.text, m.Message.sentiment)
                .where(m.Message.text.in_(NEGATIVE + NEUTRAL))
                .distinct()
            ).all()
        )
    assert all(sentiments[t] == "negative" for t in NEGATIVE) and all(
        sentiments[t] != "negative" for t in NEUTRAL
    )

    supervisor = TestClient(create_app(rt))
    login = {"email": "supervisor@example.com", "password": "correct horse"}
    assert supervisor.post("/login", data=login, follow_redirects=False).status_code == 303
    raised: list[tuple[datetime, int]] = []
    at = local(monday, 8)
    while at <= local(monday + timedelta(days=1), 18):
        rt.clock = FrozenClock(at)
        raised.append((at, spikes.evaluate_due(rt)))
        if raised[-1][1]:  # the supervisor view shows it at once, with what the customers say
            banner = supervisor.get(f"/partials/supervise?ws={world.ws.id}").text
            assert "Surge of negative messages" in banner and "furious" in banner
            listed = supervisor.get(f"/api/v1/workspaces/{world.ws.id}/spike-alerts?open_only=true").json()
            assert [a["metric"] for a in listed] == ["negative"]
        at += Q
    assert "Surge of" not in supervisor.get(f"/partials/supervise?ws={world.ws.id}").text  # closed
    alerts_at = [t for t, n in raised if n]
    assert alerts_at == [surge_start + Q]  # once, at the end of the surge's first interval
    with rt.db.read() as s:
        (alert,) = s.scalars(sa.select(m.SpikeAlert)).all()
        event = s.scalars(sa.select(m.Event).where(m.Event.kind == "spike.alert")).one()
        watched = {w.workspace_id for w in s.scalars(sa.select(m.SpikeWatch))}
    assert alert.workspace_id == world.ws.id and alert.metric == "negative"
    assert (
        alert.observed >= 20 and alert.expected <= 3 and alert.ended_at is not None
    )  # closed after the surge
    terms = {t["term"] for t in alert.detail["top_terms"]}
    assert {"worst", "furious"} & terms and len(alert.detail["examples"]) == 3
    assert event.data["alert_id"] == alert.id and event.data["top_terms"] == alert.detail["top_terms"]
    assert watched == {
        world.ws.id,
        world.other_ws.id,
    }  # the quiet workspace was watched too, and said nothing


def test_no_history_no_alert(rt: Runtime, world: World) -> None:
    """A workspace without weeks of history has no usual level to compare with: no alert."""
    rng = random.Random(1)
    monday = date(2026, 11, 30)
    replay(rt, world, [(local(monday, 9), 0, 30)], rng)
    rt.clock = FrozenClock(local(monday, 9) + Q)
    assert spikes.evaluate_due(rt) == 0
