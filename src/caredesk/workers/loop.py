"""The worker loops: intake pipeline, reply sender, outgoing webhooks, timers. In the embedded setup they
run as threads of the server process; `caredesk worker` runs them in a process of their own (many may run
on PostgreSQL)."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable

from caredesk.actions import erasure
from caredesk.actions.conversations import dispatch_waiting, release_snoozed, watch_slas
from caredesk.actions.greetings import post_due as post_greetings
from caredesk.analytics import spikes
from caredesk.pipeline.runner import Pipeline
from caredesk.runtime import Runtime
from caredesk.workers.hooks import HookSender
from caredesk.workers.poller import Poller
from caredesk.workers.sender import Sender
from caredesk.workers.streamer import Streamer

log = logging.getLogger(__name__)


class Workers:
    def __init__(self, rt: Runtime, *, idle_wait: float = 1.0) -> None:
        self.rt = rt
        self.idle_wait = idle_wait
        self.stop_event = threading.Event()
        self.pipeline = Pipeline(rt)
        self.sender = Sender(rt)
        self.hooks = HookSender(rt)
        self.poller = Poller(rt)
        self.streamer = Streamer(rt) if rt.settings.streaming else None
        self._threads: list[threading.Thread] = []

    def _loop(self, name: str, step: Callable[[], int], wake: threading.Event | None, period: float) -> None:
        failures = 0
        while not self.stop_event.is_set():
            try:
                did = step()
                failures = 0
            except Exception:
                failures += 1
                log.exception("%s worker step failed (%d in a row)", name, failures)
                did = 0
                self.stop_event.wait(min(30.0, 0.5 * 2**failures))
                continue
            if did:
                continue
            if wake is not None:
                wake.wait(period)
                wake.clear()
            else:
                self.stop_event.wait(period)

    def _once(self, name: str, step: Callable[[], int]) -> Callable[[], int]:
        """A periodic job that one process at a time runs, however many share the database."""

        def run() -> int:
            with self.rt.db.singleton(f"caredesk.{name}") as mine:
                return step() if mine else 0

        return run

    def _timers(self) -> int:
        release_snoozed(self.rt)
        dispatch_waiting(self.rt)
        watch_slas(self.rt)
        post_greetings(self.rt)
        spikes.evaluate_due(self.rt)
        return 0

    def _adapt(self) -> int:
        """Once a day per workspace: refit the needs-reply adjustment from the team's decisions."""
        from caredesk.triage import adapt  # noqa: PLC0415 (scikit-learn loads in the worker thread)
        from caredesk.triage.model import default_triager  # noqa: PLC0415

        adapt.adapt_due(self.rt, default_triager())
        return 0

    def start(self) -> None:
        specs = [
            ("intake", lambda: self.pipeline.run_once().processed, self.rt.intake_ready, self.idle_wait),
            ("sender", self.sender.run_once, self.rt.outbox_ready, self.idle_wait),
            ("hooks", self.hooks.run_once, None, self.idle_wait),
            ("poller", self.poller.run_once, None, self.idle_wait),
            ("timers", self._once("timers", self._timers), None, 30.0),
            ("adapt", self._once("adapt", self._adapt), None, 3600.0),
            ("retention", self._once("retention", lambda: erasure.apply_retention(self.rt)), None, 3600.0),
        ]
        if self.streamer is not None:
            specs.append(
                ("streamer", lambda: self.streamer.run_once() and 0 if self.streamer else 0, None, 5.0)
            )
        for name, step, wake, period in specs:
            thread = threading.Thread(
                target=self._loop, args=(name, step, wake, period), name=f"caredesk-{name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        if self.streamer is not None:
            self.streamer.stop(timeout)
        self.rt.intake_ready.set()
        self.rt.outbox_ready.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def run_forever(self) -> None:
        """Until Ctrl-C or SIGTERM: then each thread finishes its step (a batch is one transaction)."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: self.stop_event.set())
        self.start()
        try:
            while not self.stop_event.wait(1.0):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()
