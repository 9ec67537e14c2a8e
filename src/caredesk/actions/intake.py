"""Accepting inbound events: written to the spool (idempotent on channel + external id) before any reply
to the network, so an acknowledged event is never lost. Processing happens later, in the pipeline.

A poller's new cursor is written in the same transaction as the events it fetched, and a webhook body's
digest in the same transaction as its events: a crash between "stored" and "remembered" cannot happen, so
a restart neither skips nor refetches-and-duplicates anything.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
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


def accept_delivery(
    rt: Runtime, channel_id: int, events: list[InboundEvent], delivery_digest: str
) -> Accepted:
    """`accept` for one webhook delivery, through the process's group commit: deliveries that arrive
    while a commit is under way share the next one (one transaction, one sync to disk, for up to
    `DeliveryWriter.MAX_BATCH` of them). The answer still comes after the commit."""
    writer = rt.delivery_writer
    if writer is None:
        with _WRITER_LOCK:
            if rt.delivery_writer is None:
                rt.delivery_writer = DeliveryWriter(rt)
            writer = rt.delivery_writer
    return writer.accept(channel_id, events, delivery_digest)  # type: ignore[no-any-return]


_WRITER_LOCK = threading.Lock()


@dataclass
class _Delivery:
    channel_id: int
    events: list[InboundEvent]
    digest: str
    done: threading.Event = field(default_factory=threading.Event)
    result: Accepted | None = None
    error: BaseException | None = None


class DeliveryWriter:
    """One thread per process that writes webhook deliveries: each in a savepoint of a shared transaction
    (a replayed one is refused alone), one commit for all, then every waiting request is answered."""

    MAX_BATCH = 200

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._queue: queue.SimpleQueue[_Delivery | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="caredesk-delivery-writer", daemon=True)
        self._thread.start()

    def accept(self, channel_id: int, events: list[InboundEvent], digest: str) -> Accepted:
        if not self._thread.is_alive():
            raise RuntimeError("the delivery writer has stopped")
        item = _Delivery(channel_id, events, digest)
        self._queue.put(item)
        item.done.wait()
        if item.error is not None:
            raise item.error
        assert item.result is not None
        return item.result

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)  # stop after this batch
                    break
                batch.append(more)
            self._write(batch)

    def _write(self, batch: list[_Delivery]) -> None:
        inserted = 0
        try:
            now = self.rt.clock.now()
            with self.rt.db.write() as session:
                for item in batch:
                    try:
                        with session.begin_nested():
                            _remember_delivery(session, self.rt, item.channel_id, item.digest, now)
                            n = _spool(session, self.rt, item.channel_id, item.events, now)
                        item.result = Accepted(accepted=n, duplicates=len(item.events) - n)
                        inserted += n
                    except Exception as exc:  # a replay (Conflict), a row the database refuses: this one only
                        item.error = exc
        except BaseException as exc:  # nothing of the batch was stored: every request hears why
            for item in batch:
                item.result, item.error = None, item.error or exc
            inserted = 0
        finally:
            for item in batch:
                item.done.set()
        if inserted:
            self.rt.wake("intake")


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
