"""Engines and sessions for SQLite (embedded default) and PostgreSQL (scale), one code path.

SQLite has one writer at a time: every write transaction starts with BEGIN IMMEDIATE, so a writer waits
for the lock up front instead of failing half-way; reads use a second engine with deferred transactions
and never block on writers (WAL).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from caredesk import hooks
from caredesk.analytics import facts
from caredesk.storage.models import Base

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class Database:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = sa.make_url(url)
        self.dialect = self.url.get_backend_name()
        if self.dialect == "sqlite":
            self._prepare_sqlite_path()
            self.write_engine = self._sqlite_engine(immediate=True, echo=echo)
            self.read_engine = self._sqlite_engine(immediate=False, echo=echo)
        else:
            self.write_engine = sa.create_engine(self.url, echo=echo, pool_pre_ping=True, pool_size=10)
            self.read_engine = self.write_engine
        self._write = sessionmaker(self.write_engine, expire_on_commit=False, autoflush=True)
        # Outgoing webhooks: each recorded event's deliveries join the event's own transaction.
        event.listen(self._write, "before_flush", hooks.before_flush)
        event.listen(self._write, "do_orm_execute", hooks.on_execute)
        # Report facts: rebuilt for every conversation the transaction touched, before it commits.
        if self.is_sqlite:  # after the hooks' listener, which adds deliveries
            event.listen(self._write, "before_flush", _number_new_rows)
        event.listen(self._write, "after_flush", facts.after_flush)
        event.listen(self._write, "before_commit", facts.before_commit)
        self._read = sessionmaker(self.read_engine, expire_on_commit=False, autoflush=False)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def _prepare_sqlite_path(self) -> None:
        database = self.url.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)

    def _sqlite_engine(self, *, immediate: bool, echo: bool) -> Engine:
        engine = sa.create_engine(
            self.url, echo=echo, connect_args={"timeout": 30, "check_same_thread": False}
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # FULL: a committed (acknowledged) event survives power loss, not only a process crash.
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            # Freed space is overwritten with zeros: erased personal data does not linger in the file.
            cur.execute("PRAGMA secure_delete=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: sa.Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction: committed on success, rolled back on any error."""
        with self._write() as session, session.begin():
            yield session

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session, session.begin():
            yield session

    def migrate(self) -> None:
        """Bring the schema to the newest migration, and the stored report figures to today's definitions
        (idempotent)."""
        from alembic import command  # noqa: PLC0415  (only needed at start-up)

        command.upgrade(alembic_config(self), "head")
        from caredesk.analytics import upkeep  # noqa: PLC0415 (analytics imports storage)

        upkeep.bring_up_to_date(self)

    @contextlib.contextmanager
    def singleton(self, name: str) -> Iterator[bool]:
        """Whether this process is the one to run a periodic job now: on PostgreSQL a session advisory
        lock named after the job, held for the block, so of all the processes sharing the database one
        runs it and the others skip that round; SQLite has one writing process, which always runs it."""
        if self.is_sqlite:
            yield True
            return
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        with self.write_engine.connect() as conn:
            got = bool(conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()

    def reclaim(self) -> None:
        """After an erasure: on SQLite, copy the write-ahead log into the database and truncate it, so the
        page images it held from before the erasure are gone (best effort: a long reader may hold some back
        until the next checkpoint). PostgreSQL needs nothing: autovacuum reclaims the old row versions."""
        if self.is_sqlite:
            raw = self.write_engine.raw_connection()  # outside any transaction (no BEGIN is issued)
            try:
                raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            finally:
                raw.close()

    def dispose(self) -> None:
        self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            self.read_engine.dispose()


_ROWID_KEYS: dict[Any, str | None] = {}  # mapper -> attribute of its SQLite rowid primary key, or None


def _rowid_key(mapper: Any) -> str | None:
    """The attribute of the integer primary key SQLite fills in itself (its rowid), if the class has one."""
    if mapper not in _ROWID_KEYS:
        table, key = mapper.local_table, None
        columns = list(table.primary_key.columns) if isinstance(table, sa.Table) else []
        if len(columns) == 1:
            column = columns[0]
            if (
                column.autoincrement in (True, "auto")
                and not column.foreign_keys
                and isinstance(column.type, sa.Integer)
            ):
                key = mapper.get_property_by_column(column).key
        _ROWID_KEYS[mapper] = key
    return _ROWID_KEYS[mapper]


def _number_new_rows(session: Session, _context: Any, _instances: Any) -> None:
    """SQLite: give the new rows of a flush their ids (max + 1, in the order they were added), as SQLite
    would, so the ORM inserts them in multi-row batches. Left to SQLite, the ids come back only one
    INSERT at a time: SQLite cannot return generated ids in the order of the rows given. Safe because a
    write transaction holds SQLite's one write lock (BEGIN IMMEDIATE): nobody else inserts meanwhile."""
    pending: dict[Any, list[tuple[int, Any]]] = {}
    for obj in session.new:
        state = sa.inspect(obj)
        key = _rowid_key(state.mapper)
        if key is not None and getattr(obj, key) is None:
            pending.setdefault(state.mapper, []).append((state.insert_order or 0, obj))
    if not pending:
        return
    connection = session.connection()
    for mapper, rows in pending.items():
        key = _rowid_key(mapper)
        assert key is not None
        column = mapper.get_property(key).columns[0]
        top = int(connection.execute(sa.select(sa.func.max(column))).scalar() or 0)
        for n, (_, obj) in enumerate(sorted(rows, key=lambda r: r[0]), start=1):
            setattr(obj, key, top + n)


def insert_for(session: Session, model: type[Any]) -> Any:
    """An INSERT for `model` in the session's dialect, so ON CONFLICT clauses can be added."""
    dialect = session.get_bind().dialect.name
    return (sqlite.insert if dialect == "sqlite" else postgresql.insert)(model)


def alembic_config(db: Database) -> Any:
    from alembic.config import Config  # noqa: PLC0415

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = db.write_engine
    return cfg


def metadata() -> sa.MetaData:
    return Base.metadata
