"""Choosing an agent for a conversation: stickiness first, then skills, presence and capacity.

Least-loaded among the agents with room; routing/dispatch.py decides which waiting conversation is next
and when a customer waits for their own agent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from caredesk.domain.types import ACTIVE_STATUSES, Presence, Role
from caredesk.storage import models as m


@dataclass(slots=True)
class Candidate:
    agent_id: int
    languages: frozenset[str]
    teams: frozenset[int]
    capacity: int
    load: int


@dataclass(slots=True)
class WorkspaceRoster:
    """Online agents of a workspace and their current load; loads move as this batch assigns."""

    candidates: dict[int, Candidate] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session, workspace_id: int) -> WorkspaceRoster:
        rows = session.execute(
            sa.select(m.Agent.id, m.Agent.languages, m.Agent.max_concurrent, m.Membership.role)
            .join(m.Membership, m.Membership.agent_id == m.Agent.id)
            .where(
                m.Membership.workspace_id == workspace_id,
                m.Agent.active,
                m.Agent.presence == Presence.ONLINE.value,
            )
        ).all()
        roster = cls()
        ids = [r.id for r in rows if Role(r.role).allows(Role.AGENT)]
        if not ids:
            return roster
        loads = dict(
            session.execute(
                sa.select(m.Conversation.assignee_id, sa.func.count())
                .where(
                    m.Conversation.assignee_id.in_(ids),
                    m.Conversation.status.in_([s.value for s in ACTIVE_STATUSES]),
                )
                .group_by(m.Conversation.assignee_id)
            ).all()
        )
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
                    capacity=r.max_concurrent,
                    load=int(loads.get(r.id, 0)),
                )
        return roster

    def has_room(self, agent_id: int | None) -> bool:
        c = self.candidates.get(agent_id) if agent_id is not None else None
        return c is not None and c.load < c.capacity

    def choose(self, *, team_id: int | None, language: str | None, sticky_agent_id: int | None) -> int | None:
        if sticky_agent_id is not None and self.has_room(sticky_agent_id):
            return self._take(sticky_agent_id)
        pool = [c for c in self.candidates.values() if c.load < c.capacity]
        if team_id is not None and any(team_id in c.teams for c in pool):
            pool = [c for c in pool if team_id in c.teams]
        if language and any(language in c.languages for c in pool):
            pool = [c for c in pool if language in c.languages]
        if not pool:
            return None
        best = min(pool, key=lambda c: (c.load / max(1, c.capacity), c.load, c.agent_id))
        return self._take(best.agent_id)

    def _take(self, agent_id: int) -> int:
        self.candidates[agent_id].load += 1
        return agent_id
