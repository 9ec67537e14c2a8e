"""A simulated day of routing: 5 agents on shifts, 2,000 conversations, returning customers.

Checked all along: no agent above capacity, one owner per conversation (never assigned while owned),
a returning customer goes back to their agent when that agent is online, and the waiting queue is taken
highest priority first (by the dispatcher and by "take next").
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from caredesk.actions import admin, conversations, intake
from caredesk.actions.base import Actor
from caredesk.domain.clock import FrozenClock
from caredesk.domain.errors import Conflict
from caredesk.domain.types import ACTIVE_STATUSES, Author, InboundEvent, Presence, Role, Status
from caredesk.pipeline.runner import Pipeline
from caredesk.routing import dispatch as dispatch_module
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from tests.conftest import World

START = datetime(2026, 12, 1, tzinfo=UTC)
TEXTS = [
    "where is my parcel? it was due yesterday",
    "I am switching to another provider if this is not fixed today, third outage this week!!",
    "thanks for the quick help earlier",
    "my internet is down again, nothing works",
    "can I change the delivery address for my order?",
    "this is unacceptable, I want to cancel my contract and get a refund now",
    "how do I reset my password?",
    "you charged me twice this month, please fix it",
    "min pakke er ikke kommet, hvad sker der?",
    "mi pedido llegó roto, quiero una devolución",
]


def _active_loads(session: Session) -> dict[int, int]:
    rows = session.execute(
        sa.select(m.Conversation.assignee_id, sa.func.count())
        .where(
            m.Conversation.assignee_id.is_not(None),
            m.Conversation.status.in_([s.value for s in ACTIVE_STATUSES]),
        )
        .group_by(m.Conversation.assignee_id)
    ).all()
    return {int(a): int(n) for a, n in rows}


def _light(workspace_id: int) -> sa.Select[Any]:
    """The waiting queue in its order, only the columns the checks read."""
    query = dispatch_module.waiting_query([workspace_id])
    return query.with_only_columns(m.Conversation.id, m.Conversation.priority, m.Conversation.contact_id)


class Checker:
    """Wraps the dispatcher: after every call, in its own transaction, the invariants must hold."""

    def __init__(self, original: Callable[..., list[tuple[int, int]]]) -> None:
        self.original = original
        self.calls = 0
        self.given = 0
        self.sticky_checked = 0

    def __call__(self, session: Session, workspace_id: int, now: datetime) -> list[tuple[int, int]]:
        # Who was the customer's agent, and were they online, before this call assigns anything.
        waiting_before = list(session.execute(_light(workspace_id)))
        owners = dispatch_module.previous_owners(session, (c.contact_id for c in waiting_before))
        online = set(
            session.scalars(
                sa.select(m.Agent.id).where(m.Agent.presence == Presence.ONLINE.value, m.Agent.active)
            )
        )
        sticky = {c.id: dispatch_module.sticky_agent(owners, c) for c in waiting_before}  # type: ignore[arg-type]
        given = self.original(session, workspace_id, now)
        self.calls += 1
        self.given += len(given)
        session.flush()
        capacity = {row[0]: row[1] for row in session.execute(sa.select(m.Agent.id, m.Agent.max_concurrent))}
        for agent_id, load in _active_loads(session).items():
            assert load <= capacity[agent_id], f"agent {agent_id} holds {load} > {capacity[agent_id]}"
        for conv_id, agent_id in given:
            owner = sticky.get(conv_id)
            if owner is not None and owner in online:
                assert agent_id == owner, (
                    f"returning customer of conversation {conv_id} not back with {owner}"
                )
                self.sticky_checked += 1
        if given:
            priorities = {c.id: c.priority for c in waiting_before}
            lowest_given = min(priorities[cid] for cid, _ in given)
            left = [
                c
                for c in session.execute(_light(workspace_id))
                if not (sticky.get(c.id) in online and sticky.get(c.id) is not None)
            ]
            if left:
                assert max(c.priority for c in left) <= lowest_given, (
                    "a higher-priority conversation was left"
                )
        return given


def _owners_never_overlap(session: Session) -> int:
    """Replays every assignment: a conversation is only ever given to someone while it has no owner."""
    state: dict[int, int | None] = {}
    resolved: set[int] = set()
    checked = 0
    for kind, conv_id, data in session.execute(
        sa.select(m.Event.kind, m.Event.conversation_id, m.Event.data)
        .where(m.Event.kind.in_(["conversation.assigned", "conversation.resolved", "conversation.reopened"]))
        .order_by(m.Event.id)
    ):
        if kind == "conversation.resolved":
            resolved.add(conv_id)
        elif kind == "conversation.reopened":
            resolved.discard(conv_id)
        elif data.get("by") in ("routing", "take_next") and data.get("assignee_id") is not None:
            assert state.get(conv_id) is None or conv_id in resolved, f"conversation {conv_id} had two owners"
            state[conv_id] = data["assignee_id"]
            checked += 1
        else:
            state[conv_id] = data.get("assignee_id")
    return checked


@pytest.mark.slow
def test_a_day_of_routing(sqlite_rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    rt = sqlite_rt
    clock = FrozenClock(START)
    rt.clock = clock
    world = World(rt)
    checker = Checker(dispatch_module.dispatch)
    for module in ("caredesk.pipeline.stages", "caredesk.actions.conversations", "caredesk.actions.admin"):
        monkeypatch.setattr(f"{module}.dispatch", checker)

    system = Actor.system()
    agents = []
    for k in range(5):
        agent = admin.create_agent(
            rt, system, email=f"shift{k}@example.com", name=f"Shift {k}", password="correct horse",
            languages=[["en"], ["en", "da"], ["en", "es"], ["en"], ["en", "da", "es"]][k],
        )  # fmt: skip
        admin.add_member(rt, system, workspace_id=world.ws.id, agent_id=agent.id, role=Role.AGENT)
        with rt.db.write() as session:
            session.get(m.Agent, agent.id).max_concurrent = 5 + k % 2  # type: ignore[union-attr]
        agents.append(agent.id)
    # Shifts in hours from midnight: nobody between 00:00 and 03:00, so a night queue builds; the afternoon
    # peak is a little more than the team can hold, so the queue grows and drains again.
    hours = [[(3, 12), (20, 36)], [(5, 16)], [(8, 20)], [(10, 22)], [(12, 24), (28, 36)]]
    shifts = {a: hours[k] for k, a in enumerate(agents)}

    rng = random.Random(20261201)
    step = 5  # minutes of simulated time per step
    arrivals: dict[int, int] = {}  # step -> how many new conversations
    for _ in range(2000):
        at = min(1439, int(rng.triangular(0, 1440, 780)))
        arrivals[at // step] = arrivals.get(at // step, 0) + 1
    done_customers: list[str] = []  # customers whose last conversation is resolved: they may come back
    resolve_at: dict[int, datetime] = {}
    serial = 0
    for tick in range((1440 + 12 * 60) // step):  # the day, then until the queue is empty
        minute = tick * step
        now = START + timedelta(minutes=minute)
        clock._now = now
        hour = minute / 60
        for agent_id, spans in shifts.items():
            for on, off in spans:
                if hour == on:
                    admin.set_presence(rt, Actor.agent(agent_id), Presence.ONLINE)
                if hour == off:
                    admin.set_presence(rt, Actor.agent(agent_id), Presence.OFFLINE)
        resolved_now: list[int] = []
        for conv_id, when in sorted(resolve_at.items()):
            if when <= now:
                with rt.db.read() as session:
                    conv = session.get(m.Conversation, conv_id)
                    owner = conv.assignee_id if conv else None
                    still_open = conv is not None and conv.status == Status.OPEN.value
                del resolve_at[conv_id]
                if owner is not None and still_open:
                    conversations.set_status(rt, Actor.agent(owner), conv_id, Status.RESOLVED)
                    resolved_now.append(conv_id)
        if resolved_now:
            with rt.db.read() as session:
                done_customers.extend(
                    session.scalars(
                        sa.select(m.ContactIdentity.value)
                        .join(m.Conversation, m.Conversation.contact_id == m.ContactIdentity.contact_id)
                        .where(m.Conversation.id.in_(resolved_now), m.ContactIdentity.kind != "email")
                    )
                )
        events = []
        for _ in range(arrivals.get(tick, 0)):
            serial += 1
            if done_customers and rng.random() < 0.3:
                customer = done_customers.pop(rng.randrange(len(done_customers)))
            else:
                customer = f"cust-{serial}"
            text = rng.choice(TEXTS)
            events.append(
                InboundEvent(
                    external_id=f"m{serial}",
                    created_at=now,
                    text=text,
                    author=Author(id=customer, handle=f"@{customer}", name=customer),
                    public=False,
                    thread=f"case-{serial}",
                )
            )
        if events:
            intake.accept(rt, world.channel.id, events)
            Pipeline(rt).drain()
        with rt.db.read() as session:
            for conv_id in session.scalars(
                sa.select(m.Conversation.id).where(
                    m.Conversation.status == Status.OPEN.value, m.Conversation.assignee_id.is_not(None)
                )
            ):
                if conv_id not in resolve_at:
                    resolve_at[conv_id] = now + timedelta(minutes=rng.randint(3, 15))
        if minute >= 1440 and not resolve_at:
            with rt.db.read() as session:
                if session.scalar(dispatch_module.waiting_query([world.ws.id]).limit(1)) is None:
                    break

    with rt.db.read() as session:
        total = session.scalar(sa.select(sa.func.count()).select_from(m.Conversation).where(
            m.Conversation.workspace_id == world.ws.id))  # fmt: skip
        assigned = _owners_never_overlap(session)
        waiting = session.scalar(dispatch_module.waiting_query([world.ws.id]).limit(1))
    assert total is not None and total >= 2000
    assert assigned >= 2000 and waiting is None  # everyone was answered by someone, none twice at once
    assert checker.calls > 100 and checker.given >= 2000
    assert checker.sticky_checked > 100  # returning customers whose agent was online, all back with them


def test_take_next_pulls_the_highest_priority(rt: Runtime, world: World) -> None:
    rt.clock = FrozenClock(START)
    with rt.db.write() as session:
        ws = session.get(m.Workspace, world.ws.id)
        assert ws is not None
        ws.settings = {**(ws.settings or {}), "routing": {"strategy": "manual"}}
    events = [
        InboundEvent(
            external_id=f"p{n}",
            created_at=START + timedelta(seconds=n),
            text=TEXTS[n % len(TEXTS)],
            author=Author(id=f"c{n}", handle=f"@c{n}", name=f"C{n}"),
            public=False,
            thread=f"t{n}",
        )
        for n in range(20)
    ]
    intake.accept(rt, world.channel.id, events)
    Pipeline(rt).drain()
    admin.set_presence(rt, world.actor("agent"), Presence.ONLINE)
    with rt.db.read() as session:
        assert session.scalar(sa.select(sa.func.count()).where(m.Conversation.assignee_id.is_not(None))) == 0
        capacity = session.get(m.Agent, world.agents["agent"]).max_concurrent  # type: ignore[union-attr]
    taken: list[Any] = []
    for _ in range(capacity):
        with rt.db.read() as session:
            top = max(c.priority for c in session.scalars(dispatch_module.waiting_query([world.ws.id])))
        conv = conversations.take_next(rt, world.actor("agent"), world.ws.id)
        assert conv is not None and conv.priority == top and conv.assignee_id == world.agents["agent"]
        taken.append(conv.priority)
    assert taken == sorted(taken, reverse=True) and len(set(taken)) > 1
    with pytest.raises(Conflict, match="capacity"):
        conversations.take_next(rt, world.actor("agent"), world.ws.id)
    # Lowering the capacity puts the lowest-priority excess back in the queue.
    admin.set_capacity(
        rt, Actor.system(), workspace_id=world.ws.id, agent_id=world.agents["agent"], max_concurrent=2
    )
    with rt.db.read() as session:
        mine = session.scalars(
            sa.select(m.Conversation.priority).where(m.Conversation.assignee_id == world.agents["agent"])
        ).all()
    assert sorted(mine, reverse=True) == taken[:2]
