"""The audit trail, exported: every recorded action of a workspace (who replied, approved, exported,
changed settings, logged in) from the append-only event log, for the workspace's admins. The export is
itself recorded (`audit.exported`)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from caredesk.actions.base import Actor, record, require
from caredesk.analytics.reports import write_csv
from caredesk.domain.errors import InvalidInput
from caredesk.domain.types import Role
from caredesk.runtime import Runtime
from caredesk.storage import models as m

COLUMNS = (
    "id",
    "at",
    "kind",
    "actor_type",
    "actor_id",
    "actor_email",
    "conversation_id",
    "message_id",
    "data",
)
MAX_ROWS = 100_000


def csv_text(rows: list[dict[str, Any]]) -> str:
    """Spreadsheet-safe CSV of exported rows, each event's data as one JSON cell."""
    flat = [
        {**r, "data": json.dumps(r["data"], sort_keys=True, ensure_ascii=False, default=str)} for r in rows
    ]
    return write_csv(flat, COLUMNS)


def export(
    rt: Runtime,
    actor: Actor,
    workspace_id: int | None,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    after_id: int = 0,
    before_id: int | None = None,
    limit: int = MAX_ROWS,
) -> tuple[list[dict[str, Any]], int]:
    """Events of the workspace (None: every workspace and the deployment's own, for the operator) with
    `since <= at < until` and `after_id < id < before_id`, oldest first, at most `limit`; and the
    `before_id` used. Without one it is the next id to be written: page on with the same `before_id` and
    the last id as `after_id`, so events recorded meanwhile (this export's own record among them) do not
    make the pages go on for ever. Agents' logins and lockouts belong to no workspace: a workspace's export
    lists those of its members."""
    if not 1 <= limit <= MAX_ROWS:
        raise InvalidInput(f"limit: 1 to {MAX_ROWS}")
    if since is not None and until is not None and until <= since:
        raise InvalidInput("until must be after since")
    E = m.Event
    query = sa.select(E, m.Agent.email).outerjoin(
        m.Agent, sa.and_(E.actor_type == "agent", m.Agent.id == E.actor_id)
    )
    with rt.db.read() as session:
        if workspace_id is None:
            if not actor.is_superadmin:
                raise InvalidInput("which workspace?")
        else:
            require(session, actor, workspace_id, Role.ADMIN)
            members = sa.select(m.Membership.agent_id).where(m.Membership.workspace_id == workspace_id)
            query = query.where(
                sa.or_(
                    E.workspace_id == workspace_id,
                    sa.and_(E.workspace_id.is_(None), E.kind.like("agent.%"), E.actor_id.in_(members)),
                )
            )
        if before_id is None:
            before_id = int(session.scalar(sa.select(sa.func.max(E.id))) or 0) + 1
        query = query.where(E.id < before_id)
        if since is not None:
            query = query.where(E.at >= since)
        if until is not None:
            query = query.where(E.at < until)
        rows = session.execute(query.where(E.id > after_id).order_by(E.id).limit(limit)).all()
        out = [
            {
                "id": e.id,
                "at": e.at.isoformat(),
                "kind": e.kind,
                "actor_type": e.actor_type,
                "actor_id": e.actor_id,
                "actor_email": email,
                "conversation_id": e.conversation_id,
                "message_id": e.message_id,
                "data": e.data,
            }
            for e, email in rows
        ]
    with rt.db.write() as session:
        record(
            session,
            actor,
            "audit.exported",
            workspace_id=workspace_id,
            at=rt.clock.now(),
            rows=len(out),
            since=since.isoformat() if since else None,
            until=until.isoformat() if until else None,
            after_id=after_id,
            before_id=before_id,
        )
    return out, before_id
