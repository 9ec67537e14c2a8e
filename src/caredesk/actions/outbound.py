"""Writing a reply for the sender: the outbound message row and its outbox item, in one transaction.

Used by agents' replies (actions/conversations.py), approved replies (actions/approvals.py) and automatic
acknowledgements (pipeline/acknowledge.py), so every reply reaches the network the same way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from caredesk.connectors import registry
from caredesk.connectors.base import identity_kind
from caredesk.domain.types import OutboundReply
from caredesk.storage import models as m


def recipient_of(session: Session, conv: m.Conversation, channel: m.Channel) -> str | None:
    kind = identity_kind(registry.get(channel.connector).spec, channel.id)
    return session.scalar(
        sa.select(m.ContactIdentity.value)
        .where(m.ContactIdentity.contact_id == conv.contact_id, m.ContactIdentity.kind == kind)
        .limit(1)
    )


def reply_json(reply: OutboundReply) -> dict[str, Any]:
    return {
        "idempotency_key": reply.idempotency_key,
        "text": reply.text,
        "public": reply.public,
        "in_reply_to": reply.in_reply_to,
        "thread": reply.thread,
        "recipient": reply.recipient,
        "subject": reply.subject,
        "automatic": reply.automatic,
        "options": dict(reply.options),
    }


def add_message(
    session: Session,
    conv: m.Conversation,
    request: OutboundReply,
    now: datetime,
    *,
    agent: m.Agent | None = None,
    language: str | None = None,
    held: bool = False,
) -> m.Message:
    """The outbound message for `request`; queued for the sender unless `held` (waiting for approval)."""
    msg = m.Message(
        workspace_id=conv.workspace_id,
        conversation_id=conv.id,
        channel_id=conv.channel_id,
        direction="out",
        is_public=request.public,
        is_automatic=request.automatic,
        agent_id=agent.id if agent else None,
        author_name=agent.name if agent else None,
        in_reply_to=request.in_reply_to,
        thread=request.thread,
        client_ref=request.idempotency_key,
        text=request.text,
        language=language,
        delivery="approval" if held else "queued",
        created_at=now,
        received_at=now,
    )
    session.add(msg)
    session.flush()
    if not held:
        queue(session, conv, msg, request, now)
    return msg


def queue(
    session: Session, conv: m.Conversation, msg: m.Message, request: OutboundReply, now: datetime
) -> None:
    """Hand a written message to the sender."""
    msg.delivery = "queued"
    session.add(
        m.Outbox(
            workspace_id=conv.workspace_id,
            channel_id=conv.channel_id,
            conversation_id=conv.id,
            message_id=msg.id,
            idempotency_key=request.idempotency_key,
            request=reply_json(request),
            status="queued",
            next_attempt_at=now,
            created_at=now,
        )
    )
