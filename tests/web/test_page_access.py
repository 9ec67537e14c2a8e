"""Who may open which page, and what the live stream tells whom: every page of the inbox against every
role, a member of another workspace and nobody logged in. A page asked for a workspace its viewer is not
allowed in never shows that workspace; the live stream carries only the viewer's workspaces' changes.
(tests/test_api.py holds the same matrix for the API.)"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from caredesk.api.app import create_app
from caredesk.runtime import Runtime
from caredesk.web.live import _workspaces_of, visible
from tests.conftest import World

WHO = ["analyst", "agent", "supervisor", "admin", "outsider"]
SUPERVISING = {"supervisor", "admin"}
REPORTING = {"analyst", "supervisor", "admin"}
MEMBERS = {"analyst", "agent", "supervisor", "admin"}
SECRET_WORDS = "Frobnicated toaster ZX-81"  # only in the acme customer's message


def pages(ws: int, conv: int) -> list[tuple[str, set[str], bool]]:
    """(path, who may see it, whether it is the acme workspace's own data). A page of a workspace its
    viewer may not open answers 403 (a member with too small a role) or 404 (a conversation elsewhere);
    a page that picks a workspace shows the viewer's own instead."""
    return [
        (f"/?ws={ws}", MEMBERS, True),
        (f"/partials/queue?ws={ws}", MEMBERS, True),
        (f"/c/{conv}", MEMBERS, True),
        (f"/partials/conversation/{conv}", MEMBERS, True),
        (f"/supervise?ws={ws}", SUPERVISING, True),
        (f"/partials/supervise?ws={ws}", SUPERVISING, True),
        (f"/approvals?ws={ws}", SUPERVISING, True),
        (f"/reports?ws={ws}", REPORTING, True),
        (f"/reports/chart/volume.svg?ws={ws}", REPORTING, True),
        (f"/settings/channels?ws={ws}", {"admin"}, True),
        (f"/team?ws={ws}", MEMBERS, True),
        (f"/partials/team?ws={ws}", MEMBERS, True),
    ]


def _logged_in(app: Any, who: str) -> TestClient:
    client = TestClient(app, raise_server_exceptions=False)
    r = client.post("/login", data={"email": f"{who}@example.com", "password": "correct horse"},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 303, r.text
    return client


@pytest.fixture
def desk(rt: Runtime, world: World) -> tuple[Any, World, int]:
    conv = world.customer_writes("p1", f"My {SECRET_WORDS} exploded", name="Pat Acme")
    return create_app(rt), world, conv


def test_every_page_against_every_role_and_a_stranger(desk: tuple[Any, World, int]) -> None:
    app, world, conv = desk
    anonymous = TestClient(app, raise_server_exceptions=False)
    for path, _, _ in pages(world.ws.id, conv):
        r = anonymous.get(path, follow_redirects=False)
        # the login page, sent to it, or refused
        assert r.status_code in (303, 401) or 'name="password"' in r.text, (path, r.status_code)
        assert SECRET_WORDS not in r.text
    for who in WHO:
        client = _logged_in(app, who)
        for path, allowed, _ in pages(world.ws.id, conv):
            r = client.get(path, follow_redirects=False)
            if who in allowed:
                assert r.status_code == 200, (who, path, r.status_code)
            elif who == "outsider":
                # another workspace's page: not found, or the viewer's own workspace instead
                assert r.status_code in (200, 403, 404), (who, path, r.status_code)
                assert SECRET_WORDS not in r.text and "Pat Acme" not in r.text, (who, path)
                assert ">Acme<" not in r.text, (who, path)
            else:
                assert r.status_code in (403, 404), (who, path, r.status_code)
                assert SECRET_WORDS not in r.text, (who, path)
    # and the conversation itself is there for its members
    assert SECRET_WORDS in _logged_in(app, "agent").get(f"/c/{conv}").text


def test_the_live_stream_carries_only_the_viewers_workspaces(
    rt: Runtime, desk: tuple[Any, World, int]
) -> None:
    _, world, conv = desk
    batch = [
        ("conversations.changed", {"ids": [conv], "kind": "message"}),
        ("conversations.presence", {"conversation_id": conv, "present": [world.agents["agent"]]}),
        ("agent.notice", {"agent_id": world.agents["agent"], "text": "assigned to you"}),
        ("spike", {"workspace_id": world.ws.id, "id": 1, "open": True}),
        ("sla.breached", {"conversation_id": conv, "clock": "first_reply"}),
    ]
    member = world.agents["agent"]
    seen = visible(rt, member, _workspaces_of(rt, member), batch)
    assert {name for name, _ in seen} == {"changed", "presence", "spike", "sla", "notice"}
    stranger = world.agents["outsider"]
    assert visible(rt, stranger, _workspaces_of(rt, stranger), batch) == []
    client = TestClient(create_app(rt), raise_server_exceptions=False)
    assert client.get("/live").status_code == 401  # nobody logged in: no stream at all
