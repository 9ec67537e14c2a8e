"""Learning from the team: decisions read from the conversations, a stored adjustment (plain arrays), the
pipeline applying it to that workspace only, and `caredesk triage adapt`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import sqlalchemy as sa
from typer.testing import CliRunner

from caredesk.actions import intake
from caredesk.cli.main import app
from caredesk.domain.types import Author, Direction, InboundEvent
from caredesk.pipeline.runner import Pipeline
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from caredesk.triage import adapt
from caredesk.triage.model import default_triager
from tests.conftest import World

START = datetime(2026, 10, 1, 9, tzinfo=UTC)
# This team answers billing questions and never answers questions about opening hours (its website does).
ANSWERED = [
    "my bill is wrong this month, I was charged twice",
    "why is my invoice so high? please check",
    "you took the payment two times, refund please",
    "the direct debit amount is not what we agreed",
]
IGNORED = [
    "what are your opening hours on saturday?",
    "when does the shop open tomorrow?",
    "is the store open on sunday?",
    "what time do you close today?",
]


def _feed(rt: Runtime, world: World, n: int) -> None:
    events = []
    for i in range(n):
        answered = i % 2 == 0
        text = (ANSWERED if answered else IGNORED)[i // 2 % 4] + f" #{i}"
        at = START + timedelta(hours=i)
        events.append(
            InboundEvent(f"in-{i}", at, text, Author(id=f"cust-{i}", handle=f"@c{i}", name=f"C{i}"))
        )
        if answered:
            events.append(
                InboundEvent(
                    f"out-{i}",
                    at + timedelta(minutes=20),
                    "Sorry about that, checking your bill now ^AG",
                    Author(id="brand", handle="@acme", name="Acme"),
                    direction=Direction.OUT,
                    in_reply_to=f"in-{i}",
                )
            )
    intake.accept(rt, world.channel.id, events)
    Pipeline(rt).drain()


def test_decisions_adjustment_and_the_pipeline(rt: Runtime, world: World) -> None:
    _feed(rt, world, 120)
    now = START + timedelta(days=30)
    with rt.db.read() as s:
        decided = adapt.team_decisions(s, world.ws.id, now)
    assert len(decided) == 120
    assert sum(label for _, _, label in decided) == 60
    assert all(label == (text.split(" #")[0] in ANSWERED) for text, _, label in decided)

    triager = default_triager()
    before = triager.classify([adapt.TriageInput("what are your opening hours on monday?")])[0]["needs_reply"]
    metrics = adapt.adapt_workspace(rt, triager, world.ws.id)
    assert metrics is not None and metrics["decisions"] == 120
    assert metrics["time_split"]["adjusted_accuracy"] >= metrics["time_split"]["shipped_accuracy"]
    with rt.db.read() as s:
        row = s.scalars(sa.select(m.TriageAdjustment)).one()
        assert row.head == "needs_reply" and row.workspace_id == world.ws.id
        stored = adapt.Adjustment.from_bytes("needs_reply", row.weights)
    assert stored.coef.dtype == np.float32

    later = START + timedelta(days=10)
    intake.accept(
        rt,
        world.channel.id,
        [InboundEvent("q-1", later, "what are your opening hours on monday?", Author(id="q", name="Q"))],
    )
    Pipeline(rt).drain()
    with rt.db.read() as s:
        msg = s.scalars(sa.select(m.Message).where(m.Message.external_id == "q-1")).one()
    assert msg.triage["needs_reply_shipped"] == before
    assert msg.triage["needs_reply"] < before - 0.1  # this team does not answer these
    bill_question = adapt.TriageInput("I was charged twice on my bill", workspace_id=world.ws.id)
    bill = triager.classify([bill_question])[0]
    assert bill["needs_reply"] >= 0.5  # and does answer these

    # another workspace keeps the shipped head
    other = triager.classify([adapt.TriageInput("what are your opening hours on monday?", workspace_id=999)])
    assert "needs_reply_shipped" not in other[0]


def test_too_few_decisions_fit_nothing(rt: Runtime, world: World) -> None:
    _feed(rt, world, 10)
    assert adapt.adapt_workspace(rt, default_triager(), world.ws.id) is None
    with rt.db.read() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(m.TriageAdjustment)) == 0


def test_cli_adapt(rt: Runtime, world: World) -> None:
    _feed(rt, world, 80)
    result = CliRunner().invoke(
        app,
        ["triage", "adapt", "--workspace", "acme", "--db", rt.db.url.render_as_string(hide_password=False)],
    )
    assert result.exit_code == 0, result.output
    assert "fitted on 80 decisions" in result.output
    result = CliRunner().invoke(
        app,
        ["triage", "adapt", "--workspace", "nope", "--db", rt.db.url.render_as_string(hide_password=False)],
    )
    assert result.exit_code == 2


def test_an_adjustment_from_older_features_is_ignored_then_refitted(rt: Runtime, world: World) -> None:
    """After an upgrade that changes the features, a stored adjustment is not applied to columns it was
    not fitted on: the pipeline uses the shipped head, and the scheduled job refits it at once."""
    _feed(rt, world, 120)
    triager = default_triager()
    assert adapt.adapt_workspace(rt, triager, world.ws.id) is not None
    with rt.db.write() as s:
        row = s.scalars(sa.select(m.TriageAdjustment)).one()
        current = adapt.Adjustment.from_bytes("needs_reply", row.weights)
        assert current.fits(triager)
        old = adapt.Adjustment("needs_reply", current.coef, current.intercept, feature_version=1)
        row.weights = old.to_bytes()
        fitted_at = row.fitted_at
    assert not adapt.Adjustment.from_bytes("needs_reply", old.to_bytes()).fits(triager)
    narrower = adapt.Adjustment("needs_reply", current.coef[1:], current.intercept)
    assert not narrower.fits(triager)

    intake.accept(
        rt,
        world.channel.id,
        [InboundEvent("q-2", START + timedelta(days=10), "when do you open on monday?", Author(id="q"))],
    )
    Pipeline(rt).drain()
    with rt.db.read() as s:
        msg = s.scalars(sa.select(m.Message).where(m.Message.external_id == "q-2")).one()
    assert "needs_reply_shipped" not in msg.triage  # the stale adjustment was not applied

    assert adapt.adapt_due(rt, triager) == 1  # refitted although fitted less than a day ago
    with rt.db.read() as s:
        row = s.scalars(sa.select(m.TriageAdjustment)).one()
        assert adapt.Adjustment.from_bytes("needs_reply", row.weights).fits(triager)
        assert row.fitted_at != fitted_at
    assert adapt.adapt_due(rt, triager) == 0  # and not again until it is a day old
