"""Accepting inbound events: written to the spool (idempotent on channel + external id) before any reply
to the network, so an acknowledged event is never lost. Processing happens later, in the pipeline."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.dialects import postgresql, sqlite

from caredesk.domain.codec import event_to_dict, storable
from caredesk.domain.types import InboundEvent
from caredesk.runtime import Runtime
from caredesk.storage import models as m


@dataclass(frozen=True, slots=True)
class Accepted:
    accepted: int
    duplicates: int


def accept(rt: Runtime, channel_id: int, events: list[InboundEvent]) -> Accepted:
    if not events:
        return Accepted(0, 0)
    now = rt.clock.now()
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
    insert = (sqlite.insert if rt.db.is_sqlite else postgresql.insert)(m.SpoolEvent)
    stmt = insert.on_conflict_do_nothing(index_elements=["channel_id", "external_id"]).returning(
        m.SpoolEvent.id
    )
    inserted = 0
    with rt.db.write() as session:
        for start in range(0, len(rows), 500):
            inserted += len(session.execute(stmt, rows[start : start + 500]).all())
    if inserted:
        rt.intake_ready.set()
    return Accepted(accepted=inserted, duplicates=len(events) - inserted)
