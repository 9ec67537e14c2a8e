"""Choosing an agent for a conversation: stickiness first, then skills, presence and capacity.

Among the online agents with room, preferring in turn the conversation's team, its language, and
agents whose skills name its topic and its network (an agent's `skills`: "billing", "x", or
"topic:billing", "network:x"): the least
loaded (`least_loaded`), or the next after the last one given a conversation, in agent order
(`round_robin`). Load is the number of active conversations an agent owns, each weighted by its network
when the workspace sets weights (`settings["routing"]["network_weights"]`, e.g. `{"email": 0.5}`; 1 by
default); an agent has room for a conversation when their load plus its weight stays within their
capacity. routing/dispatch.py decides which waiting conversation is next and when a customer waits for
their own agent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from caredesk.domain.types import ACTIVE_STATUSES, Presence, Role
from caredesk.storage import models as m

EPSILON = 1e-9


def network_weights(settings: dict[str, object] | None) -> dict[str, float]:
    raw = (settings or {}).get("routing")
    weights = raw.get("network_weights") if isinstance(raw, dict) else None
    if not isinstance(weights, dict):
        return {}
    return {str(k): float(v) for k, v in weights.items() if isinstance(v, (int, float)) and 0 < v <= 10}


def weighted_loads(session: Session, agent_ids: list[int], weights: dict[str, float]) -> dict[int, float]:
    """Each agent's load: their active conversations, each counted with its network's weight."""
    rows = session.execute(
        sa.select(m.Conversation.assignee_id, m.Channel.network, sa.func.count())
        .join(m.Channel, m.Channel.id == m.Conversation.channel_id)
        .where(
            m.Conversation.assignee_id.in_(agent_ids),
            m.Conversation.status.in_([s.value for s in ACTIVE_STATUSES]),
        )
        .group_by(m.Conversation.assignee_id, m.Channel.network)
    ).all()
    loads: dict[int, float] = {}
    for agent_id, network, count in rows:
        if agent_id is None:
            continue
        loads[agent_id] = loads.get(agent_id, 0.0) + weights.get(network, 1.0) * int(count)
    return loads


@dataclass(slots=True)
class Candidate:
    agent_id: int
    languages: frozenset[str]
    teams: frozenset[int]
    skills: frozenset[str]
    capacity: int
    load: float

    def room_for(self, weight: float) -> bool:
        return self.load + weight <= self.capacity + EPSILON


@dataclass(slots=True)
class WorkspaceRoster:
    """Online agents of a workspace and their current load; loads move as this batch assigns."""

    candidates: dict[int, Candidate] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    last_agent_id: int | None = None  # round robin: the last agent given a conversation

    @classmethod
    def load(
        cls, session: Session, workspace_id: int, weights: dict[str, float] | None = None
    ) -> WorkspaceRoster:
        rows = session.execute(
            sa.select(
                m.Agent.id, m.Agent.languages, m.Agent.skills, m.Agent.max_concurrent, m.Membership.role
            )
            .join(m.Membership, m.Membership.agent_id == m.Agent.id)
            .where(
                m.Membership.workspace_id == workspace_id,
                m.Agent.active,
                m.Agent.presence == Presence.ONLINE.value,
            )
        ).all()
        roster = cls(weights=dict(weights or {}))
        ids = [r.id for r in rows if Role(r.role).allows(Role.AGENT)]
        if not ids:
            return roster
        loads = weighted_loads(session, ids, roster.weights)
        teams: dict[int, set[int]] = {}
        for team_id, agent_id in session.execute(
            sa.select(m.TeamMember.team_id, m.TeamMember.agent_id).where(m.TeamMember.agent_id.in_(ids))
        ):
            teams.setdefault(agent_id, set()).add(team_id)
        for r in rows:
            if r.id in ids:
                roster.candidates[r.id] = Candidate(
                    agent_id=r.id,
                    languages=frozenset(r.languages or []),
                    teams=frozenset(teams.get(r.id, set())),
                    skills=frozenset(str(x).lower() for x in r.skills or []),
                    capacity=r.max_concurrent,
                    load=loads.get(r.id, 0.0),
                )
        return roster

    def weight(self, network: str | None) -> float:
        return self.weights.get(network or "", 1.0)

    def has_room(self, agent_id: int | None, weight: float = 1.0) -> bool:
        c = self.candidates.get(agent_id) if agent_id is not None else None
        return c is not None and c.room_for(weight)

    def any_room(self) -> bool:
        return any(c.room_for(min([1.0, *self.weights.values()])) for c in self.candidates.values())

    def choose(
        self,
        *,
        team_id: int | None,
        language: str | None,
        sticky_agent_id: int | None,
        weight: float = 1.0,
        strategy: str = "least_loaded",
        topic: str | None = None,
        network: str | None = None,
    ) -> int | None:
        if sticky_agent_id is not None and self.has_room(sticky_agent_id, weight):
            return self._take(sticky_agent_id, weight)
        pool = [c for c in self.candidates.values() if c.room_for(weight)]
        if team_id is not None and any(team_id in c.teams for c in pool):
            pool = [c for c in pool if team_id in c.teams]
        if language and any(language in c.languages for c in pool):
            pool = [c for c in pool if language in c.languages]
        for kind, value in (("topic", topic), ("network", network)):
            wanted = {value.lower(), f"{kind}:{value.lower()}"} if value else set()
            if wanted and any(c.skills & wanted for c in pool):
                pool = [c for c in pool if c.skills & wanted]
        if not pool:
            return None
        if strategy == "round_robin":
            ordered = sorted(pool, key=lambda c: c.agent_id)
            last = self.last_agent_id if self.last_agent_id is not None else -1
            best = next((c for c in ordered if c.agent_id > last), ordered[0])
        else:
            best = min(pool, key=lambda c: (c.load / max(1, c.capacity), c.load, c.agent_id))
        return self._take(best.agent_id, weight)

    def _take(self, agent_id: int, weight: float) -> int:
        self.candidates[agent_id].load += weight
        self.last_agent_id = agent_id
        return agent_id
