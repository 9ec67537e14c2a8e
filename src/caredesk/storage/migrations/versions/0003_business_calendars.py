"""business calendars; calendars on SLA policies, teams and channels; SLA pauses and acknowledged
closed periods on conversations

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 23:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import caredesk.storage.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "business_calendars",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("week", JSON, nullable=False),
        sa.Column("holiday_country", sa.String(length=8), nullable=True),
        sa.Column("holiday_subdivision", sa.String(length=16), nullable=True),
        sa.Column("closed_dates", JSON, nullable=False),
        sa.Column("created_at", caredesk.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", caredesk.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_business_calendars_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_business_calendars")),
        sa.UniqueConstraint("workspace_id", "name", name=op.f("uq_business_calendars_workspace_id_name")),
    )
    with op.batch_alter_table("business_calendars", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_business_calendars_workspace_id"), ["workspace_id"], unique=False
        )
    for table in ("sla_policies", "teams", "channels"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("calendar_id", sa.Integer(), nullable=True))
            batch_op.create_index(batch_op.f(f"ix_{table}_calendar_id"), ["calendar_id"], unique=False)
            batch_op.create_foreign_key(
                batch_op.f(f"fk_{table}_calendar_id_business_calendars"),
                "business_calendars",
                ["calendar_id"],
                ["id"],
            )
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sla_pauses", JSON, nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("ack_period", sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("ack_period")
        batch_op.drop_column("sla_pauses")
    for table in ("channels", "teams", "sla_policies"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(
                batch_op.f(f"fk_{table}_calendar_id_business_calendars"), type_="foreignkey"
            )
            batch_op.drop_index(batch_op.f(f"ix_{table}_calendar_id"))
            batch_op.drop_column("calendar_id")
    with op.batch_alter_table("business_calendars", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_business_calendars_workspace_id"))
    op.drop_table("business_calendars")
