"""SLA warnings, breaches and escalation

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("sla_policies", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("warn_before_minutes", sa.Integer(), nullable=False, server_default="10")
        )
        batch_op.add_column(sa.Column("escalation", JSON, nullable=False, server_default="{}"))
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sla_alerts", JSON, nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("sla_alerts")
    with op.batch_alter_table("sla_policies", schema=None) as batch_op:
        batch_op.drop_column("escalation")
        batch_op.drop_column("warn_before_minutes")
