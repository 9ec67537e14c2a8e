"""The collision guard: who is viewing or typing in a conversation, and replies drafted on a conversation
that changed since.

The composer reports `viewing` or `typing` every few seconds (`PUT /api/v1/conversations/{id}/presence`)
and `left` when it closes; a report older than `FRESH` no longer counts, so a closed tab disappears on
its own. Each change is published on the bus (`conversations.presence`) for the other screens.
A reply may name the newest message its author had on screen (`seen_message_id`); when a customer
message or someone else's reply came after it, the reply is refused with `DraftOutdated` (409, with the
changes) until it is sent again with `confirm`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from caredesk.actions.base import Actor, get_or_404, require
from caredesk.domain.errors import Conflict, InvalidInput
from caredesk.domain.types import Role
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from caredesk.storage.db import insert_for

FRESH = timedelta(seconds=30)
STATES = ("viewing", "typing", "left")


class DraftOutdated(Conflict):
    """A reply drafted before newer messages arrived; `details["changes"]` lists them."""

    def __init__(self, changes: list[dict[str, Any]]) -> None:
        customer = sum(1 for c in changes if c["direction"] == "in")
        others = len(changes) - customer
        parts = [
            f"{customer} from the customer" if customer else "",
            f"{others} by a colleague" if others else "",
        ]
        which = ", ".join(p for p in parts if p)
        super().__init__(
            f"{len(changes)} new message(s) since you started this reply ({which}); "
            "read them, then send again with confirm"
        )
        self.details = {"changes": changes}


def present(session: Session, conversation_id: int, now: datetime) -> list[dict[str, Any]]:
    rows = session.execute(
        sa.select(m.ConversationPresence, m.Agent.name)
        .join(m.Agent, m.Agent.id == m.ConversationPresence.agent_id)
        .where(
            m.ConversationPresence.conversation_id == conversation_id,
            m.ConversationPresence.seen_at > now - FRESH,
        )
        .order_by(m.ConversationPresence.agent_id)
    ).all()
    return [
        {"agent_id": p.agent_id, "name": name, "state": p.state, "seen_at": p.seen_at} for p, name in rows
    ]


def report(rt: Runtime, actor: Actor, conversation_id: int, state: str) -> list[dict[str, Any]]:
    """Record the caller's state in the conversation; returns everyone else present."""
    if state not in STATES:
        raise InvalidInput(f"state: one of {list(STATES)}")
    now = rt.clock.now()
    with rt.db.write() as session:
        conv = get_or_404(session, m.Conversation, conversation_id, "conversation")
        require(session, actor, conv.workspace_id, Role.AGENT if state == "typing" else Role.ANALYST)
        if actor.agent_id is None:
            raise InvalidInput("presence is reported by a person")
        P = m.ConversationPresence
        if state == "left":
            session.execute(sa.delete(P).where(P.conversation_id == conv.id, P.agent_id == actor.agent_id))
        else:
            stmt = insert_for(session, P).values(
                conversation_id=conv.id, agent_id=actor.agent_id, state=state, seen_at=now
            )
            session.execute(
                stmt.on_conflict_do_update(
                    index_elements=["conversation_id", "agent_id"], set_={"state": state, "seen_at": now}
                )
            )
        everyone = present(session, conv.id, now)
    rt.bus.publish("conversations.presence", {"id": conversation_id, "present": everyone})
    return [p for p in everyone if p["agent_id"] != actor.agent_id]


def changes_since(
    session: Session, conv: m.Conversation, seen_message_id: int, actor: Actor
) -> list[dict[str, Any]]:
    """Messages of the conversation newer than the one the author had on screen, but their own."""
    rows = session.scalars(
        sa.select(m.Message)
        .where(
            m.Message.conversation_id == conv.id,
            m.Message.id > seen_message_id,
            sa.or_(m.Message.agent_id.is_(None), m.Message.agent_id != actor.agent_id),
            ~m.Message.is_automatic,
        )
        .order_by(m.Message.id)
    )
    return [
        {"message_id": x.id, "direction": x.direction, "author_name": x.author_name, "text": x.text[:280]}
        for x in rows
    ]
