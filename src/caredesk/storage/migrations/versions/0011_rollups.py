"""Roll-ups: per workspace, local day and slice, the sums and time histograms reports read
(analytics/rollups.py); analytics/upkeep.py fills them from the facts after the migrations

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "daily_rollups",
        sa.Column("workspace_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("value", sa.String(length=72), nullable=False),
        sa.Column("conversations", sa.BigInteger(), nullable=False),
        sa.Column("customer_messages", sa.BigInteger(), nullable=False),
        sa.Column("replies", sa.BigInteger(), nullable=False),
        sa.Column("automatic", sa.BigInteger(), nullable=False),
        sa.Column("responded", sa.BigInteger(), nullable=False),
        sa.Column("resolved", sa.BigInteger(), nullable=False),
        sa.Column("resolved_replies", sa.BigInteger(), nullable=False),
        sa.Column("reopened", sa.BigInteger(), nullable=False),
        sa.Column("sla_with_target", sa.BigInteger(), nullable=False),
        sa.Column("sla_met", sa.BigInteger(), nullable=False),
        sa.Column("messages_in", sa.BigInteger(), nullable=False),
        sa.Column("negative_in", sa.BigInteger(), nullable=False),
        sa.Column("first_response_n", sa.BigInteger(), nullable=False),
        sa.Column("first_response_sum", sa.Float(), nullable=False),
        sa.Column("first_response_60", sa.BigInteger(), nullable=False),
        sa.Column("first_response_1440", sa.BigInteger(), nullable=False),
        sa.Column("first_response_bh_n", sa.BigInteger(), nullable=False),
        sa.Column("first_response_bh_sum", sa.Float(), nullable=False),
        sa.Column("first_response_bh_60", sa.BigInteger(), nullable=False),
        sa.Column("first_response_bh_1440", sa.BigInteger(), nullable=False),
        sa.Column("next_response_n", sa.BigInteger(), nullable=False),
        sa.Column("next_response_sum", sa.Float(), nullable=False),
        sa.Column("next_response_60", sa.BigInteger(), nullable=False),
        sa.Column("next_response_1440", sa.BigInteger(), nullable=False),
        sa.Column("next_response_bh_n", sa.BigInteger(), nullable=False),
        sa.Column("next_response_bh_sum", sa.Float(), nullable=False),
        sa.Column("next_response_bh_60", sa.BigInteger(), nullable=False),
        sa.Column("next_response_bh_1440", sa.BigInteger(), nullable=False),
        sa.Column("resolution_n", sa.BigInteger(), nullable=False),
        sa.Column("resolution_sum", sa.Float(), nullable=False),
        sa.Column("resolution_60", sa.BigInteger(), nullable=False),
        sa.Column("resolution_1440", sa.BigInteger(), nullable=False),
        sa.Column("resolution_bh_n", sa.BigInteger(), nullable=False),
        sa.Column("resolution_bh_sum", sa.Float(), nullable=False),
        sa.Column("resolution_bh_60", sa.BigInteger(), nullable=False),
        sa.Column("resolution_bh_1440", sa.BigInteger(), nullable=False),
        sa.Column("reply_n", sa.BigInteger(), nullable=False),
        sa.Column("reply_sum", sa.Float(), nullable=False),
        sa.Column("reply_60", sa.BigInteger(), nullable=False),
        sa.Column("reply_1440", sa.BigInteger(), nullable=False),
        sa.Column("reply_bh_n", sa.BigInteger(), nullable=False),
        sa.Column("reply_bh_sum", sa.Float(), nullable=False),
        sa.Column("reply_bh_60", sa.BigInteger(), nullable=False),
        sa.Column("reply_bh_1440", sa.BigInteger(), nullable=False),
        sa.Column("response_n", sa.BigInteger(), nullable=False),
        sa.Column("response_sum", sa.Float(), nullable=False),
        sa.Column("response_60", sa.BigInteger(), nullable=False),
        sa.Column("response_1440", sa.BigInteger(), nullable=False),
        sa.Column("response_bh_n", sa.BigInteger(), nullable=False),
        sa.Column("response_bh_sum", sa.Float(), nullable=False),
        sa.Column("response_bh_60", sa.BigInteger(), nullable=False),
        sa.Column("response_bh_1440", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "dimension", "day", "value", name=op.f("pk_daily_rollups")),
    )
    op.create_table(
        "rollup_histograms",
        sa.Column("workspace_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("measure", sa.String(length=24), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("value", sa.String(length=72), nullable=False),
        sa.Column("counts", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint(
            "workspace_id", "dimension", "measure", "day", "value", name=op.f("pk_rollup_histograms")
        ),
    )
    # filled after the migrations by analytics/upkeep.py (code of today must not run on an older schema)


def downgrade() -> None:
    op.drop_table("rollup_histograms")
    op.drop_table("daily_rollups")
