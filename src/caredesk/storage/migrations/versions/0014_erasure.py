"""Erasure of personal data: when a contact or a conversation was erased; the event log keeps no customer
content (case reference values, spike examples' texts and escalation notes leave the events already
written)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 13:20:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

import caredesk.storage.models

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_events = sa.table(
    "events", sa.column("id", sa.Integer), sa.column("kind", sa.String), sa.column("data", sa.JSON)
)


def _without_customer_content(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    if kind == "case.linked":
        data.pop("value", None)
    elif kind == "conversation.escalated":
        data.pop("note", None)
    elif kind == "spike.alert":
        data["examples"] = [
            {k: v for k, v in example.items() if k != "text"} for example in data.get("examples") or []
        ]
    return data


def upgrade() -> None:
    when = caredesk.storage.models.UTCDateTime(timezone=True)
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("erased_at", when, nullable=True))
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("erased_at", when, nullable=True))

    bind = op.get_bind()
    kinds = ("case.linked", "conversation.escalated", "spike.alert")
    rows = bind.execute(
        sa.select(_events.c.id, _events.c.kind, _events.c.data).where(_events.c.kind.in_(kinds))
    )
    changes = [
        {"row_id": row_id, "data": _without_customer_content(kind, data or {})} for row_id, kind, data in rows
    ]
    if not changes:
        return
    # The one rewrite of the append-only log: its guard is lifted for this transaction only.
    sqlite = bind.dialect.name == "sqlite"
    if sqlite:
        op.execute("DROP TRIGGER events_no_update")
    else:
        op.execute("ALTER TABLE events DISABLE TRIGGER events_append_only")
    bind.execute(
        _events.update().where(_events.c.id == sa.bindparam("row_id")).values(data=sa.bindparam("data")),
        changes,
    )
    if sqlite:
        op.execute(
            "CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
            "BEGIN SELECT RAISE(ABORT, 'events is append-only'); END"
        )
    else:
        op.execute("ALTER TABLE events ENABLE TRIGGER events_append_only")


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("erased_at")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("erased_at")
