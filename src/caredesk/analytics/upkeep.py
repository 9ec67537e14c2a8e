"""Keeps the stored report facts and roll-ups computed by today's definitions. `Database.migrate` calls
`bring_up_to_date` after the schema migrations: when a release changes what a fact or a roll-up holds it
raises `FACTS_VERSION` or `ROLLUP_VERSION`, and the rows of an older release are recomputed once (the
facts in chunks of 2,000 conversations, one transaction each, then the roll-ups from them). Migrations
themselves never run this code: it is written for the newest schema, not for the one a migration
leaves behind."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.orm import Session

from caredesk.storage import models as m

FACTS_VERSION = 2  # 2: moved to private, approval times
ROLLUP_VERSION = 2
CHUNK = 2_000
log = logging.getLogger(__name__)


def _versions(session: Session) -> dict[str, int]:
    return dict(list(session.execute(sa.select(m.ReportState.name, m.ReportState.version))))


def _store(session: Session, name: str, version: int) -> None:
    row = session.get(m.ReportState, name)
    if row is None:
        session.add(m.ReportState(name=name, version=version))
    else:
        row.version = version


def recompute(db: object, *, facts_too: bool = True) -> dict[str, int]:
    """Recompute every conversation's facts (unless `facts_too` is off), then every roll-up from the
    facts, and note today's versions; returns how many conversations and roll-up rows."""
    from caredesk.analytics import facts, rollups  # noqa: PLC0415 (storage.db loads us lazily)
    from caredesk.storage.db import Database  # noqa: PLC0415

    assert isinstance(db, Database)
    done = {"conversations": 0, "rollup_rows": 0}
    if facts_too:
        with db.read() as session:
            ids = list(session.scalars(sa.select(m.Conversation.id).order_by(m.Conversation.id)))
        if ids:
            log.info("recomputing the report facts of %d conversations", len(ids))
        for start in range(0, len(ids), CHUNK):
            with db.write() as session:
                facts.rebuild(session, ids[start : start + CHUNK], roll_up=False)
        done["conversations"] = len(ids)
    with db.write() as session:
        done["rollup_rows"] = rollups.rebuild(session)
        _store(session, "facts", FACTS_VERSION)
        _store(session, "rollups", ROLLUP_VERSION)
    return done


def bring_up_to_date(db: object) -> dict[str, int]:
    """Recompute what an older release stored; returns how many conversations and roll-up rows were
    recomputed (both 0 when everything was current)."""
    from caredesk.storage.db import Database  # noqa: PLC0415

    assert isinstance(db, Database)
    with db.read() as session:
        stored = _versions(session)
    stale_facts = stored.get("facts") != FACTS_VERSION
    if stale_facts or stored.get("rollups") != ROLLUP_VERSION:
        return recompute(db, facts_too=stale_facts)
    return {"conversations": 0, "rollup_rows": 0}
