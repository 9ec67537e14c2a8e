"""Spike alerts and where each workspace's spike evaluation stands (analytics/spikes.py)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 06:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import caredesk.storage.models

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "spike_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=16), nullable=False),
        sa.Column("interval_start", caredesk.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("raised_at", caredesk.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", caredesk.storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("observed", sa.Integer(), nullable=False),
        sa.Column("expected", sa.Double(), nullable=False),
        sa.Column("peak", sa.Integer(), nullable=False),
        sa.Column(
            "detail",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_spike_alerts_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spike_alerts")),
    )
    with op.batch_alter_table("spike_alerts", schema=None) as batch_op:
        batch_op.create_index("ix_spike_alerts_ws_raised", ["workspace_id", "raised_at"], unique=False)

    op.create_table(
        "spike_watch",
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("evaluated_until", caredesk.storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("calm", sa.Integer(), nullable=False),
        sa.Column("open_alert_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["open_alert_id"], ["spike_alerts.id"], name=op.f("fk_spike_watch_open_alert_id_spike_alerts")
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_spike_watch_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_spike_watch")),
    )


def downgrade() -> None:
    op.drop_table("spike_watch")
    with op.batch_alter_table("spike_alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_spike_alerts_ws_raised")

    op.drop_table("spike_alerts")
