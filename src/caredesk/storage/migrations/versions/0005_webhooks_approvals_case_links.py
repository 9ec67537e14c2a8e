"""Outgoing webhooks, approvals, case links, external tickets

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import caredesk.storage.models

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outgoing_webhooks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column(
            "events",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("ticketing", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", caredesk.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", caredesk.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_outgoing_webhooks_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outgoing_webhooks")),
    )
    with op.batch_alter_table("outgoing_webhooks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outgoing_webhooks_workspace_id"), ["workspace_id"], unique=False)

    op.create_table(
        "outgoing_deliveries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("uid", sa.String(length=32), nullable=False),
        sa.Column("webhook_id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("event_uid", sa.String(length=32), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("occurred_at", caredesk.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", caredesk.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", caredesk.storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "log",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", caredesk.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", caredesk.storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["outgoing_webhooks.id"],
            name=op.f("fk_outgoing_deliveries_webhook_id_outgoing_webhooks"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_outgoing_deliveries_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outgoing_deliveries")),
        sa.UniqueConstraint("uid", name=op.f("uq_outgoing_deliveries_uid")),
    )
    with op.batch_alter_table("outgoing_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_outgoing_deliveries_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_outgoing_deliveries_webhook", ["webhook_id", "id"], unique=False)

    op.create_table(
        "case_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=320), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("created_at", caredesk.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_case_links_conversation_id_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_case_links_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_links")),
        sa.UniqueConstraint(
            "conversation_id", "kind", "value", name=op.f("uq_case_links_conversation_id_kind_value")
        ),
    )
    with op.batch_alter_table("case_links", schema=None) as batch_op:
        batch_op.create_index("ix_case_links_ref", ["workspace_id", "kind", "value"], unique=False)

    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("requester_id", sa.Integer(), nullable=False),
        sa.Column(
            "request",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("resolve", sa.Boolean(), nullable=False),
        sa.Column(
            "checks",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("requested_at", caredesk.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", caredesk.storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"], ["conversations.id"], name=op.f("fk_approvals_conversation_id_conversations")
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_approvals_message_id_messages")
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"], ["agents.id"], name=op.f("fk_approvals_requester_id_agents")
        ),
        sa.ForeignKeyConstraint(["reviewer_id"], ["agents.id"], name=op.f("fk_approvals_reviewer_id_agents")),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f("fk_approvals_workspace_id_workspaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approvals")),
        sa.UniqueConstraint("message_id", name=op.f("uq_approvals_message_id")),
    )
    with op.batch_alter_table("approvals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_approvals_conversation_id"), ["conversation_id"], unique=False)
        batch_op.create_index(
            "ix_approvals_pending", ["workspace_id", "status", "requested_at"], unique=False
        )

    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "external_ticket",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=False,
                server_default="{}",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("external_ticket")

    with op.batch_alter_table("approvals", schema=None) as batch_op:
        batch_op.drop_index("ix_approvals_pending")
        batch_op.drop_index(batch_op.f("ix_approvals_conversation_id"))

    op.drop_table("approvals")
    with op.batch_alter_table("case_links", schema=None) as batch_op:
        batch_op.drop_index("ix_case_links_ref")

    op.drop_table("case_links")
    with op.batch_alter_table("outgoing_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_outgoing_deliveries_webhook")
        batch_op.drop_index("ix_outgoing_deliveries_due")

    op.drop_table("outgoing_deliveries")
    with op.batch_alter_table("outgoing_webhooks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outgoing_webhooks_workspace_id"))

    op.drop_table("outgoing_webhooks")
