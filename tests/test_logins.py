"""Failed logins are throttled per account and per client address, in the database (so every API process
sees the same counts): a locked account is refused without checking the password, with 429 and
Retry-After, and unlocks by itself."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from fastapi.testclient import TestClient

from caredesk.actions import logins
from caredesk.domain.clock import FrozenClock
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from tests.conftest import World

GOOD = {"email": "agent@example.com", "password": "correct horse"}
BAD = {"email": "agent@example.com", "password": "wrong guess"}


def _events(rt: Runtime, kind: str) -> list[m.Event]:
    with rt.db.read() as s:
        return list(s.scalars(sa.select(m.Event).where(m.Event.kind == kind)))


def test_account_locks_after_repeated_failures_then_unlocks(
    rt: Runtime, client: TestClient, world: World
) -> None:
    clock = FrozenClock(datetime(2026, 12, 3, 9, tzinfo=UTC))
    rt.clock = clock
    for _ in range(logins.ACCOUNT_LIMIT - 1):
        assert client.post("/api/v1/auth/login", json=BAD).status_code == 401
    locked = client.post("/api/v1/auth/login", json=BAD)
    assert locked.status_code == 429
    assert locked.headers["retry-after"] == str(logins.LOCK_MINUTES * 60)
    assert locked.json()["retry_after"] == logins.LOCK_MINUTES * 60
    # the right password does not help while locked: it is not even checked
    still = client.post("/api/v1/auth/login", json=GOOD)
    assert still.status_code == 429 and "try again in 15 minutes" in still.json()["detail"]
    # the web login page says the same
    page = client.post("/login", data=GOOD, follow_redirects=False)
    assert page.status_code == 429 and "too many failed logins" in page.text
    assert len(_events(rt, "agent.login_failed")) == logins.ACCOUNT_LIMIT - 1
    assert [e.data["agent_id"] for e in _events(rt, "agent.locked_out")] == [world.agents["agent"]]
    assert all("password" not in str(e.data) for e in _events(rt, "agent.login_failed"))

    clock.advance(minutes=logins.LOCK_MINUTES - 1)
    assert client.post("/api/v1/auth/login", json=GOOD).json()["retry_after"] == 60
    clock.advance(minutes=1, seconds=1)
    assert client.post("/api/v1/auth/login", json=GOOD).status_code == 200
    # success cleared the account's count: it takes the full number of failures to lock again
    for _ in range(logins.ACCOUNT_LIMIT - 1):
        assert client.post("/api/v1/auth/login", json=BAD).status_code == 401
    assert client.post("/api/v1/auth/login", json=GOOD).status_code == 200


def test_failures_spread_over_time_do_not_lock(rt: Runtime, client: TestClient, world: World) -> None:
    clock = FrozenClock(datetime(2026, 12, 3, 9, tzinfo=UTC))
    rt.clock = clock
    for _ in range(3 * logins.ACCOUNT_LIMIT):
        assert client.post("/api/v1/auth/login", json=BAD).status_code == 401
        clock.advance(minutes=logins.WINDOW_MINUTES / (logins.ACCOUNT_LIMIT - 1) + 0.1)
    assert client.post("/api/v1/auth/login", json=GOOD).status_code == 200


def test_an_unknown_email_is_answered_like_a_known_one(rt: Runtime, client: TestClient, world: World) -> None:
    rt.clock = FrozenClock(datetime(2026, 12, 3, 9, tzinfo=UTC))
    answers = []
    for email in ("agent@example.com", "nobody@example.com"):
        answers.append(
            [
                client.post("/api/v1/auth/login", json={"email": email, "password": "x" * 12}).status_code
                for _ in range(logins.ACCOUNT_LIMIT + 1)
            ]
        )
    assert answers[0] == answers[1] == [401] * (logins.ACCOUNT_LIMIT - 1) + [429, 429]
    with rt.db.read() as s:
        stored = list(s.scalars(sa.select(m.LoginThrottle.key)))
    assert stored and not any("nobody" in k or "@" in k for k in stored)  # digests, not what was typed


def test_one_client_spraying_many_accounts_is_locked(rt: Runtime, client: TestClient, world: World) -> None:
    rt.clock = FrozenClock(datetime(2026, 12, 3, 9, tzinfo=UTC))
    codes = [
        client.post(
            "/api/v1/auth/login", json={"email": f"user{i}@example.com", "password": "Summer2026!"}
        ).status_code
        for i in range(logins.CLIENT_LIMIT)
    ]
    assert codes == [401] * (logins.CLIENT_LIMIT - 1) + [429]
    # every account is refused from that address now, the right password included
    assert client.post("/api/v1/auth/login", json=GOOD).status_code == 429
    # another address is not (the test client always comes from the same one: ask the action directly)
    agent = logins.login(rt, GOOD["email"], GOOD["password"], client="192.0.2.7")
    assert agent.id == world.agents["agent"]
