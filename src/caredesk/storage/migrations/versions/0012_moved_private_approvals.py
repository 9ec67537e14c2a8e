"""Report facts and roll-ups: conversations moved to private, approval times; the versions of the stored
report figures (analytics/upkeep.py recomputes them after this migration)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 15:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ROLLUP_COLUMNS = ("moved_private", "approval_n", "approval_60", "approval_1440")


def upgrade() -> None:
    with op.batch_alter_table("conversation_facts") as batch:
        batch.add_column(sa.Column("moved_private", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("approval_s", JSON, nullable=False, server_default="[]"))
    with op.batch_alter_table("daily_rollups") as batch:
        for name in ROLLUP_COLUMNS:
            batch.add_column(sa.Column(name, sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("approval_sum", sa.Float(), nullable=False, server_default="0"))
    op.create_table(
        "report_state",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_report_state")),
    )


def downgrade() -> None:
    op.drop_table("report_state")
    with op.batch_alter_table("daily_rollups") as batch:
        for name in (*ROLLUP_COLUMNS, "approval_sum"):
            batch.drop_column(name)
    with op.batch_alter_table("conversation_facts") as batch:
        batch.drop_column("approval_s")
        batch.drop_column("moved_private")
