"""Live updates: actions publish after commit; the web inbox's streams and the workers listen.

`LocalBus` reaches the listeners of this process. `PgBus` (PostgreSQL) also sends every message with
`NOTIFY` and hears the other processes' with `LISTEN`, so any number of API and worker processes on any
number of machines see each other's changes: a reply sent by a worker reaches every inbox, a webhook
taken by one API process wakes the workers elsewhere. Delivery is as live updates need it: at most once
and best effort (a process that is down misses what happened meanwhile; pages re-read on reconnect, and
workers poll their queues anyway).
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Listener = Callable[[str, dict[str, Any]], None]
NOTIFY_LIMIT = 7900  # PostgreSQL refuses NOTIFY payloads of 8000 bytes or more
CHUNK = 400  # ids per message when a change names many conversations


class LocalBus:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        self._deliver(topic, payload)

    def _deliver(self, topic: str, payload: dict[str, Any]) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(topic, payload)
            except Exception:
                log.exception("a listener of %s failed", topic)

    def close(self) -> None:
        return None


def _pieces(payload: dict[str, Any]) -> list[dict[str, Any]]:
    ids = payload.get("ids")
    if isinstance(ids, list) and len(ids) > CHUNK:
        return [{**payload, "ids": ids[i : i + CHUNK]} for i in range(0, len(ids), CHUNK)]
    return [payload]


class PgBus(LocalBus):
    """LocalBus plus PostgreSQL NOTIFY/LISTEN on `channel` (one per database and schema)."""

    def __init__(self, conninfo: str, channel: str = "caredesk") -> None:
        super().__init__()
        self.conninfo = conninfo
        self.channel = channel
        self.origin = uuid.uuid4().hex  # this process's own messages come back: they are skipped
        self._send: Any = None
        self._send_lock = threading.Lock()
        self._stop = threading.Event()
        self.listening = threading.Event()  # set once LISTEN is in place (tests wait for it)
        self._thread = threading.Thread(target=self._listen, name="caredesk-bus", daemon=True)
        self._thread.start()

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        self._deliver(topic, payload)
        for piece in _pieces(payload):
            body = json.dumps({"o": self.origin, "t": topic, "p": piece}, default=str, separators=(",", ":"))
            if len(body.encode()) > NOTIFY_LIMIT:
                log.warning("live update %s too large for NOTIFY (%d bytes): other processes miss it",
                            topic, len(body.encode()))  # fmt: skip
                continue
            self._notify(body)

    def _notify(self, body: str) -> None:
        import psycopg  # noqa: PLC0415 (PostgreSQL deployments only)

        with self._send_lock:
            for attempt in (1, 2):
                try:
                    if self._send is None or self._send.closed:
                        self._send = psycopg.connect(self.conninfo, autocommit=True)
                    self._send.execute("SELECT pg_notify(%s, %s)", (self.channel, body))
                    return
                except psycopg.Error as exc:
                    self._send = None
                    if attempt == 2:
                        log.warning("live update not sent to other processes: %s", type(exc).__name__)

    def _listen(self) -> None:
        import psycopg  # noqa: PLC0415

        wait = 0.5
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as conn:
                    conn.execute(f'LISTEN "{self.channel}"')
                    self.listening.set()
                    wait = 0.5
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            self._heard(note.payload)
            except psycopg.Error as exc:
                self.listening.clear()
                log.warning(
                    "live updates from other processes interrupted (%s); reconnecting", type(exc).__name__
                )
                self._stop.wait(wait)
                wait = min(wait * 2, 30.0)

    def _heard(self, body: str) -> None:
        try:
            message = json.loads(body)
            origin, topic, payload = message["o"], message["t"], message["p"]
        except (ValueError, KeyError, TypeError):
            return
        if origin != self.origin and isinstance(topic, str) and isinstance(payload, dict):
            self._deliver(topic, payload)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(3)
        with self._send_lock:
            if self._send is not None:
                self._send.close()
                self._send = None


def channel_for(url: Any) -> str:
    """The NOTIFY channel of a database URL: one per schema when the URL sets a search_path (the tests'
    per-run schemas), else one per database (every process of a deployment shares it)."""
    options = str(dict(url.query).get("options") or "")
    schema = next((p.split("=", 1)[1] for p in options.split() if p.startswith("-csearch_path=")), "")
    cleaned = "".join(c for c in schema.split(",")[0] if c.isalnum() or c == "_")
    return f"caredesk_{cleaned}"[:63] if cleaned else "caredesk"
