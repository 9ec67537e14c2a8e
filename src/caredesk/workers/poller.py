"""Fetches new activity from channels whose connectors poll, one poller per channel at a time.

A channel is leased (`lease_owner`, `lease_until`) before it is fetched, so any number of worker processes
can run pollers and each channel is still fetched by one. The events and the new cursor are stored in one
transaction (actions/intake.accept), so a restart resumes exactly where the last stored fetch ended.
Failures back off per channel: the network's Retry-After or rate-limit reset when it gives one, else
exponentially; the error stays visible on the channel until a fetch succeeds.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import uuid
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from caredesk.actions import intake
from caredesk.connectors import registry
from caredesk.domain.errors import CaredeskError, ConnectorError
from caredesk.domain.types import Capability
from caredesk.domain.watch import WatchSpec
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from caredesk.workers.sender import connector_for

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
LISTEN_KEY = "_listen"  # the listening cursor, kept inside the channel's cursor beside fetch's own
MAX_BACKOFF = 3600.0


def poll_backoff(failures: int, retry_after: float | None) -> float:
    if retry_after is not None:
        return retry_after
    return min(MAX_BACKOFF, 5.0 * float(2 ** max(0, failures - 1))) * random.uniform(0.8, 1.2)  # noqa: S311


class Poller:
    def __init__(self, rt: Runtime, *, owner: str | None = None, batch_size: int = 20) -> None:
        self.rt = rt
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.batch_size = batch_size

    def _polling_connectors(self) -> list[str]:
        wanted = {Capability.POLL, Capability.LISTEN}
        streamed = {Capability.STREAM} if self.rt.settings.streaming else set()
        return [
            k
            for k, cls in registry.all_connectors().items()
            if wanted & cls.spec.capabilities and not streamed & cls.spec.capabilities
        ]

    def _claim(self) -> list[int]:
        keys = self._polling_connectors()
        if not keys:
            return []
        now = self.rt.clock.now()
        c = m.Channel
        query = (
            sa.select(c)
            .where(
                c.enabled,
                c.connector.in_(keys),
                sa.or_(c.next_poll_at.is_(None), c.next_poll_at <= now),
                sa.or_(c.lease_until.is_(None), c.lease_until < now, c.lease_owner == self.owner),
            )
            .order_by(c.next_poll_at.is_not(None), c.next_poll_at, c.id)
            .limit(self.batch_size)
        )
        if not self.rt.db.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        with self.rt.db.write() as session:
            channels = list(session.scalars(query))
            for channel in channels:
                channel.lease_owner, channel.lease_until = self.owner, now + LEASE
            return [ch.id for ch in channels]

    def run_once(self) -> int:
        """Fetch every due channel once. Returns how many were fetched."""
        ids = self._claim()
        for channel_id in ids:
            self.poll(channel_id)
        return len(ids)

    def poll(self, channel_id: int) -> None:
        """Fetch (mentions, messages) and then listen (watch rules), each stored with its own part of the
        cursor, so an outage of the network's search does not hold back what is addressed to the brand."""
        with self.rt.db.read() as session:
            channel = session.get(m.Channel, channel_id)
        if channel is None:
            return
        spec = registry.get(channel.connector).spec
        cursor = dict(channel.cursor or {})
        listen_cursor = cursor.pop(LISTEN_KEY, {})
        more = False
        try:
            connector = connector_for(self.rt, channel)
            if Capability.POLL in spec.capabilities:
                result = connector.fetch(cursor)
                cursor, more = result.cursor, result.more
                intake.accept(self.rt, channel.id, result.events, cursor=self._joined(cursor, listen_cursor))
                self._acknowledge(connector, channel_id, cursor)
            rules = self._watch_rules(channel.workspace_id) if Capability.LISTEN in spec.capabilities else []
            if rules:
                heard = connector.watch(rules, listen_cursor)
                listen_cursor, more = heard.cursor, more or heard.more
                intake.accept(self.rt, channel.id, heard.events, cursor=self._joined(cursor, listen_cursor))
        except ConnectorError as exc:
            self._failed(channel_id, exc.message, exc.retry_after)
            return
        except CaredeskError as exc:
            self._failed(channel_id, exc.message, None)
            return
        except Exception as exc:
            log.exception("poll of channel %s failed", channel_id)
            self._failed(
                channel_id, f"internal error in the {channel.connector} connector: {type(exc).__name__}", None
            )
            return
        interval = min(spec.poll_seconds, self.rt.settings.poll_seconds or spec.poll_seconds)
        self._release(channel_id, next_in=0.0 if more else float(interval), error=None)

    @staticmethod
    def _joined(cursor: dict[str, Any], listen_cursor: dict[str, Any]) -> dict[str, Any]:
        return {**cursor, LISTEN_KEY: listen_cursor} if listen_cursor else dict(cursor)

    @staticmethod
    def _acknowledge(connector: Any, channel_id: int, cursor: dict[str, Any]) -> None:
        try:
            connector.acknowledge(cursor)
        except CaredeskError as exc:  # the events are stored; the network's "seen" mark can wait
            log.warning("channel %s: could not mark as seen: %s", channel_id, exc.message)

    def _watch_rules(self, workspace_id: int) -> list[WatchSpec]:
        with self.rt.db.read() as session:
            rows = session.scalars(
                sa.select(m.WatchRule).where(m.WatchRule.workspace_id == workspace_id, m.WatchRule.enabled)
            )
            return [r.spec() for r in rows]

    def _failed(self, channel_id: int, error: str, retry_after: float | None) -> None:
        with self.rt.db.write() as session:
            channel = session.get(m.Channel, channel_id)
            if channel is None:
                return
            channel.poll_failures += 1
            wait = poll_backoff(channel.poll_failures, retry_after)
            log.warning("channel %s: fetch failed (%s); next try in %.0f s", channel_id, error, wait)
            channel.last_error = error
            channel.next_poll_at = self.rt.clock.now() + timedelta(seconds=wait)
            channel.lease_owner = channel.lease_until = None

    def _release(self, channel_id: int, *, next_in: float, error: str | None) -> None:
        with self.rt.db.write() as session:
            channel = session.get(m.Channel, channel_id)
            if channel is None:
                return
            channel.next_poll_at = self.rt.clock.now() + timedelta(seconds=next_in)
            channel.lease_owner = channel.lease_until = None
            if error:
                channel.last_error = error
