"""Roll-ups (analytics/rollups.py): quantiles from the log-spaced buckets within 1% of the exact ones; after
two weeks of customers, replies, assignments, resolutions and reopenings, what the transactions kept up to
date is what a rebuild from the facts gives; and every report read from them agrees with the same report
read from the facts, for every slice, in calendar and business hours, and for ranges that start and end
inside a day. On SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from caredesk.actions import conversations as conv_actions
from caredesk.actions import intake
from caredesk.actions.admin import create_team
from caredesk.actions.base import Actor
from caredesk.analytics import kpis, reports, rollups
from caredesk.domain.clock import FrozenClock
from caredesk.domain.types import Author, Direction, InboundEvent, Status
from caredesk.pipeline.runner import Pipeline
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from tests.conftest import World
from tests.test_facts import assert_agree, cph, office  # noqa: F401 (office: the fixture)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_quantiles_from_buckets_are_within_one_percent(seed: int) -> None:
    rng = random.Random(seed)
    values = sorted(rng.lognormvariate(7, 1.5) for _ in range(5001)) + [0.0] * 3
    values.sort()
    hist = np.zeros(rollups.SLOTS, dtype=np.int64)
    for v in values:
        slot = rollups.slot_of(v)
        hist[slot] += 1
        assert abs(rollups.value_of(slot) - v) <= 0.01 * v
        assert rollups.decode(rollups.encode(hist))[slot] == hist[slot]
    for q in (0.0, 0.1, 0.5, 0.9, 0.99, 1.0):
        exact = kpis.quantile(values, q)
        assert exact is not None
        assert rollups.quantile(hist, q) == pytest.approx(exact, rel=0.01, abs=1e-9), q
    assert rollups.quantile(np.zeros(rollups.SLOTS), 0.5) is None


def _snapshot(rt: Runtime) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    """The roll-up rows that count anything."""
    t, h = m.daily_rollups, m.rollup_histograms
    with rt.db.read() as s:
        counts = {
            tuple(round(v, 6) if isinstance(v, float) else v for v in row)
            for row in s.execute(sa.select(t))
            if any(row._mapping[c] for c in rollups.COUNT_COLUMNS)
        }
        bins = {
            (*row[:5], tuple(rollups.decode(row.counts)))
            for row in s.execute(sa.select(h))
            if rollups.decode(row.counts).any()
        }
    return counts, bins


def _two_weeks(rt: Runtime, w: World) -> None:
    """Forty customers over two weeks: answered sooner or later (or never), assigned, some to a team,
    resolved, some writing again after that."""
    rng = random.Random(7)
    team = create_team(rt, Actor.system(), workspace_id=w.ws.id, name="Returns")
    start = cph(2026, 11, 16, 8, 0)
    brand = Author(id="acme", handle="@acme")
    events: dict[datetime, list[InboundEvent]] = {}
    for n in range(40):
        customer = Author(id=f"c{n}", handle=f"@c{n}", name=f"C{n}")
        at = start + timedelta(minutes=rng.randrange(14 * 24 * 60))
        for k in range(rng.randint(1, 3)):
            ext = f"c{n}-{k}"
            events.setdefault(at, []).append(
                InboundEvent(external_id=ext, created_at=at, text=f"help {ext}", author=customer,
                             public=False, thread=f"dm-{n}")
            )  # fmt: skip
            if rng.random() < 0.8:
                back = at + timedelta(minutes=rng.choice([3, 20, 50, 70, 300, 2000]))
                events.setdefault(back, []).append(
                    InboundEvent(external_id=f"b{n}-{k}", created_at=back, text="on it", author=brand,
                                 direction=Direction.OUT, public=False, thread=f"dm-{n}", in_reply_to=ext,
                                 recipient=customer)
                )  # fmt: skip
                at = back + timedelta(minutes=rng.randint(5, 600))
            else:
                at += timedelta(minutes=rng.randint(1, 30))
    for at in sorted(events):
        intake.accept(rt, w.channel.id, events[at])
    Pipeline(rt).drain()
    with rt.db.read() as s:
        ids = list(s.scalars(sa.select(m.Conversation.id).order_by(m.Conversation.id)))
    rt.clock = FrozenClock(cph(2026, 12, 1, 12, 0))
    for i, conv in enumerate(ids):
        if i % 3:
            agent = w.agents["agent" if i % 2 else "agent2"]
            conv_actions.assign(
                rt, w.actor("supervisor"), conv, agent_id=agent, team_id=team.id if i % 5 else None
            )
        if i % 4 == 0:
            conv_actions.set_status(rt, w.actor("supervisor"), conv, Status.RESOLVED)
    with rt.db.read() as s:
        first = dict(
            s.execute(
                sa.select(m.Message.external_id, m.Message.conversation_id).where(
                    m.Message.external_id.in_([f"c{n}-0" for n in range(0, 40, 8)])
                )
            ).all()
        )
    for conv in set(first.values()):
        with rt.db.read() as s:
            done = s.scalar(sa.select(m.Conversation.status).where(m.Conversation.id == conv)) == "resolved"
        if not done:
            conv_actions.set_status(rt, w.actor("supervisor"), conv, Status.RESOLVED)
    rt.clock = FrozenClock(cph(2026, 12, 2, 9, 0))
    again = [InboundEvent(external_id=f"again{n}", created_at=cph(2026, 12, 2, 9, n), text="still broken",
                          author=Author(id=f"c{n}", handle=f"@c{n}", name=f"C{n}"), public=False,
                          thread=f"dm-{n}", in_reply_to=f"c{n}-0") for n in range(0, 40, 8)]  # fmt: skip
    intake.accept(rt, w.channel.id, again)
    Pipeline(rt).drain()


def test_incremental_roll_ups_equal_a_rebuild_and_every_report_agrees_with_the_facts(
    rt: Runtime,
    office: World,  # noqa: F811
) -> None:
    _two_weeks(rt, office)
    kept = _snapshot(rt)
    assert len(kept[0]) > 100 and len(kept[1]) > 100
    with rt.db.write() as s:
        rollups.rebuild(s, [office.ws.id])
    assert _snapshot(rt) == kept  # what the transactions kept is what the facts add up to
    ws = office.ws.id
    with rt.db.read() as s:
        reopened = reports.summary(s, ws, exact=True)[0]["reopen_rate"]
        assert reopened and reopened > 0  # the scenario reaches every kind of change
        for by in (None, *reports.SLICES):
            for bh in (False, True):
                exact = reports.summary(s, ws, by=by, business_hours=bh, exact=True)
                assert_agree(reports.summary(s, ws, by=by, business_hours=bh), exact)
        assert {r["slice"] for r in reports.summary(s, ws, by="team")} == {"Returns", "(no team)"}
        # ranges that start and end inside a day: whole days from the roll-ups, part days from the facts
        for since, until in [
            (cph(2026, 11, 18, 13, 7), cph(2026, 11, 25, 17, 41)),
            (cph(2026, 11, 20, 0, 0), cph(2026, 11, 27, 0, 0)),
            (cph(2026, 11, 21, 10, 0), cph(2026, 11, 21, 15, 0)),
            (None, cph(2026, 11, 22, 12, 0)),
            (cph(2026, 11, 22, 12, 0), None),
        ]:
            for by in (None, "agent"):
                exact = reports.summary(s, ws, since=since, until=until, by=by, exact=True)
                assert_agree(reports.summary(s, ws, since=since, until=until, by=by), exact)
            assert_agree(
                [r.as_dict() for r in reports.reply_times(s, workspace_ids=[ws], since=since, until=until)],
                [
                    r.as_dict()
                    for r in reports.reply_times(s, workspace_ids=[ws], since=since, until=until, exact=True)
                ],
            )
            assert_agree(
                reports.hour_of_week(s, ws, since=since, until=until),
                reports.hour_of_week(s, ws, since=since, until=until, exact=True),
            )


def test_figures_of_an_older_release_are_recomputed_once_after_the_migrations(
    rt: Runtime, world: World
) -> None:
    """A database whose facts and roll-ups an older release wrote (no version stored, a fact and a
    roll-up row off): migrating recomputes both once; migrating again changes nothing."""
    from caredesk.analytics import upkeep

    rt.clock = FrozenClock(cph(2026, 11, 23, 10, 0))
    for n in range(3):
        world.customer_writes(f"u{n}", "where is my parcel?", who=f"u{n}")
    before = _snapshot(rt)
    with rt.db.read() as s:
        good = reports.summary(s, world.ws.id)
    with rt.db.write() as s:
        s.execute(sa.delete(m.ReportState))
        s.execute(sa.update(m.ConversationFact).values(inbound_count=99))
        s.execute(sa.update(m.daily_rollups).values(conversations=7))
    with rt.db.read() as s:
        assert reports.summary(s, world.ws.id) != good  # what the older release left
    rt.db.migrate()
    assert _snapshot(rt) == before
    with rt.db.read() as s:
        assert reports.summary(s, world.ws.id) == good
        assert s.get(m.ReportState, "facts").version == upkeep.FACTS_VERSION  # type: ignore[union-attr]
    assert upkeep.bring_up_to_date(rt.db) == {"conversations": 0, "rollup_rows": 0}
