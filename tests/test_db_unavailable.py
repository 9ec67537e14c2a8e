"""The database unavailable: a webhook answers 503 with Retry-After (so the network delivers it again),
the API says so too, nothing is written, and the same delivery is accepted once the database is back."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from caredesk.api.app import DATABASE_RETRY_AFTER, create_app
from caredesk.connectors.webhook import signing
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from caredesk.storage.db import Database
from tests.conftest import World
from tests.test_api import auth


@pytest.fixture
def unreachable(rt: Runtime, tmp_path: Path) -> Iterator[Database]:
    """A database nobody can reach: PostgreSQL on a port nothing listens on, or an SQLite "file" that is
    a directory."""
    if rt.db.is_sqlite:
        url = f"sqlite:///{tmp_path}"
    else:
        url = rt.db.url.set(port=1).render_as_string(hide_password=False)
    down = Database(url)
    yield down
    down.dispose()


def _spooled(rt: Runtime) -> int:
    with rt.db.read() as s:
        return int(s.scalar(sa.select(sa.func.count()).select_from(m.SpoolEvent)) or 0)


def test_a_webhook_gets_503_while_the_database_is_down_and_is_taken_once_it_is_back(
    rt: Runtime, world: World, unreachable: Database
) -> None:
    body = json.dumps({"id": "w1", "created_at": "2026-12-01T10:00:00Z", "text": "are you there?",
                       "author": {"id": "c1", "name": "Cleo"}}).encode()  # fmt: skip
    headers = {signing.HEADER: signing.sign(world.secret, body, int(time.time()))}
    token = world.token("agent")
    client = TestClient(create_app(rt), raise_server_exceptions=False)
    up = rt.db
    rt.db = unreachable
    try:
        r = client.post(f"/hooks/{world.channel.id}", content=body, headers=headers)
        assert r.status_code == 503 and r.headers["Retry-After"] == str(DATABASE_RETRY_AFTER)
        assert "database is unavailable" in r.json()["detail"]
        listed = client.get(f"/api/v1/workspaces/{world.ws.id}/conversations", headers=auth(token))
        assert listed.status_code == 503
    finally:
        rt.db = up
    assert _spooled(rt) == 0  # nothing half-written

    again = client.post(f"/hooks/{world.channel.id}", content=body, headers=headers)  # the redelivery
    assert again.status_code == 202 and again.json()["accepted"] == 1
    assert _spooled(rt) == 1
    replay = client.post(f"/hooks/{world.channel.id}", content=body, headers=headers)
    assert replay.status_code == 409  # and once only
