"""Storage: migrations match the models, the event log is append-only, times come back in UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from caredesk.actions.base import Actor, record
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from caredesk.storage.db import Database


def test_migrations_match_the_models(rt: Runtime) -> None:
    with rt.db.write_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, m.Base.metadata)
    assert diff == []


def test_event_log_refuses_update_and_delete(rt: Runtime) -> None:
    with rt.db.write() as s:
        record(s, Actor.system(), "test.happened", workspace_id=None, at=datetime.now(UTC), detail="x")
    for statement in (sa.update(m.Event).values(kind="rewritten"), sa.delete(m.Event)):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), rt.db.write() as s:
            s.execute(statement)
    with rt.db.read() as s:
        assert list(s.scalars(sa.select(m.Event.kind))) == ["test.happened"]


def test_times_are_stored_and_returned_as_utc(rt: Runtime) -> None:
    from zoneinfo import ZoneInfo

    local = datetime(2026, 3, 29, 2, 30, tzinfo=ZoneInfo("America/New_York"))
    with rt.db.write() as s:
        ws = m.Workspace(slug="tz", name="tz", created_at=local)
        s.add(ws)
    with rt.db.read() as s:
        back = s.scalar(sa.select(m.Workspace.created_at))
    assert (
        back == local
        and back is not None
        and back.tzinfo is not None
        and back.utcoffset().total_seconds() == 0
    )
    with pytest.raises(sa.exc.StatementError, match="naive"), rt.db.write() as s:
        s.add(m.Workspace(slug="naive", name="n", created_at=datetime(2026, 1, 1)))  # noqa: DTZ001


def test_a_periodic_job_runs_in_one_process_at_a_time(rt: Runtime) -> None:
    """Database.singleton: on PostgreSQL an advisory lock, so of the processes sharing a database one runs
    a job while the others skip that round; SQLite has one writing process, which always runs it."""
    other = Database(rt.db.url.render_as_string(hide_password=False))  # another process's engine
    try:
        with rt.db.singleton("caredesk.timers") as first:
            assert first
            with other.singleton("caredesk.timers") as second, other.singleton("caredesk.adapt") as third:
                assert second is rt.db.is_sqlite and third  # another job is not held back
        with other.singleton("caredesk.timers") as after:
            assert after  # released at the end of the block
    finally:
        other.dispose()
