"""The audit trail, exported: who replied, changed settings, exported and logged in, in order, for the
workspace's admins only; spreadsheet-safe; the export itself is recorded; the log cannot be rewritten."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from caredesk.actions import conversations as conv_actions
from caredesk.actions import intake
from caredesk.cli.main import app
from caredesk.domain.types import Author, InboundEvent
from caredesk.pipeline.runner import Pipeline
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from tests.conftest import World
from tests.test_api import auth


@pytest.fixture
def conv_id(rt: Runtime, world: World) -> int:
    at = datetime(2026, 11, 20, 9, tzinfo=UTC)
    event = InboundEvent("c1", at, "where is my parcel?", Author(id="cust-1", handle="@cust", name="Cust"))
    intake.accept(rt, world.channel.id, [event])
    Pipeline(rt).drain()
    with rt.db.read() as s:
        return int(s.scalars(sa.select(m.Conversation.id)).one())


def test_actions_appear_in_the_admins_export(
    rt: Runtime, client: TestClient, world: World, conv_id: int
) -> None:
    wrong = {"email": "agent@example.com", "password": "x"}
    assert client.post("/api/v1/auth/login", json=wrong).status_code == 401
    right = {"email": "agent@example.com", "password": "correct horse"}
    assert client.post("/login", data=right, follow_redirects=False).status_code == 303
    conv_actions.reply(rt, world.actor("agent"), conv_id, '=HYPERLINK("http://evil") sorry about that')
    admin = auth(world.token("admin"))
    exported = client.get(f"/api/v1/workspaces/{world.ws.id}/reports/conversations.csv", headers=admin)
    assert exported.status_code == 200

    page = client.get(f"/api/v1/workspaces/{world.ws.id}/audit", headers=admin).json()
    kinds = [e["kind"] for e in page["events"]]
    assert "agent.login_failed" in kinds and "agent.login" in kinds  # its members' logins
    assert "report.exported" in kinds
    replied = next(e for e in page["events"] if e["kind"] == "reply.queued")
    assert replied["actor_email"] == "agent@example.com" and replied["conversation_id"] == conv_id
    assert [e["id"] for e in page["events"]] == sorted(e["id"] for e in page["events"])
    failed = next(e for e in page["events"] if e["kind"] == "agent.login_failed")
    assert failed["actor_email"] == "agent@example.com" and "password" not in json.dumps(failed["data"])
    exporter = next(e for e in page["events"] if e["kind"] == "report.exported")
    assert exporter["actor_email"] == "admin@example.com"

    # paging: one event at a time gives the same events, and ends although each page is recorded
    seen: list[int] = []
    query: dict[str, int] = {"limit": 1}
    while True:
        r = client.get(f"/api/v1/workspaces/{world.ws.id}/audit", params=query, headers=admin).json()
        seen += [e["id"] for e in r["events"]]
        if r["next"] is None:
            break
        query = {"limit": 1, **r["next"]}
        assert len(seen) < 1000
    assert seen == [e["id"] for e in page["events"]] + seen[len(page["events"]) :]
    assert seen[len(page["events"])] > page["events"][-1]["id"]  # the first export's own record

    # the CSV: the same events (and the JSON export just made), no cell a spreadsheet would run
    text = client.get(f"/api/v1/workspaces/{world.ws.id}/audit.csv", headers=admin).text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert "audit.exported" in [r["kind"] for r in rows]
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@")), value

    # agents and analysts do not see it; another workspace's admin does not learn it exists
    for role in ("agent", "supervisor", "analyst"):
        r = client.get(f"/api/v1/workspaces/{world.ws.id}/audit", headers=auth(world.token(role)))
        assert r.status_code == 403, role
    outsider = auth(world.token("outsider"))
    assert client.get(f"/api/v1/workspaces/{world.ws.id}/audit", headers=outsider).status_code == 404


def test_cli_export_and_the_log_cannot_be_rewritten(rt: Runtime, world: World, conv_id: int) -> None:
    conv_actions.reply(rt, world.actor("agent"), conv_id, "On its way")
    url = rt.db.url.render_as_string(hide_password=False)
    args = ["admin", "audit", "--workspace", "acme", "--format", "json", "--db", url]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert any(e["kind"] == "reply.queued" and e["actor_type"] == "agent" for e in lines)
    assert all(e["id"] > 0 and e["at"] for e in lines)
    with pytest.raises(sa.exc.DBAPIError), rt.db.write() as s:  # append-only: triggers refuse it
        s.execute(sa.update(m.Event).values(kind="rewritten"))
    with pytest.raises(sa.exc.DBAPIError), rt.db.write() as s:
        s.execute(sa.delete(m.Event))
