"""What every action shares: who is acting, what they may do, and the event log they leave behind."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from caredesk.domain.errors import Forbidden, NotFound
from caredesk.domain.types import Role
from caredesk.storage import models as m


@dataclass(frozen=True, slots=True)
class Actor:
    """An agent (from a session or an API token) or the system itself (CLI operator, pipeline, workers)."""

    kind: str  # "agent" or "system"
    agent_id: int | None = None
    is_superadmin: bool = False
    scopes: frozenset[str] | None = None  # API token scopes; None means the agent's full rights

    @classmethod
    def system(cls) -> Actor:
        return cls(kind="system", is_superadmin=True)

    @classmethod
    def agent(
        cls, agent_id: int, *, is_superadmin: bool = False, scopes: frozenset[str] | None = None
    ) -> Actor:
        return cls(kind="agent", agent_id=agent_id, is_superadmin=is_superadmin, scopes=scopes)


def role_in(session: Session, actor: Actor, workspace_id: int) -> Role | None:
    if actor.kind == "system":
        return Role.ADMIN
    role = session.scalar(
        sa.select(m.Membership.role).where(
            m.Membership.workspace_id == workspace_id, m.Membership.agent_id == actor.agent_id
        )
    )
    if role is None:
        return Role.ADMIN if actor.is_superadmin else None
    return Role(role)


def require(session: Session, actor: Actor, workspace_id: int, needed: Role) -> Role:
    """Refuse unless the actor is a member of the workspace with at least the `needed` role.

    A non-member gets NotFound, not Forbidden: it must not learn that the workspace or its rows exist.
    """
    role = role_in(session, actor, workspace_id)
    if role is None:
        raise NotFound("not found")
    if not role.allows(needed):
        raise Forbidden(f"this needs the {needed.value} role in this workspace (you are {role.value})")
    if actor.scopes is not None and needed.rank > Role.ANALYST.rank and "write" not in actor.scopes:
        raise Forbidden("this API token is read-only")
    return role


def record(
    session: Session,
    actor: Actor,
    kind: str,
    *,
    workspace_id: int | None,
    conversation_id: int | None = None,
    message_id: int | None = None,
    at: Any,
    **data: Any,
) -> None:
    """Append one row to the event log, in the same transaction as the change it describes.

    The log is append-only and outlives erasure (actions/erasure.py): `data` holds ids, kinds, counts and
    settings, never what a customer wrote or who they are (no texts, names, handles or case references)."""
    session.add(
        m.Event(
            workspace_id=workspace_id,
            at=at,
            kind=kind,
            actor_type=actor.kind,
            actor_id=actor.agent_id,
            conversation_id=conversation_id,
            message_id=message_id,
            data=data,
        )
    )


def get_or_404(session: Session, model: type[Any], row_id: int, what: str) -> Any:
    row = session.get(model, row_id)
    if row is None:
        raise NotFound(f"{what} {row_id} not found")
    return row
