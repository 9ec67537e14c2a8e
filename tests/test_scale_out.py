"""Scale-out on PostgreSQL: 2 API processes and 3 worker processes share one database. 20,000 messages
are pushed as signed webhooks to both APIs; each is processed exactly once. Replies queued through both
APIs are each sent once. Live updates from the workers reach the inbox streams of both API processes
(PostgreSQL LISTEN/NOTIFY, bus.py); the workers' periodic jobs run in one process at a time."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from caredesk.connectors.webhook import signing
from caredesk.fakes.webhook_network import FakeWebhookNetwork, ServerThread
from caredesk.runtime import Runtime
from caredesk.security.vault import SecretBox
from caredesk.storage import models as m
from tests.conftest import World

pytestmark = pytest.mark.slow
MESSAGES = 20_000
CUSTOMERS = 4_000
BATCH = 100  # messages per webhook body (the webhook channel's limit)
REPLIES = 200


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Fleet:
    """The processes, started with the CLI as an operator would."""

    def __init__(self, url: str, data_dir: Path, key: bytes) -> None:
        self.env = {**os.environ, "CAREDESK_DATA_DIR": str(data_dir), "CAREDESK_SECRET_KEYS": key.decode()}
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []
        self.api_urls: list[str] = []
        for i in range(2):
            port = _free_port()
            self._start(["serve", "--no-workers", "--port", str(port), "--db", url], data_dir / f"api{i}.log")
            self.api_urls.append(f"http://127.0.0.1:{port}")
        for i in range(3):
            self._start(["worker", "--db", url], data_dir / f"worker{i}.log")
        deadline = time.monotonic() + 60
        for base in self.api_urls:
            while True:
                self.check()
                try:
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "an API process did not come up"
                time.sleep(0.2)

    def _start(self, args: list[str], log: Path) -> None:
        log.parent.mkdir(parents=True, exist_ok=True)
        out = log.open("wb")
        self.procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "caredesk.cli", *args], env=self.env, stdout=out, stderr=out
            )
        )
        self.logs.append(log)

    def check(self) -> None:
        for proc, log in zip(self.procs, self.logs, strict=True):
            assert proc.poll() is None, f"{log.name} exited:\n{log.read_text()[-3000:]}"

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


class LiveStream:
    """An agent's /live stream on one API process, read in a thread."""

    def __init__(self, base: str) -> None:
        self.client = httpx.Client(base_url=base, timeout=httpx.Timeout(10.0, read=None))
        r = self.client.post("/login", data={"email": "agent@example.com", "password": "correct horse"})
        assert r.status_code in (200, 303), r.text
        self.changed: set[int] = set()
        self.frames = 0
        self.open = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        assert self.open.wait(10), "the live stream did not open"

    def _read(self) -> None:
        try:
            with self.client.stream("GET", "/live") as response:
                self.open.set()
                event = None
                for line in response.iter_lines():
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: ") and event == "changed":
                        self.changed.update(json.loads(line[6:]).get("ids") or [])
                        self.frames += 1
        except httpx.HTTPError:
            return

    def close(self) -> None:
        self.client.close()


@pytest.fixture
def fleet(pg_rt: Runtime, tmp_path: Path) -> Iterator[tuple[Runtime, World, FakeWebhookNetwork, Fleet]]:
    key = Fernet.generate_key()
    pg_rt.vault = SecretBox([key])
    net = FakeWebhookNetwork()
    net_server = ServerThread(net.app).start()
    world = World(pg_rt, outbound_url=f"{net_server.url}/channels/chat/replies")
    net.add_channel("chat", secret=world.secret, hook_url="unused: the test posts the webhooks itself")
    processes = Fleet(pg_rt.db.url.render_as_string(hide_password=False), tmp_path / "fleet", key)
    try:
        yield pg_rt, world, net, processes
    finally:
        processes.stop()
        net_server.stop()


def _count(rt: Runtime, query: Any) -> int:
    with rt.db.read() as s:
        return int(s.scalar(query) or 0)


def _wait(rt: Runtime, fleet: Fleet, query: Any, target: int, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while _count(rt, query) < target:
        fleet.check()
        assert time.monotonic() < deadline, f"{what}: {_count(rt, query)} of {target}"
        time.sleep(0.25)


def test_two_apis_and_three_workers_process_everything_once(
    fleet: tuple[Runtime, World, FakeWebhookNetwork, Fleet],
) -> None:
    rt, world, net, processes = fleet
    streams = [LiveStream(base) for base in processes.api_urls]
    t0 = datetime.now(UTC) - timedelta(hours=1)
    hook = f"/hooks/{world.channel.id}"
    clients = [httpx.Client(base_url=base, timeout=30) for base in processes.api_urls]
    try:
        for n, start in enumerate(range(0, MESSAGES, BATCH)):
            body = json.dumps({"messages": [
                {"id": f"m{i}", "created_at": (t0 + timedelta(milliseconds=i)).isoformat(),
                 "text": f"message {i}: my order is late", "author": {"id": f"c{i % CUSTOMERS}",
                 "name": f"Customer {i % CUSTOMERS}"}, "public": False, "thread": f"dm-{i % CUSTOMERS}"}
                for i in range(start, start + BATCH)
            ]}).encode()  # fmt: skip
            headers = {signing.HEADER: signing.sign(world.secret, body, int(time.time()))}
            r = clients[n % 2].post(hook, content=body, headers=headers)
            assert r.status_code == 202 and r.json()["accepted"] == BATCH, r.text

        done = sa.select(sa.func.count()).select_from(m.SpoolEvent).where(m.SpoolEvent.status == "done")
        _wait(rt, processes, done, MESSAGES, 600, "processed")
        with rt.db.read() as s:
            external = list(s.scalars(sa.select(m.Message.external_id).where(m.Message.direction == "in")))
            attempts = set(s.scalars(sa.select(m.SpoolEvent.attempts)))
            dead = s.scalar(sa.select(sa.func.count()).select_from(m.DeadLetter))
            received = s.scalar(
                sa.select(sa.func.count()).select_from(m.Event).where(m.Event.kind == "message.received")
            )
            conversations = list(s.scalars(sa.select(m.Conversation.id).order_by(m.Conversation.id)))
            counted = s.scalar(sa.select(sa.func.sum(m.Conversation.message_count)))
        assert len(external) == MESSAGES and len(set(external)) == MESSAGES  # none lost, none twice
        assert attempts == {1} and dead == 0 and received == MESSAGES  # each processed exactly once
        assert len(conversations) == CUSTOMERS and counted == MESSAGES  # one thread per customer

        token = world.token("agent")
        for n, conv in enumerate(conversations[:REPLIES]):
            r = clients[n % 2].post(
                f"/api/v1/conversations/{conv}/replies", headers={"Authorization": f"Bearer {token}"},
                json={"text": f"Sorry about that ({n})", "sign": False, "confirm": True},
            )  # fmt: skip
            assert r.status_code == 202, r.text
        sent = sa.select(sa.func.count()).select_from(m.Outbox).where(m.Outbox.status == "sent")
        _wait(rt, processes, sent, REPLIES, 120, "replies sent")
        keys = net.channels["chat"].keys_received
        assert len(keys) == REPLIES and len(set(keys)) == REPLIES  # each reply posted once, by one worker

        deadline = time.monotonic() + 15
        while not all(set(conversations[:REPLIES]) <= s.changed for s in streams):
            assert time.monotonic() < deadline, [len(s.changed) for s in streams]
            time.sleep(0.2)
        # the API processes run no workers: what their streams heard came from the workers' processes
        assert all(s.frames > 0 and set(conversations) <= s.changed for s in streams)
    finally:
        for c in clients:
            c.close()
        for stream in streams:
            stream.close()
