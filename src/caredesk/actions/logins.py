"""Logging in with a password, throttled: failed attempts are counted per account and per client address,
in the database, so every API process on every machine sees the same counts.

- An account is locked for `LOCK_MINUTES` after `ACCOUNT_LIMIT` failures within `WINDOW_MINUTES`;
  a client address after `CLIENT_LIMIT` (password spraying: one address, many accounts).
- While locked, the password is not even checked, so guessing gains nothing; the answer is 429 with the
  seconds to wait, the same for an email that exists and one that does not.
- A successful login clears the account's count. Lockouts and failed logins of real accounts go to the
  event log (`agent.login_failed`, `agent.locked_out`) without what was typed.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from caredesk.actions.admin import check_password
from caredesk.actions.base import Actor, record
from caredesk.domain.clock import as_utc
from caredesk.domain.errors import TooManyAttempts, Unauthorized
from caredesk.runtime import Runtime
from caredesk.security.passwords import token_digest
from caredesk.storage import models as m
from caredesk.storage.db import insert_for

WINDOW_MINUTES = 15
LOCK_MINUTES = 15
ACCOUNT_LIMIT = 5
CLIENT_LIMIT = 30


def _keys(email: str, client: str | None) -> dict[str, int]:
    """Digest of each throttle key -> its limit."""
    keys = {token_digest("account:" + email.strip().lower()): ACCOUNT_LIMIT}
    if client:
        keys[token_digest("client:" + client)] = CLIENT_LIMIT
    return keys


def _throttles(session: Session, keys: dict[str, int]) -> dict[str, datetime | None]:
    """Each counted key -> when its lock ends (None: failures counted, not locked)."""
    rows = session.execute(
        sa.select(m.LoginThrottle.key, m.LoginThrottle.locked_until).where(m.LoginThrottle.key.in_(keys))
    )
    return {key: as_utc(until) if until is not None else None for key, until in rows}


def login(rt: Runtime, email: str, password: str, client: str | None = None) -> m.Agent:
    """The agent whose email and password these are; Unauthorized when wrong, TooManyAttempts when the
    account or the client address is locked."""
    now = rt.clock.now()
    keys = _keys(email, client)
    with rt.db.read() as session:
        counted = _throttles(session, keys)
    wait = max([(u - now).total_seconds() for u in counted.values() if u is not None] + [0.0])
    if wait > 0:
        raise TooManyAttempts(_wait_message(wait), retry_after=math.ceil(wait))
    try:
        agent = check_password(rt, email, password)
    except Unauthorized:
        _failed(rt, email, keys, now)
        raise
    account = next(iter(keys))
    if account in counted:  # a success clears the account's count (no write when there is none)
        with rt.db.write() as session:
            session.execute(sa.delete(m.LoginThrottle).where(m.LoginThrottle.key == account))
    return agent


def _failed(rt: Runtime, email: str, keys: dict[str, int], now: datetime) -> None:
    window = timedelta(minutes=WINDOW_MINUTES)
    locked = False
    with rt.db.write() as session:
        T = m.LoginThrottle
        for key, limit in keys.items():
            session.execute(
                insert_for(session, T)
                .values(key=key, failures=0, window_start=now, locked_until=None)
                .on_conflict_do_nothing(index_elements=["key"])
            )
            row = session.scalars(sa.select(T).where(T.key == key).with_for_update()).one()
            if now - as_utc(row.window_start) >= window:
                row.failures, row.window_start, row.locked_until = 0, now, None
            row.failures += 1
            if row.failures >= limit:
                row.locked_until = now + timedelta(minutes=LOCK_MINUTES)
                row.failures, row.window_start = 0, now
                locked = True
        agent_id = session.scalar(sa.select(m.Agent.id).where(m.Agent.email == email.strip().lower()))
        if agent_id is not None:
            # logged under the account tried (its workspaces' audit exports list it), not a person proven
            kind = "agent.locked_out" if locked else "agent.login_failed"
            record(session, Actor.agent(agent_id), kind, workspace_id=None, at=now, agent_id=agent_id)
    if locked:
        raise TooManyAttempts(_wait_message(LOCK_MINUTES * 60.0), retry_after=LOCK_MINUTES * 60)


def _wait_message(seconds: float) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return f"too many failed logins: try again in {minutes} minute{'s' if minutes != 1 else ''}"
