"""Indexes for the inbox's queues (mine, unassigned, my teams, mentions without @)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 00:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_conversations_assignee", ["assignee_id", "status", "priority"], unique=False
        )
        batch_op.create_index(
            "ix_conversations_direct", ["workspace_id", "is_direct", "status"], unique=False
        )
        batch_op.create_index("ix_conversations_team", ["team_id", "status", "priority"], unique=False)
        batch_op.create_index(
            "ix_conversations_unassigned", ["workspace_id", "status", "assignee_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index("ix_conversations_unassigned")
        batch_op.drop_index("ix_conversations_team")
        batch_op.drop_index("ix_conversations_direct")
        batch_op.drop_index("ix_conversations_assignee")
