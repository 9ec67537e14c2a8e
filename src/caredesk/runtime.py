"""The services one process works with, built once and passed down (no globals, no env reads in code)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import httpx

from caredesk.bus import LocalBus, PgBus, channel_for
from caredesk.config import Settings
from caredesk.domain.clock import Clock, SystemClock
from caredesk.security.vault import SecretBox
from caredesk.storage.db import Database

WAKE_TOPIC = "wake"


@dataclass
class Runtime:
    db: Database
    settings: Settings
    vault: SecretBox
    clock: Clock = field(default_factory=SystemClock)
    bus: LocalBus = field(default_factory=LocalBus)
    # Set when new work is spooled or queued, so in-process workers wake without polling delay.
    intake_ready: threading.Event = field(default_factory=threading.Event)
    outbox_ready: threading.Event = field(default_factory=threading.Event)
    # One pooled client for every connector call of this process (the sender, pollers, webhook checks).
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=httpx.Timeout(15.0, connect=5.0)))
    # The group commit of webhook deliveries (actions/intake.DeliveryWriter), started by the first one.
    delivery_writer: Any = None

    def __post_init__(self) -> None:
        self.bus.subscribe(self._woken)

    def _woken(self, topic: str, payload: dict[str, Any]) -> None:
        if topic == WAKE_TOPIC:
            event = {"intake": self.intake_ready, "outbox": self.outbox_ready}.get(str(payload.get("queue")))
            if event is not None:
                event.set()

    def wake(self, queue: str) -> None:
        """New work in `queue` ("intake" or "outbox"): wake this process's workers and, through the bus,
        every other process's."""
        self.bus.publish(WAKE_TOPIC, {"queue": queue})

    @classmethod
    def open(cls, settings: Settings, *, clock: Clock | None = None, migrate: bool = True) -> Runtime:
        db = Database(settings.database_url)
        if migrate:
            db.migrate()
        vault = SecretBox.from_environment(settings.key_file)
        bus: LocalBus = LocalBus()
        if not db.is_sqlite and settings.bus != "local":
            conninfo = db.url.set(drivername="postgresql").render_as_string(hide_password=False)
            bus = PgBus(conninfo, channel_for(db.url))
        return cls(db=db, settings=settings, vault=vault, clock=clock or SystemClock(), bus=bus)

    def close(self) -> None:
        if self.delivery_writer is not None:
            self.delivery_writer.close()
            self.delivery_writer = None
        self.bus.close()
        self.http.close()
        self.db.dispose()
