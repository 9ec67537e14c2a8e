"""Outgoing webhooks: which events go out, under which public names, and the rows that carry them.

Every event the product records (the `events` table) whose kind is in `EVENT_TYPES` becomes one
`OutgoingDelivery` per active webhook of its workspace subscribed to it, written in the same transaction
as the event: an event that is committed is delivered, one that is rolled back never is. Two listeners
on the write sessions (storage/db.py) see every event written: `before_flush` the ORM-added ones,
`on_execute` the bulk-inserted ones (the pipeline's, the dispatcher's). `workers/hooks.py` posts the
deliveries and builds the documented body (docs/webhooks.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import ORMExecuteState, Session

from caredesk.storage import models as m

# internal event kind -> the public event type a webhook subscribes to
EVENT_TYPES: dict[str, str] = {
    "conversation.created": "conversation.created",
    "message.received": "message.received",
    "conversation.assigned": "conversation.assigned",
    "reply.sent": "conversation.replied",
    "conversation.resolved": "conversation.resolved",
    "conversation.reopened": "conversation.reopened",
    "sla.warning": "sla.warning",
    "sla.breached": "sla.breached",
    "conversation.escalated": "conversation.escalated",
    "approval.requested": "approval.requested",
    "approval.approved": "approval.approved",
    "approval.rejected": "approval.rejected",
    "webhook.test": "webhook.test",
    "spike.alert": "spike.alert",
}
PUBLIC_TYPES = frozenset(EVENT_TYPES.values())
# What a ticketing webhook receives whatever it subscribed to: the escalation it must answer.
TICKETING_TYPES = frozenset({"conversation.escalated"})

_CACHE = "caredesk.hooks"


def _subscribers(session: Session, workspace_ids: set[int]) -> dict[int, list[tuple[int, frozenset[str]]]]:
    """Active webhooks per workspace, cached for the session (a session is one short transaction)."""
    cache: dict[int, list[tuple[int, frozenset[str]]]] = session.info.setdefault(_CACHE, {})
    missing = workspace_ids - cache.keys()
    if missing:
        for ws in missing:
            cache[ws] = []
        with session.no_autoflush:
            rows = session.execute(
                sa.select(m.OutgoingWebhook.id, m.OutgoingWebhook.workspace_id, m.OutgoingWebhook.events,
                          m.OutgoingWebhook.ticketing)
                .where(m.OutgoingWebhook.workspace_id.in_(missing), m.OutgoingWebhook.active.is_(True))
            ).all()  # fmt: skip
        for hook_id, ws, events, ticketing in rows:
            types = frozenset(events or ()) | (TICKETING_TYPES if ticketing else frozenset())
            cache[ws].append((hook_id, types))
    return {ws: cache[ws] for ws in workspace_ids}


def forget(session: Session) -> None:
    """Drop the session's cached webhook list (after one is created, changed or removed)."""
    session.info.pop(_CACHE, None)


def enqueue(session: Session, events: Iterable[Mapping[str, Any]], now: datetime) -> int:
    """Add the deliveries for these events (dicts with the `events` table's columns). Returns how many."""
    wanted = [e for e in events if e.get("kind") in EVENT_TYPES and e.get("workspace_id") is not None]
    if not wanted:
        return 0
    hooks = _subscribers(session, {int(e["workspace_id"]) for e in wanted})
    rows: list[m.OutgoingDelivery] = []
    for event in wanted:
        public, ws = EVENT_TYPES[event["kind"]], int(event["workspace_id"])
        data = dict(event.get("data") or {})
        if public == "webhook.test":  # a test goes to the one webhook it names
            targets = [hook_id for hook_id, _ in hooks[ws] if hook_id == data.get("webhook_id")]
        else:
            targets = [hook_id for hook_id, types in hooks[ws] if public in types]
        event_uid = uuid.uuid4().hex
        rows.extend(
            m.OutgoingDelivery(
                uid=uuid.uuid4().hex,
                webhook_id=hook_id,
                workspace_id=ws,
                event_uid=event_uid,
                event_type=public,
                conversation_id=event.get("conversation_id"),
                message_id=event.get("message_id"),
                actor_id=event.get("actor_id"),
                occurred_at=event.get("at") or now,
                data=data,
                status="queued",
                attempts=0,
                next_attempt_at=now,
                log=[],
                created_at=now,
            )
            for hook_id in targets
        )
    session.add_all(rows)
    return len(rows)


def before_flush(session: Session, _context: Any, _instances: Any) -> None:
    """The write sessions' listener: deliveries for the ORM-added events of this flush."""
    new_events = [obj for obj in session.new if isinstance(obj, m.Event) and obj.kind in EVENT_TYPES]
    if not new_events:
        return
    enqueue(
        session,
        (
            {
                "workspace_id": e.workspace_id,
                "kind": e.kind,
                "at": e.at,
                "conversation_id": e.conversation_id,
                "message_id": e.message_id,
                "actor_id": e.actor_id,
                "data": e.data,
            }
            for e in new_events
        ),
        max(e.at for e in new_events),
    )


def on_execute(state: ORMExecuteState) -> None:
    """The write sessions' listener for bulk `INSERT`s into the event log."""
    table = getattr(state.statement, "table", None)
    if not state.is_insert or getattr(table, "name", None) != m.Event.__tablename__:
        return
    params = state.parameters
    rows = list(params) if isinstance(params, list) else [params] if params else []
    if rows:
        enqueue(state.session, rows, max(r["at"] for r in rows))
