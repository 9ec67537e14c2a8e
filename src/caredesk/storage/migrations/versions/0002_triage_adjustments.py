"""triage adjustments per workspace

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 19:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import caredesk.storage.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "triage_adjustments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("head", sa.String(length=40), nullable=False),
        sa.Column("decisions", sa.Integer(), nullable=False),
        sa.Column(
            "metrics",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("weights", sa.LargeBinary(), nullable=False),
        sa.Column("fitted_at", caredesk.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workspace_id", "head"),
    )
    with op.batch_alter_table("triage_adjustments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_triage_adjustments_workspace_id"), ["workspace_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("triage_adjustments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_triage_adjustments_workspace_id"))
    op.drop_table("triage_adjustments")
