"""Runs spooled events through the stages, a batch per write transaction.

Crash safety: a batch's messages, conversations, events and the spool rows' `done` mark commit together,
so a process killed at any point leaves each event either fully processed or still pending; the unique
(channel, external id) on messages is a second guard. On PostgreSQL, rows are claimed with
FOR UPDATE SKIP LOCKED, so any number of workers share the spool without overlap.

A failing batch is rolled back and retried one event at a time; the event that fails alone is parked
in dead_letters with its stage and error, and the rest go through.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from caredesk.domain.codec import event_from_dict
from caredesk.domain.types import SpoolStatus
from caredesk.faults import checkpoint
from caredesk.pipeline.core import Item, Stage, StageContext
from caredesk.pipeline.stages import default_stages
from caredesk.runtime import Runtime
from caredesk.storage import models as m

log = logging.getLogger(__name__)


class StageFailedError(Exception):
    def __init__(self, stage: str, error: BaseException) -> None:
        super().__init__(f"{stage}: {type(error).__name__}: {error}")
        self.stage = stage
        self.error = error


@dataclass(slots=True)
class BatchResult:
    processed: int = 0
    dead: int = 0


class Pipeline:
    def __init__(self, rt: Runtime, stages: Sequence[Stage] | None = None, batch_size: int = 500) -> None:
        self.rt = rt
        self.stages = tuple(stages) if stages is not None else default_stages()
        self.batch_size = batch_size

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.stages)

    def run_once(self) -> BatchResult:
        """Process one batch of pending events. Returns how many were processed (0: nothing pending)."""
        ids: list[int] = []
        try:
            with self.rt.db.write() as session:
                ids = self._claim(session, self.batch_size)
                if not ids:
                    return BatchResult()
                notes = self._process(session, ids)
        except Exception as exc:
            if not ids:
                raise
            stage = exc.stage if isinstance(exc, StageFailedError) else "commit"
            log.warning("batch failed at %s (%s); retrying one by one", stage, exc)
            return self._one_by_one(ids)
        self._publish(notes)
        return BatchResult(processed=len(ids))

    def drain(self, max_batches: int | None = None) -> BatchResult:
        total = BatchResult()
        batches = 0
        while max_batches is None or batches < max_batches:
            result = self.run_once()
            if result.processed == 0 and result.dead == 0:
                break
            total.processed += result.processed
            total.dead += result.dead
            batches += 1
        return total

    def _claim(self, session: Session, limit: int) -> list[int]:
        query = (
            sa.select(m.SpoolEvent.id)
            .where(m.SpoolEvent.status == SpoolStatus.PENDING.value)
            .order_by(m.SpoolEvent.id)
            .limit(limit)
        )
        if not self.rt.db.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        return list(session.scalars(query))

    def _process(self, session: Session, ids: list[int]) -> list[tuple[str, dict[str, Any]]]:
        now = self.rt.clock.now()
        rows = list(
            session.scalars(sa.select(m.SpoolEvent).where(m.SpoolEvent.id.in_(ids)).order_by(m.SpoolEvent.id))
        )
        channels = {
            c.id: c
            for c in session.scalars(
                sa.select(m.Channel).where(m.Channel.id.in_({r.channel_id for r in rows}))
            )
        }
        items = []
        for row in rows:
            try:
                event = event_from_dict(row.payload)
            except (KeyError, TypeError, ValueError) as exc:
                raise StageFailedError("decode", exc) from exc
            items.append(Item(spool_id=row.id, channel=channels[row.channel_id], event=event))
        ctx = StageContext(session=session, clock=self.rt.clock, now=now)
        for stage in self.stages:
            checkpoint(stage.name)
            try:
                stage.process(ctx, items)
            except Exception as exc:
                raise StageFailedError(stage.name, exc) from exc
        session.execute(
            sa.update(m.SpoolEvent)
            .where(m.SpoolEvent.id.in_(ids))
            .values(status=SpoolStatus.DONE.value, processed_at=now, attempts=m.SpoolEvent.attempts + 1)
        )
        checkpoint("commit")
        return ctx.notifications

    def _one_by_one(self, ids: list[int]) -> BatchResult:
        result = BatchResult()
        for spool_id in ids:
            try:
                with self.rt.db.write() as session:
                    query = sa.select(m.SpoolEvent.status).where(m.SpoolEvent.id == spool_id)
                    if not self.rt.db.is_sqlite:  # another worker may hold it: leave it to them
                        query = query.with_for_update(skip_locked=True)
                    if session.scalar(query) != SpoolStatus.PENDING.value:
                        continue
                    notes = self._process(session, [spool_id])
                self._publish(notes)
                result.processed += 1
            except Exception as exc:
                failure = exc if isinstance(exc, StageFailedError) else StageFailedError("commit", exc)
                self._park(spool_id, failure)
                result.dead += 1
        return result

    def _park(self, spool_id: int, failure: StageFailedError) -> None:
        now = self.rt.clock.now()
        detail = "".join(traceback.format_exception_only(failure.error)).strip()[:2000]
        log.error("event %s parked at stage %s: %s", spool_id, failure.stage, detail)
        with self.rt.db.write() as session:
            parked = session.execute(
                sa.update(m.SpoolEvent)
                .where(m.SpoolEvent.id == spool_id, m.SpoolEvent.status == SpoolStatus.PENDING.value)
                .values(status=SpoolStatus.DEAD.value, attempts=m.SpoolEvent.attempts + 1)
                .returning(m.SpoolEvent.id)
            ).first()
            if parked is not None:  # not if another worker processed it meanwhile
                session.add(
                    m.DeadLetter(spool_id=spool_id, stage=failure.stage, error=detail, created_at=now)
                )

    def _publish(self, notes: list[tuple[str, dict[str, Any]]]) -> None:
        for topic, payload in notes:
            self.rt.bus.publish(topic, payload)


def retry_dead(rt: Runtime, spool_ids: list[int] | None = None) -> int:
    """Put parked events back in the queue (after the cause is fixed)."""
    now = rt.clock.now()
    with rt.db.write() as session:
        query = sa.select(m.SpoolEvent.id).where(m.SpoolEvent.status == SpoolStatus.DEAD.value)
        if spool_ids:
            query = query.where(m.SpoolEvent.id.in_(spool_ids))
        ids = list(session.scalars(query))
        if ids:
            session.execute(sa.update(m.SpoolEvent).where(m.SpoolEvent.id.in_(ids)).values(status="pending"))
            session.execute(
                sa.update(m.DeadLetter)
                .where(m.DeadLetter.spool_id.in_(ids), m.DeadLetter.retried_at.is_(None))
                .values(retried_at=now)
            )
    return len(ids)
