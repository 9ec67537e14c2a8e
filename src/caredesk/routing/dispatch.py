"""The waiting queue: unassigned open conversations handed to online agents with room, highest priority
first, then the longest waiting.

Strategies (`workspace.settings["routing"]["strategy"]`): `least_loaded` (default: the agent with the
lowest share of their capacity in use, preferring the conversation's team and language, the customer's
previous agent first), `round_robin` (the same preferences, then each agent in turn) and `manual`
(nothing is pushed; agents pull with "take next"). A returning
customer whose previous agent is online waits for that agent, even when the agent is at capacity. The
dispatcher runs after each pipeline batch, when an agent comes online or frees capacity, and every 30
seconds. A
conversation has one owner (`assignee_id`); on PostgreSQL the waiting rows are claimed with
`FOR UPDATE SKIP LOCKED` and the agents' rows locked, so two processes never give the same conversation
to two agents or an agent more than their capacity.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from caredesk.domain.types import ACTIVE_STATUSES, Role, Status
from caredesk.routing.assign import EPSILON, WorkspaceRoster, network_weights, weighted_loads
from caredesk.storage import models as m

STRATEGIES = ("least_loaded", "round_robin", "manual")
_BATCH = 500
# what choosing an agent reads of a waiting conversation: whole rows are loaded only for those given
_LIGHT = (
    m.Conversation.id,
    m.Conversation.contact_id,
    m.Conversation.channel_id,
    m.Conversation.team_id,
    m.Conversation.language,
    m.Conversation.topic,
)


def strategy_of(settings: dict[str, object] | None) -> str:
    raw = (settings or {}).get("routing")
    value = raw.get("strategy") if isinstance(raw, dict) else None
    return str(value) if value in STRATEGIES else "least_loaded"


def waiting_query(workspace_ids: Iterable[int]) -> sa.Select[m.Conversation]:
    """Open, unassigned conversations with a customer waiting, in the order they are to be taken."""
    return (
        sa.select(m.Conversation)
        .where(
            m.Conversation.workspace_id.in_(list(workspace_ids)),
            m.Conversation.status == Status.OPEN.value,
            m.Conversation.assignee_id.is_(None),
            m.Conversation.waiting_since.is_not(None),
        )
        .order_by(
            m.Conversation.priority.desc(),
            m.Conversation.waiting_since,
            m.Conversation.id,
        )
    )


def previous_owners(session: Session, contact_ids: Iterable[int | None]) -> dict[int, list[tuple[int, int]]]:
    """contact -> [(conversation, assignee)] of their assigned conversations, most recent first."""
    out: dict[int, list[tuple[int, int]]] = defaultdict(list)
    ids = sorted({c for c in contact_ids if c is not None})
    for start in range(0, len(ids), _BATCH):
        rows = session.execute(
            sa.select(m.Conversation.contact_id, m.Conversation.id, m.Conversation.assignee_id)
            .where(
                m.Conversation.contact_id.in_(ids[start : start + _BATCH]),
                m.Conversation.assignee_id.is_not(None),
            )
            .order_by(m.Conversation.last_message_at.desc(), m.Conversation.id.desc())
        )
        for contact_id, conv_id, assignee_id in rows:
            if contact_id is not None and assignee_id is not None:
                out[contact_id].append((conv_id, assignee_id))
    return out


class _Waiting(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def contact_id(self) -> int | None: ...


def sticky_agent(owners: dict[int, list[tuple[int, int]]], conv: _Waiting) -> int | None:
    """The agent who owned this customer's most recent other conversation."""
    if conv.contact_id is None:
        return None
    return next((agent for cid, agent in owners.get(conv.contact_id, []) if cid != conv.id), None)


def _lock_agents(session: Session, workspace_id: int) -> None:
    """PostgreSQL: hold the workspace's agent rows until commit, so loads cannot change under us."""
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite: the write transaction already holds the database's single write lock
    session.execute(
        sa.select(m.Agent.id)
        .join(m.Membership, m.Membership.agent_id == m.Agent.id)
        .where(m.Membership.workspace_id == workspace_id)
        .order_by(m.Agent.id)
        .with_for_update(of=m.Agent)
    ).all()


def dispatch(session: Session, workspace_id: int, now: datetime) -> list[tuple[int, int]]:
    """Assign waiting conversations of one workspace; returns [(conversation, agent)] in the order given."""
    ws = session.get(m.Workspace, workspace_id)
    if ws is None or strategy_of(ws.settings) == "manual":
        return []
    _lock_agents(session, workspace_id)
    strategy = strategy_of(ws.settings)
    roster = WorkspaceRoster.load(session, workspace_id, network_weights(ws.settings))
    routing = dict((ws.settings or {}).get("routing") or {})
    roster.last_agent_id = (
        routing.get("last_agent_id") if isinstance(routing.get("last_agent_id"), int) else None
    )
    if not roster.any_room():
        return []
    networks = dict(
        session.execute(
            sa.select(m.Channel.id, m.Channel.network).where(m.Channel.workspace_id == workspace_id)
        ).all()
    )
    query = waiting_query([workspace_id]).limit(_BATCH)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    waiting = session.execute(query.with_only_columns(*_LIGHT)).all()
    owners = previous_owners(session, (c.contact_id for c in waiting))
    given: list[tuple[int, int]] = []
    for conv in waiting:
        sticky = sticky_agent(owners, conv)
        weight = roster.weight(networks.get(conv.channel_id))
        if sticky is not None and sticky in roster.candidates and not roster.has_room(sticky, weight):
            continue  # kept for the customer's own agent, who is online: theirs when they have room
        agent_id = roster.choose(
            team_id=conv.team_id,
            language=conv.language,
            sticky_agent_id=sticky,
            weight=weight,
            strategy=strategy,
            topic=conv.topic,
            network=networks.get(conv.channel_id),
        )
        if agent_id is None:
            break  # nobody has room: the rest wait, in order
        given.append((conv.id, agent_id))
    chosen = dict(given)
    for row in session.scalars(sa.select(m.Conversation).where(m.Conversation.id.in_(chosen))):
        row.assignee_id = chosen[row.id]
        row.updated_at = now
        row.version = (row.version or 1) + 1
    if given and strategy == "round_robin" and roster.last_agent_id != routing.get("last_agent_id"):
        ws.settings = {**(ws.settings or {}), "routing": {**routing, "last_agent_id": roster.last_agent_id}}
    if given:
        session.execute(
            sa.insert(m.Event),
            [
                {
                    "workspace_id": workspace_id,
                    "at": now,
                    "kind": "conversation.assigned",
                    "actor_type": "system",
                    "actor_id": None,
                    "conversation_id": cid,
                    "message_id": None,
                    "data": {"assignee_id": agent_id, "by": "routing"},
                }
                for cid, agent_id in given
            ],
        )
    return given


def next_for(session: Session, workspace_id: int, agent_id: int) -> m.Conversation | None:
    """ "Take next": the highest-priority waiting conversation, leaving those kept for another online agent
    (a returning customer's own agent)."""
    online = set(
        session.scalars(
            sa.select(m.Agent.id)
            .join(m.Membership, m.Membership.agent_id == m.Agent.id)
            .where(m.Membership.workspace_id == workspace_id, m.Agent.active, m.Agent.presence == "online")
        )
    )
    query = waiting_query([workspace_id]).limit(_BATCH)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    waiting = session.execute(query.with_only_columns(m.Conversation.id, m.Conversation.contact_id)).all()
    owners = previous_owners(session, (c.contact_id for c in waiting))
    for conv in waiting:
        sticky = sticky_agent(owners, conv)
        if sticky is None or sticky == agent_id or sticky not in online:
            return session.get(m.Conversation, conv.id)
    return None


def load_of(session: Session, agent_id: int, weights: dict[str, float] | None = None) -> float:
    """The agent's load: active conversations owned, weighted by network (routing/assign.py)."""
    return weighted_loads(session, [agent_id], weights or {}).get(agent_id, 0.0)


def release_excess(session: Session, agent: m.Agent, now: datetime) -> list[int]:
    """An agent gone offline, or over a lowered capacity: their open conversations with a customer waiting
    go back to the queue (all of them when offline; the lowest-priority excess otherwise)."""
    active = list(
        session.scalars(
            sa.select(m.Conversation)
            .where(
                m.Conversation.assignee_id == agent.id,
                m.Conversation.status.in_([s.value for s in ACTIVE_STATUSES]),
            )
            .order_by(m.Conversation.priority, m.Conversation.waiting_since.desc(), m.Conversation.id.desc())
        )
    )
    movable = [c for c in active if c.status == Status.OPEN.value and c.waiting_since is not None]
    if agent.presence != "offline":  # online or away: only what is over capacity, lowest priority first
        weight = {c.id: _weight_of(session, c) for c in active}
        load = sum(weight.values())
        over: list[m.Conversation] = []
        for conv in movable:
            if load <= agent.max_concurrent + EPSILON:
                break
            over.append(conv)
            load -= weight[conv.id]
        movable = over
    for conv in movable:
        conv.assignee_id = None
        conv.updated_at = now
        conv.version = (conv.version or 1) + 1
        session.add(
            m.Event(
                workspace_id=conv.workspace_id,
                at=now,
                kind="conversation.assigned",
                actor_type="system",
                conversation_id=conv.id,
                data={"assignee_id": None, "previous_assignee_id": agent.id, "by": "routing"},
            )
        )
    return [c.id for c in movable]


def _weight_of(session: Session, conv: m.Conversation) -> float:
    ws = session.get(m.Workspace, conv.workspace_id)
    channel = session.get(m.Channel, conv.channel_id)
    return network_weights(ws.settings if ws else None).get(channel.network if channel else "", 1.0)


def workspaces_of(session: Session, agent_id: int) -> list[int]:
    rows = session.execute(
        sa.select(m.Membership.workspace_id, m.Membership.role).where(m.Membership.agent_id == agent_id)
    ).all()
    return sorted(ws for ws, role in rows if Role(role).allows(Role.AGENT))
