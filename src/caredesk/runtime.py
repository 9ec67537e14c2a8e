"""The services one process works with, built once and passed down (no globals, no env reads in code)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import httpx

from caredesk.bus import LocalBus
from caredesk.config import Settings
from caredesk.domain.clock import Clock, SystemClock
from caredesk.security.vault import SecretBox
from caredesk.storage.db import Database


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

    @classmethod
    def open(cls, settings: Settings, *, clock: Clock | None = None, migrate: bool = True) -> Runtime:
        db = Database(settings.database_url)
        if migrate:
            db.migrate()
        vault = SecretBox.from_environment(settings.key_file)
        return cls(db=db, settings=settings, vault=vault, clock=clock or SystemClock())

    def close(self) -> None:
        self.http.close()
        self.db.dispose()
