"""Analytics facts: one row per conversation and per customer message (analytics/facts.py)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 06:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import caredesk.storage.models

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversation_facts",
        sa.Column("conversation_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("network", sa.String(length=32), nullable=False),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("is_direct", sa.Boolean(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("topic", sa.String(length=64), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", caredesk.storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("first_reply_at", caredesk.storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("first_response_s", sa.Double(), nullable=True),
        sa.Column("first_response_bh_s", sa.Double(), nullable=True),
        sa.Column("resolved_at", caredesk.storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolution_s", sa.Double(), nullable=True),
        sa.Column("resolution_bh_s", sa.Double(), nullable=True),
        sa.Column("inbound_count", sa.Integer(), nullable=False),
        sa.Column("reply_count", sa.Integer(), nullable=False),
        sa.Column("automatic_count", sa.Integer(), nullable=False),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
        sa.Column("first_reply_due_at", caredesk.storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_conversation_facts")),
    )
    with op.batch_alter_table("conversation_facts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_conversation_facts_ws_started", ["workspace_id", "started_at"], unique=False
        )

    op.create_table(
        "message_facts",
        sa.Column(
            "message_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("created_at", caredesk.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("is_direct", sa.Boolean(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("sentiment", sa.String(length=8), nullable=True),
        sa.Column("reply_message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("replied_at", caredesk.storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reply_s", sa.Double(), nullable=True),
        sa.Column("reply_bh_s", sa.Double(), nullable=True),
        sa.Column("wait", sa.Integer(), nullable=True),
        sa.Column("response_s", sa.Double(), nullable=True),
        sa.Column("response_bh_s", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_message_facts")),
    )
    with op.batch_alter_table("message_facts", schema=None) as batch_op:
        batch_op.create_index("ix_message_facts_conversation", ["conversation_id"], unique=False)
        batch_op.create_index("ix_message_facts_ws_created", ["workspace_id", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("message_facts", schema=None) as batch_op:
        batch_op.drop_index("ix_message_facts_ws_created")
        batch_op.drop_index("ix_message_facts_conversation")

    op.drop_table("message_facts")
    with op.batch_alter_table("conversation_facts", schema=None) as batch_op:
        batch_op.drop_index("ix_conversation_facts_ws_started")

    op.drop_table("conversation_facts")
