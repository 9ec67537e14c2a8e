"""A worker killed with SIGKILL in the middle of a batch loses nothing and duplicates nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from caredesk.actions import conversations as conv_actions
from caredesk.actions import intake
from caredesk.domain.types import Author, InboundEvent
from caredesk.fakes.webhook_network import ServerThread
from caredesk.fakes.x import FakeX
from caredesk.pipeline.runner import Pipeline
from caredesk.runtime import Runtime
from caredesk.security.vault import SecretBox
from caredesk.storage import models as m
from tests.conftest import World, x_channel

pytestmark = pytest.mark.slow
N = 1300  # three batches of 500: the kill lands inside the second


def _worker(
    url: str, data_dir: Path, fault: str | None, extra: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CAREDESK_DATA_DIR": str(data_dir), **(extra or {})}
    env.pop("CAREDESK_FAULT_PAUSE", None)
    if fault:
        env["CAREDESK_FAULT_PAUSE"] = fault
    return subprocess.Popen(
        [sys.executable, "-m", "caredesk.cli", "worker", "--db", url],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _count(rt: Runtime, query: sa.Select[tuple[int]]) -> int:
    with rt.db.read() as s:
        return int(s.scalar(query) or 0)


def _kill_when_paused(
    proc: subprocess.Popen[bytes], marker: Path, seconds: float, what: str, settle: float = 0
) -> None:
    """Wait until the worker stops at its fault point (it writes `marker`), then SIGKILL it."""
    try:
        deadline = time.monotonic() + seconds
        while not marker.exists():
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            assert time.monotonic() < deadline, what
            time.sleep(0.05)
        time.sleep(settle)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()


def _run_until(
    proc: subprocess.Popen[bytes], rt: Runtime, query: sa.Select[tuple[int]], target: int, what: str
) -> None:
    """Let the (restarted) worker run until `query` counts `target`, then stop it."""
    try:
        deadline = time.monotonic() + 120
        while _count(rt, query) < target:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            assert time.monotonic() < deadline, what
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(10)


def test_sigkill_mid_batch_then_restart_processes_every_event_exactly_once(
    rt: Runtime, world: World, database_url: str, tmp_path: Path
) -> None:
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    events = [
        InboundEvent(
            external_id=f"k{i}",
            created_at=t0 + timedelta(seconds=i),
            text=f"message {i}",
            author=Author(id=f"cust{i % 97}"),
            in_reply_to=f"k{i - 97}" if i >= 97 and i % 3 == 0 else None,
        )
        for i in range(N)
    ]
    assert intake.accept(rt, world.channel.id, events).accepted == N
    marker = tmp_path / "paused"
    proc = _worker(database_url, tmp_path / "data", f"thread:{marker}:120:2")
    # settle: the second batch's rows are written (flushed) but not committed
    _kill_when_paused(proc, marker, 60, "worker never reached the second batch", settle=0.2)
    done = sa.select(sa.func.count()).select_from(m.SpoolEvent).where(m.SpoolEvent.status == "done")
    messages = sa.select(sa.func.count()).select_from(m.Message)
    assert _count(rt, done) == 500  # exactly the first batch committed
    assert _count(rt, messages) == 500

    _run_until(
        _worker(database_url, tmp_path / "data", None),
        rt,
        done,
        N,
        "restarted worker did not drain the spool",
    )

    with rt.db.read() as s:
        ids = list(s.scalars(sa.select(m.Message.external_id)))
        attempts = set(s.scalars(sa.select(m.SpoolEvent.attempts)))
        received = s.scalar(
            sa.select(sa.func.count()).select_from(m.Event).where(m.Event.kind == "message.received")
        )
        dead = s.scalar(sa.select(sa.func.count()).select_from(m.DeadLetter))
        total = s.scalar(sa.select(sa.func.sum(m.Conversation.message_count)))
    assert sorted(ids) == sorted(e.external_id for e in events)  # none lost, none twice
    assert attempts == {1}  # each event's processing committed exactly once
    assert received == N
    assert dead == 0
    assert total == N


REPLIES = 30  # three claims of 10: the kill lands inside the first, right after the 4th is published


def test_sigkill_while_sending_publishes_every_reply_exactly_once(
    rt: Runtime, database_url: str, tmp_path: Path
) -> None:
    """The sender is killed after X accepted a reply but before the outcome was written. Once the lease
    has run out, the restarted sender finds that reply on X (X drops no repeats) instead of posting it
    again, sends the rest, and every reply is on X exactly once."""
    key = Fernet.generate_key()
    rt.vault = SecretBox([key])  # the worker process decrypts the channel's credentials with this key
    world = World(rt)
    x = FakeX(brand_username="acme_care", brand_id="1600000000000000001")
    server = ServerThread(x.app).start()
    try:
        channel = x_channel(rt, world.ws.id, x, server.url)
        t0 = datetime.now(UTC) - timedelta(minutes=30)
        events = []
        for i in range(REPLIES):
            user = x.user(f"cust{i}", name=f"Customer {i}")
            tweet = x.post(user.id, f"@acme_care my order {i} is late", at=t0 + timedelta(seconds=i))
            events.append(
                InboundEvent(tweet.id, tweet.created_at, tweet.text,
                             Author(id=user.id, handle=f"@{user.username}", name=user.name),
                             public=True, thread=tweet.conversation_id)
            )  # fmt: skip
        assert intake.accept(rt, channel.id, events).accepted == REPLIES
        Pipeline(rt).drain()
        with rt.db.read() as s:
            convs = list(s.scalars(sa.select(m.Conversation.id).order_by(m.Conversation.id)))
        assert len(convs) == REPLIES
        for i, conv in enumerate(convs):
            conv_actions.reply(rt, world.actor("agent"), conv, f"Sorry about order {i}, on it", public=True,
                               sign=False, confirm=True)  # fmt: skip

        env = {"CAREDESK_SECRET_KEYS": key.decode()}
        marker = tmp_path / "paused"
        proc = _worker(database_url, tmp_path / "data", f"sent:{marker}:120:4", env)
        _kill_when_paused(proc, marker, 90, "the sender never published its fourth reply")
        brand_posts = lambda: [t for t in x.tweets.values() if t.author_id == x.brand.id]  # noqa: E731
        sent = sa.select(sa.func.count()).select_from(m.Outbox).where(m.Outbox.status == "sent")
        assert len(brand_posts()) == 4 and _count(rt, sent) == 3  # the 4th is on X, not marked sent
        with rt.db.write() as s:  # stands in for waiting out the 5-minute lease
            s.execute(
                sa.update(m.Outbox)
                .where(m.Outbox.status == "sending")
                .values(claimed_until=datetime.now(UTC) - timedelta(seconds=1))
            )

        restarted = _worker(database_url, tmp_path / "data", None, env)
        _run_until(restarted, rt, sent, REPLIES, "the restarted sender did not drain the outbox")
    finally:
        server.stop()

    posts = brand_posts()
    assert len(posts) == REPLIES  # none twice, none lost
    assert len({t.replied_to for t in posts}) == REPLIES  # one under each customer's post
    with rt.db.read() as s:
        outbox = s.execute(sa.select(m.Outbox.status, m.Outbox.attempts, m.Message.external_id)
                           .join(m.Message, m.Message.id == m.Outbox.message_id)).all()  # fmt: skip
    assert {status for status, _, _ in outbox} == {"sent"}
    assert sorted(ext for _, _, ext in outbox) == sorted(t.id for t in posts)  # each knows its post
    assert sorted(attempts for _, attempts, _ in outbox)[-7:] == [2] * 7  # the 4th to 10th were claimed twice


def test_sigterm_stops_a_worker_cleanly(rt: Runtime, database_url: str, tmp_path: Path) -> None:
    """systemd and container runtimes stop with SIGTERM: the worker finishes its steps and exits 0."""
    proc = _worker(database_url, tmp_path / "data", None)
    try:
        assert proc.stdout is not None
        assert b"worker running" in proc.stdout.readline()
        time.sleep(1.0)  # its threads are running
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
