"""Publishes queued replies through their channel's connector, once.

States: queued -> sending -> sent | failed. An item is marked `sending` (with a lease) and committed
before the network is called. If the process dies before the outcome is written back, the item is
"in doubt" when its lease runs out: connectors whose network drops repeated idempotency keys simply
send again; others are asked `find_published()` first and resend only if the network has no copy.
Retryable failures (timeouts, 5xx, 429) back off exponentially with jitter; the last one parks the
item as failed with its error, visible on the message.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import httpx
import sqlalchemy as sa

from caredesk.actions.base import Actor, record
from caredesk.actions.conversations import mark_sent
from caredesk.connectors import registry
from caredesk.connectors.base import ChannelContext, Connector
from caredesk.domain.errors import CaredeskError, ConnectorError
from caredesk.domain.types import OutboundReply, OutboxStatus, SendResult
from caredesk.faults import checkpoint
from caredesk.runtime import Runtime
from caredesk.storage import models as m

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# A claim covers the whole batch, sent one by one; an item whose lease is nearly spent is left for the next
# round rather than sent late (another worker may by then take it as in doubt).
LEASE = timedelta(minutes=5)
SAFETY = timedelta(seconds=30)


@dataclass(slots=True)
class Claimed:
    outbox_id: int
    channel_id: int
    conversation_id: int
    request: OutboundReply
    in_doubt: bool


def backoff_seconds(attempt: int, retry_after: float | None = None) -> float:
    if retry_after is not None:
        return retry_after
    base = min(3600.0, 5.0 * float(2 ** max(0, attempt - 1)))
    return base * random.uniform(0.5, 1.5)  # noqa: S311  (jitter, not security)


def drain(run_once: Callable[[], int], max_rounds: int = 1000) -> int:
    """Run a worker step until it finds nothing due (tests, `caredesk` commands): how many it handled."""
    total = 0
    for _ in range(max_rounds):
        n = run_once()
        if n == 0:
            break
        total += n
    return total


def connector_for(rt: Runtime, channel: m.Channel, http: httpx.Client | None = None) -> Connector:
    cls = registry.get(channel.connector)
    context = ChannelContext(
        id=channel.id,
        own_account_id=channel.own_account_id,
        config=dict(channel.config or {}),
        credentials=rt.vault.decrypt(channel.credentials_encrypted),
    )
    return cls(context, http=http or rt.http, clock=rt.clock)


class Sender:
    def __init__(self, rt: Runtime, http: httpx.Client | None = None, batch_size: int = 10) -> None:
        self.rt = rt
        self.http = http or rt.http
        self.batch_size = batch_size

    def run_once(self) -> int:
        claimed = self._claim()
        deadline = self.rt.clock.now() + LEASE - SAFETY
        for item in claimed:
            if self.rt.clock.now() >= deadline:
                self._release(item)
                continue
            self._deliver(item)
        return len(claimed)

    def _release(self, item: Claimed) -> None:
        """Give back an unsent claim: it was never handed to the network, so it is simply queued again."""
        with self.rt.db.write() as session:
            outbox = session.get(m.Outbox, item.outbox_id)
            if outbox is not None and outbox.status == OutboxStatus.SENDING.value and not item.in_doubt:
                outbox.status, outbox.claimed_until = OutboxStatus.QUEUED.value, None
                outbox.attempts -= 1

    def drain(self, max_rounds: int = 1000) -> int:
        return drain(self.run_once, max_rounds)

    def _claim(self) -> list[Claimed]:
        now = self.rt.clock.now()
        due = sa.or_(
            sa.and_(m.Outbox.status == OutboxStatus.QUEUED.value, m.Outbox.next_attempt_at <= now),
            sa.and_(m.Outbox.status == OutboxStatus.SENDING.value, m.Outbox.claimed_until < now),
        )
        query = (
            sa.select(m.Outbox)
            .where(due)
            .order_by(m.Outbox.next_attempt_at, m.Outbox.id)
            .limit(self.batch_size)
        )
        if not self.rt.db.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        out = []
        with self.rt.db.write() as session:
            for row in session.scalars(query):
                in_doubt = row.status == OutboxStatus.SENDING.value
                row.status = OutboxStatus.SENDING.value
                row.claimed_until = now + LEASE
                row.attempts += 1
                msg = session.get(m.Message, row.message_id)
                if msg is not None:
                    msg.delivery = "sending"
                out.append(
                    Claimed(
                        row.id, row.channel_id, row.conversation_id, OutboundReply(**row.request), in_doubt
                    )
                )
        return out

    def _deliver(self, item: Claimed) -> None:
        with self.rt.db.read() as session:
            channel = session.get(m.Channel, item.channel_id)
            assert channel is not None
        try:
            connector = connector_for(self.rt, channel, self.http)
            result: SendResult | None = None
            if item.in_doubt and not connector.spec.idempotent_send:
                result = connector.find_published(item.request)
            if result is None:
                result = connector.send(item.request)
                checkpoint("sent")  # crash tests: published, the outcome not yet written
        except ConnectorError as exc:
            self._failed(item, exc.message, retryable=exc.retryable, retry_after=exc.retry_after)
            return
        except CaredeskError as exc:
            self._failed(item, exc.message, retryable=False, retry_after=None)
            return
        except Exception as exc:
            log.exception("connector %s crashed while sending", channel.connector)
            self._failed(
                item,
                f"internal error in the {channel.connector} connector: {type(exc).__name__}",
                retryable=True,
                retry_after=None,
            )
            return
        now = self.rt.clock.now()
        with self.rt.db.write() as session:
            outbox = session.get(m.Outbox, item.outbox_id)
            assert outbox is not None
            mark_sent(session, outbox, result.external_id, now)
        self.rt.bus.publish("conversations.changed", {"ids": [item.conversation_id], "kind": "sent"})

    def _conversation_id(self, item: Claimed) -> int:
        with self.rt.db.read() as session:
            return int(
                session.scalar(sa.select(m.Outbox.conversation_id).where(m.Outbox.id == item.outbox_id)) or 0
            )

    def _failed(self, item: Claimed, error: str, *, retryable: bool, retry_after: float | None) -> None:
        now = self.rt.clock.now()
        with self.rt.db.write() as session:
            outbox = session.get(m.Outbox, item.outbox_id)
            assert outbox is not None
            msg = session.get(m.Message, outbox.message_id)
            outbox.last_error = error
            outbox.claimed_until = None
            if retryable and outbox.attempts < MAX_ATTEMPTS:
                outbox.status = OutboxStatus.QUEUED.value
                outbox.next_attempt_at = now + timedelta(
                    seconds=backoff_seconds(outbox.attempts, retry_after)
                )
                if msg is not None:
                    msg.delivery, msg.delivery_error = "queued", f"retrying: {error}"
            else:
                outbox.status = OutboxStatus.FAILED.value
                if msg is not None:
                    msg.delivery, msg.delivery_error = "failed", error
                record(
                    session,
                    Actor.system(),
                    "reply.failed",
                    workspace_id=outbox.workspace_id,
                    conversation_id=outbox.conversation_id,
                    message_id=outbox.message_id,
                    at=now,
                    error=error,
                )
        self.rt.bus.publish("conversations.changed", {"ids": [item.conversation_id], "kind": "send_failed"})
