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

from caredesk.actions import intake
from caredesk.domain.types import Author, InboundEvent
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from tests.conftest import World

pytestmark = pytest.mark.slow
N = 1300  # three batches of 500: the kill lands inside the second


def _worker(url: str, data_dir: Path, fault: str | None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CAREDESK_DATA_DIR": str(data_dir)}
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
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            assert time.monotonic() < deadline, "worker never reached the second batch"
            time.sleep(0.05)
        time.sleep(0.2)  # the second batch's rows are written (flushed) but not committed
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    done = sa.select(sa.func.count()).select_from(m.SpoolEvent).where(m.SpoolEvent.status == "done")
    messages = sa.select(sa.func.count()).select_from(m.Message)
    assert _count(rt, done) == 500  # exactly the first batch committed
    assert _count(rt, messages) == 500

    proc = _worker(database_url, tmp_path / "data", None)
    try:
        deadline = time.monotonic() + 120
        while _count(rt, done) < N:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            assert time.monotonic() < deadline, "restarted worker did not drain the spool"
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(10)

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
