"""Backup and restore of the embedded SQLite database (`caredesk backup`, `caredesk restore`).

A backup is SQLite's online backup: a consistent copy of the database as of one moment, taken while the
product keeps running and writing (WAL readers are never blocked). It is checked (`PRAGMA integrity_check`)
before it is reported done. PostgreSQL is backed up with pg_dump (README, "Backup and restore").

The secret key (`secret.key` in the data folder, or CAREDESK_SECRET_KEYS) is not in the backup, on
purpose: keep it apart. Without it a restored database still holds every conversation and report, but
the channels' credentials cannot be decrypted and must be entered again.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from caredesk.domain.errors import CaredeskError, InvalidInput

COUNTED = ("workspaces", "conversations", "messages", "events")


@dataclass(frozen=True, slots=True)
class Copied:
    path: Path
    bytes: int
    rows: dict[str, int]  # rows of the main tables in the copy


def sqlite_path(url: str) -> Path:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        raise InvalidInput(
            "caredesk backup and restore handle the embedded SQLite database; back PostgreSQL up with"
            " pg_dump and restore it with pg_restore (README, 'Backup and restore')"
        )
    if not parsed.database or parsed.database == ":memory:":
        raise InvalidInput("an in-memory database cannot be backed up")
    return Path(parsed.database)


@contextlib.contextmanager
def _connect(path: Path, *, read_only: bool) -> Iterator[sqlite3.Connection]:
    # not SQLite's mode=ro: a WAL database opened that way fails when its -shm file is missing
    conn = sqlite3.connect(path, timeout=30)
    if read_only:
        conn.execute("PRAGMA query_only=1")
    try:
        yield conn
    finally:
        conn.close()


def _check(path: Path) -> dict[str, int]:
    """The copy's integrity, and its row counts; CaredeskError when it is not a sound caredesk database."""
    try:
        with _connect(path, read_only=True) as conn:
            verdict = conn.execute("PRAGMA integrity_check").fetchone()
            if not verdict or verdict[0] != "ok":
                raise CaredeskError(f"{path}: the database is damaged ({verdict[0] if verdict else '?'})")
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not set(COUNTED) <= tables or "alembic_version" not in tables:
                raise CaredeskError(f"{path}: not a caredesk database")
            # table names from COUNTED above, never from input
            return {t: int(conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]) for t in COUNTED}  # noqa: S608
    except sqlite3.DatabaseError as exc:
        raise CaredeskError(f"{path}: not a readable SQLite database ({exc})") from None


def _copy(source: Path, target: Path, *, replacing_database: bool = False) -> dict[str, int]:
    """SQLite's online backup of `source` into a new file beside `target`, checked, then renamed over it:
    a reader of `target` sees the old file or the whole copy, never half of one. Returns its counts."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        with _connect(source, read_only=True) as src, _connect(partial, read_only=False) as dst:
            src.backup(dst)  # in one step: a snapshot as of one moment, even while others write
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        counts = _check(partial)
        with open(partial, "rb") as fh:
            os.fsync(fh.fileno())
        if replacing_database:
            # the replaced database's write-ahead log must not be replayed over the restored file
            for stale in (target.with_name(target.name + "-wal"), target.with_name(target.name + "-shm")):
                stale.unlink(missing_ok=True)
        os.replace(partial, target)
        return counts
    finally:
        partial.unlink(missing_ok=True)


def backup(url: str, target: Path, *, overwrite: bool = False) -> Copied:
    """Copy the running database at `url` to the file `target`."""
    source = sqlite_path(url)
    if not source.exists():
        raise InvalidInput(f"{source}: no such database")
    if target.exists() and not overwrite:
        raise InvalidInput(f"{target} exists: choose a new file name, or pass --overwrite")
    if target.resolve() == source.resolve():
        raise InvalidInput("the backup cannot be the database itself")
    counts = _copy(source, target)
    return Copied(target, target.stat().st_size, counts)


def restore(source: Path, url: str, *, overwrite: bool = False) -> Copied:
    """Replace the database at `url` with the backup `source` (checked first). Stop the product first:
    a running process keeps the old file open. Returns the restored database's counts."""
    target = sqlite_path(url)
    if not source.exists():
        raise InvalidInput(f"{source}: no such backup")
    _check(source)
    if target.exists() and not overwrite:
        raise InvalidInput(f"{target} exists: pass --overwrite to replace it with the backup")
    if target.exists() and target.resolve() == source.resolve():
        raise InvalidInput("the backup is the database itself")
    counts = _copy(source, target, replacing_database=True)
    return Copied(target, target.stat().st_size, counts)
