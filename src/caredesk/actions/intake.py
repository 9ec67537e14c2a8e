"""Accepting inbound events: written to the spool (idempotent on channel + external id) before any reply
to the network, so an acknowledged event is never lost. Processing happens later, in the pipeline.

A poller's new cursor is written in the same transaction as the events it fetched, and a webhook body's
digest in the same transaction as its events: a crash between "stored" and "remembered" cannot happen, so
a restart neither skips nor refetches-and-duplicates anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from caredesk.domain.codec import event_to_dict, storable
from caredesk.domain.errors import Conflict
from caredesk.domain.types import InboundEvent
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from caredesk.storage.db import insert_for


@dataclass(frozen=True, slots=True)
class Accepted:
    accepted: int
    duplicates: int


def accept(
    rt: Runtime,
    channel_id: int,
    events: list[InboundEvent],
    *,
    cursor: dict[str, Any] | None = None,
    delivery_digest: str | None = None,
) -> Accepted:
    """Spool the events. `cursor`: the channel's new poll cursor; `delivery_digest`: a webhook body's
    SHA-256, refused with Conflict if this channel accepted the same body before (a replay)."""
    now = rt.clock.now()
    with rt.db.write() as session:
        if delivery_digest is not None:
            _remember_delivery(session, rt, channel_id, delivery_digest, now)
        inserted = _spool(session, rt, channel_id, events, now)
        if cursor is not None:
            session.execute(
                sa.update(m.Channel)
                .where(m.Channel.id == channel_id)
                .values(cursor=cursor, poll_failures=0, last_error=None)
            )
    if inserted:
        rt.wake("intake")
    return Accepted(accepted=inserted, duplicates=len(events) - inserted)


def _spool(session: Session, rt: Runtime, channel_id: int, events: list[InboundEvent], now: datetime) -> int:
    if not events:
        return 0
    rows = [
        {
            "channel_id": channel_id,
            "external_id": storable(ev.external_id),
            "payload": storable(event_to_dict(ev)),
            "status": "pending",
            "attempts": 0,
            "received_at": now,
        }
        for ev in events
    ]
    stmt = (
        insert_for(session, m.SpoolEvent)
        .on_conflict_do_nothing(index_elements=["channel_id", "external_id"])
        .returning(m.SpoolEvent.id)
    )
    inserted = 0
    for start in range(0, len(rows), 500):
        inserted += len(session.execute(stmt, rows[start : start + 500]).all())
    return inserted


def _remember_delivery(session: Session, rt: Runtime, channel_id: int, digest: str, now: datetime) -> None:
    stmt = (
        insert_for(session, m.WebhookDelivery)
        .values(channel_id=channel_id, digest=digest, received_at=now)
        .on_conflict_do_nothing(index_elements=["channel_id", "digest"])
        .returning(m.WebhookDelivery.id)
    )
    if session.execute(stmt).first() is None:
        raise Conflict("this webhook delivery was received before (a replay); nothing changed")
