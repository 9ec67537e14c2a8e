"""Runs connectors that can stream (Capability.STREAM): one long-lived `stream()` per channel, in a thread.

A streamed channel is leased exactly like a polled one (`lease_owner`, `lease_until`), and the lease is
renewed while the stream runs, so no poller in any process fetches it meanwhile; if this process dies,
the lease runs out and a poller (or another streamer) takes over. Each result the stream delivers is
stored like a poll's: events and cursor in one transaction, then `acknowledge`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from caredesk.actions import intake
from caredesk.connectors import registry
from caredesk.connectors.base import FetchResult
from caredesk.domain.errors import CaredeskError
from caredesk.domain.types import Capability
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from caredesk.workers.poller import LISTEN_KEY, poll_backoff
from caredesk.workers.sender import connector_for

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
RENEW_SECONDS = 30.0


class Streamer:
    def __init__(self, rt: Runtime, *, owner: str | None = None) -> None:
        self.rt = rt
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:stream:{uuid.uuid4().hex[:8]}"
        self.stop_event = threading.Event()
        self._running: dict[int, tuple[threading.Thread, threading.Event]] = {}

    def _streaming_connectors(self) -> list[str]:
        return [
            k for k, cls in registry.all_connectors().items() if Capability.STREAM in cls.spec.capabilities
        ]

    def run_once(self) -> int:
        """Start streams for channels that have none; renew the leases of the running ones."""
        self._reap()
        keys = self._streaming_connectors()
        now = self.rt.clock.now()
        started = 0
        with self.rt.db.write() as session:
            c = m.Channel
            if self._running:
                session.execute(
                    sa.update(c)
                    .where(c.id.in_(list(self._running)), c.lease_owner == self.owner)
                    .values(lease_until=now + LEASE)
                )
            if not keys:
                return 0
            query = sa.select(c).where(
                c.enabled,
                c.connector.in_(keys),
                c.id.not_in(list(self._running) or [0]),
                sa.or_(c.next_poll_at.is_(None), c.next_poll_at <= now),
                sa.or_(c.lease_until.is_(None), c.lease_until < now),
            )
            if not self.rt.db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            claimed = list(session.scalars(query))
            for channel in claimed:
                channel.lease_owner, channel.lease_until = self.owner, now + LEASE
        for channel in claimed:
            stop = threading.Event()
            thread = threading.Thread(
                target=self._stream,
                args=(channel.id, stop),
                daemon=True,
                name=f"caredesk-stream-{channel.id}",
            )
            self._running[channel.id] = (thread, stop)
            thread.start()
            started += 1
        return started

    def _reap(self) -> None:
        for channel_id, (thread, _stop) in list(self._running.items()):
            if not thread.is_alive():
                del self._running[channel_id]

    def _stream(self, channel_id: int, stop: threading.Event) -> None:
        with self.rt.db.read() as session:
            channel = session.get(m.Channel, channel_id)
        if channel is None:
            return
        cursor = dict(channel.cursor or {})
        listen = cursor.pop(LISTEN_KEY, None)
        connector = connector_for(self.rt, channel)

        def deliver(result: FetchResult) -> None:
            stored: dict[str, Any] = {**result.cursor, LISTEN_KEY: listen} if listen else result.cursor
            intake.accept(self.rt, channel_id, result.events, cursor=stored)
            try:
                connector.acknowledge(result.cursor)
            except CaredeskError as exc:
                log.warning("channel %s: could not mark as seen: %s", channel_id, exc.message)

        try:
            connector.stream(cursor, deliver, stop)
            error = None
        except CaredeskError as exc:
            error = exc.message
        except Exception as exc:
            log.exception("stream of channel %s failed", channel_id)
            error = f"internal error in the {channel.connector} connector: {type(exc).__name__}"
        with self.rt.db.write() as session:
            row = session.get(m.Channel, channel_id)
            if row is not None and row.lease_owner == self.owner:
                row.lease_owner = row.lease_until = None
                if error:
                    row.poll_failures += 1
                    row.last_error = error
                    row.next_poll_at = self.rt.clock.now() + timedelta(
                        seconds=poll_backoff(row.poll_failures, None)
                    )

    def stop(self, timeout: float = 10.0) -> None:
        for _thread, stop in self._running.values():
            stop.set()
        for thread, _stop in self._running.values():
            thread.join(timeout)
