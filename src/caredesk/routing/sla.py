"""Attach an SLA policy to a conversation and keep its due times current."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from caredesk.domain import sla
from caredesk.domain.types import Status
from caredesk.storage import models as m


def policies_for(session: Session, workspace_id: int) -> list[m.SlaPolicy]:
    return list(
        session.scalars(
            sa.select(m.SlaPolicy)
            .where(m.SlaPolicy.workspace_id == workspace_id)
            .order_by(m.SlaPolicy.position, m.SlaPolicy.id)
        )
    )


def apply(conv: m.Conversation, policies: list[m.SlaPolicy]) -> None:
    policy = next(
        (
            p
            for p in policies
            if sla.policy_matches(
                p.match, channel_id=conv.channel_id, is_public=conv.is_public, priority=conv.priority
            )
        ),
        None,
    )
    conv.sla_policy_id = policy.id if policy else None
    if policy is None:
        conv.first_reply_due_at = conv.next_reply_due_at = conv.resolution_due_at = None
        return
    due = sla.due_times(
        sla.Clock(
            first_inbound_at=conv.first_inbound_at,
            first_reply_at=conv.first_reply_at,
            waiting_since=conv.waiting_since,
            resolved=conv.status == Status.RESOLVED.value,
        ),
        sla.Targets(policy.first_reply_minutes, policy.next_reply_minutes, policy.resolution_minutes),
    )
    conv.first_reply_due_at, conv.next_reply_due_at, conv.resolution_due_at = (
        due.first_reply,
        due.next_reply,
        due.resolution,
    )
