"""Backup and restore as an operator runs them: `caredesk backup` of the running SQLite database and
`caredesk restore` into a fresh one give identical conversations, events and reports; bad backups and
careless overwrites are refused and change nothing. PostgreSQL: the pg_dump / pg_restore recipe the
README gives, run for real."""

from __future__ import annotations

import json
import subprocess
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from caredesk.actions import intake
from caredesk.domain.types import Author, InboundEvent
from caredesk.pipeline.runner import Pipeline
from caredesk.runtime import Runtime
from caredesk.storage import backup as backups
from caredesk.storage.models import Base
from tests.conftest import World, _pg_url, make_runtime
from tests.test_cli_and_demo import run

# every table, compared row by row
COMPARED = tuple(Base.metadata.tables)


def _rows(url: str, tables: tuple[str, ...] = COMPARED) -> dict[str, list[tuple[Any, ...]]]:
    engine = sa.create_engine(url)
    known = Base.metadata.tables
    out = {}
    with engine.connect() as conn:
        for name in tables:
            table = known[name]
            order = list(table.primary_key.columns) or list(table.columns)
            out[name] = [tuple(r) for r in conn.execute(sa.select(table).order_by(*order))]
    engine.dispose()
    return out


def _reports(tmp: Path, url: str) -> tuple[Any, Any]:
    kpis = run("report", "kpis", "--format", "json", "--db", url, cwd=tmp)
    summary = run("report", "summary", "--workspace", "nordlys", "--format", "json", "--db", url, cwd=tmp)
    assert kpis.returncode == 0 and summary.returncode == 0, kpis.stderr + summary.stderr
    return json.loads(kpis.stdout), json.loads(summary.stdout)


def test_backup_then_restore_into_a_fresh_database(tmp_path: Path) -> None:
    assert run("demo", "--no-serve", cwd=tmp_path).returncode == 0
    live = f"sqlite:///{tmp_path / 'data' / 'caredesk.db'}"
    copy = tmp_path / "backups" / "nightly.db"
    done = run("backup", str(copy), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "backup written" in done.stdout and "secret key is not in the backup" in done.stdout
    assert not copy.with_name("nightly.db.partial").exists()

    fresh = f"sqlite:///{tmp_path / 'elsewhere' / 'caredesk.db'}"
    restored = run("restore", str(copy), "--db", fresh, cwd=tmp_path)
    assert restored.returncode == 0, restored.stderr
    original, again = _rows(live), _rows(fresh)
    assert len(original["conversations"]) >= 50 and len(original["messages"]) > 100
    assert len(original["daily_rollups"]) > 0 and len(original["events"]) > 100
    for table in COMPARED:
        assert again[table] == original[table], table
    assert _reports(tmp_path, fresh) == _reports(tmp_path, live)

    # a second backup to the same name is refused, and the first is left as it was
    before = copy.read_bytes()
    refused = run("backup", str(copy), cwd=tmp_path)
    assert refused.returncode == 2 and "exists" in refused.stderr
    assert copy.read_bytes() == before
    # restoring over a database in use needs --overwrite; without it nothing changes
    refused = run("restore", str(copy), "--db", live, cwd=tmp_path)
    assert refused.returncode == 2 and "--overwrite" in refused.stderr
    assert _rows(live) == original


def test_a_damaged_or_foreign_backup_is_refused_and_changes_nothing(
    sqlite_rt: Runtime, tmp_path: Path
) -> None:
    World(sqlite_rt)
    url = sqlite_rt.db.url.render_as_string(hide_password=False)
    before = _rows(url)
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"SQLite format 3\x00" + b"\x07" * 5000)
    with pytest.raises(backups.CaredeskError, match=r"not a readable SQLite database|damaged"):
        backups.restore(garbage, url, overwrite=True)
    other = tmp_path / "other.db"
    sa.create_engine(f"sqlite:///{other}").connect().execute(sa.text("create table t (x int)")).close()
    with pytest.raises(backups.CaredeskError, match="not a caredesk database"):
        backups.restore(other, url, overwrite=True)
    with pytest.raises(backups.InvalidInput, match="no such backup"):
        backups.restore(tmp_path / "missing.db", url, overwrite=True)
    assert _rows(url) == before
    with pytest.raises(backups.InvalidInput, match="pg_dump"):
        backups.backup("postgresql+psycopg://postgres@127.0.0.1/test", tmp_path / "x.db")


def test_backup_while_messages_arrive_is_a_consistent_snapshot(sqlite_rt: Runtime, tmp_path: Path) -> None:
    """The copy is taken while another thread keeps accepting messages: it is sound, and each message in it
    is in the live database exactly as it was copied."""
    world = World(sqlite_rt)
    url = sqlite_rt.db.url.render_as_string(hide_password=False)
    stop = threading.Event()

    def arrive() -> None:
        i = 0
        while not stop.is_set():
            at = datetime(2026, 12, 3, 9, tzinfo=UTC)
            events = [InboundEvent(f"m{i}-{k}", at, f"hello {i}-{k}", Author(id=f"c{i}")) for k in range(20)]
            intake.accept(sqlite_rt, world.channel.id, events)
            i += 1

    writer = threading.Thread(target=arrive)
    writer.start()
    try:
        while not _rows(url, ("spool",))["spool"]:
            stop.wait(0.01)
        copies = [backups.backup(url, tmp_path / f"b{n}.db") for n in range(3)]
    finally:
        stop.set()
        writer.join()
    live = _rows(url, ("spool",))["spool"]
    for copy in copies:
        spooled = _rows(f"sqlite:///{copy.path}", ("spool",))["spool"]
        assert spooled == live[: len(spooled)]  # a prefix of what was accepted: whole batches only
        assert len(spooled) % 20 == 0
        assert copy.rows["workspaces"] == len(_rows(url, ("workspaces",))["workspaces"])
    counts = [c.rows["messages"] + len(_rows(f"sqlite:///{c.path}", ("spool",))["spool"]) for c in copies]
    assert counts == sorted(counts) and counts[0] >= 20


@pytest.mark.skipif(_pg_url() is None, reason="no PostgreSQL listens on 127.0.0.1:5432")
def test_postgresql_recipe_pg_dump_then_pg_restore(tmp_path: Path) -> None:
    """README: `pg_dump --format=custom` of the live database, `pg_restore` into a new one."""
    server = sa.make_url(_pg_url() or "")
    source_db, target_db = f"cd_src_{uuid.uuid4().hex[:8]}", f"cd_dst_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {source_db}"))
        conn.execute(sa.text(f"CREATE DATABASE {target_db}"))
    source, target = server.set(database=source_db), server.set(database=target_db)
    try:
        rt = make_runtime(source.render_as_string(hide_password=False), tmp_path / "data")
        rt.db.migrate()
        world = World(rt)
        at = datetime(2026, 12, 3, 9, tzinfo=UTC)
        events = [InboundEvent(f"e{i}", at, f"hi {i}", Author(id="c")) for i in range(50)]
        intake.accept(rt, world.channel.id, events)
        Pipeline(rt).drain()
        rt.close()
        plain = source.set(drivername="postgresql").render_as_string(hide_password=False)
        dump = tmp_path / "caredesk.dump"
        subprocess.run(["pg_dump", "--format=custom", f"--file={dump}", plain], check=True, timeout=120)
        into = target.set(drivername="postgresql").render_as_string(hide_password=False)
        subprocess.run(["pg_restore", "--no-owner", f"--dbname={into}", str(dump)], check=True, timeout=120)
        a = _rows(source.render_as_string(hide_password=False))
        b = _rows(target.render_as_string(hide_password=False))
        assert len(a["messages"]) == 50 and len(a["conversations"]) >= 1
        assert a == b
    finally:
        with admin.connect() as conn:
            for name in (source_db, target_db):
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
