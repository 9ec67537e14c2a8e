"""The REST API: every endpoint against every role and a non-member; bad input gets a clear 4xx."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from caredesk.actions import approvals, intake
from caredesk.actions import conversations as conv_actions
from caredesk.actions.base import Actor
from caredesk.api.app import create_app
from caredesk.domain.types import Author, InboundEvent
from caredesk.pipeline.runner import Pipeline
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from tests.conftest import World

ROLES = ["analyst", "agent", "supervisor", "admin"]


@pytest.fixture
def conv_id(rt: Runtime, world: World) -> int:
    intake.accept(
        rt,
        world.channel.id,
        [
            InboundEvent(
                external_id="c1",
                created_at=datetime(2026, 11, 20, 9, tzinfo=UTC),
                text="where is my parcel?",
                author=Author(id="cust-1", handle="@cust", name="Cust"),
            )
        ],
    )
    Pipeline(rt).drain()
    return 1


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def endpoints(world: World, conv: int) -> list[tuple[str, str, dict[str, Any] | None, str]]:
    """(method, path, body, who may) for every API endpoint. `who`: any, analyst, agent, supervisor, admin,
    reports (analyst/supervisor/admin), superadmin."""
    ws, ch = world.ws.id, world.channel.id
    office = {"name": "Office", "week": {"mon": [["09:00", "17:00"]]}}
    hook = {"name": "CRM", "url": "http://127.0.0.1:9/events", "events": ["conversation.created"]}
    canned = {"name": "Refund", "texts": {"en": "Hi {customer.first_name}, your refund is on its way."}}
    return [
        ("GET", "/api/v1/me", None, "any"),
        ("PUT", "/api/v1/me/presence", {"presence": "online"}, "any"),
        ("GET", "/api/v1/workspaces", None, "any"),
        ("POST", "/api/v1/workspaces", {"slug": "new-ws", "name": "New"}, "superadmin"),
        ("GET", f"/api/v1/workspaces/{ws}/agents", None, "analyst"),
        ("POST", f"/api/v1/workspaces/{ws}/agents", {"email": "n@example.com", "name": "N"}, "admin"),
        ("GET", f"/api/v1/workspaces/{ws}/teams", None, "analyst"),
        ("POST", f"/api/v1/workspaces/{ws}/teams", {"name": "Night shift"}, "admin"),
        (
            "PUT",
            f"/api/v1/workspaces/{ws}/teams/1",
            {"name": "Night shift", "agent_ids": [world.agents["agent2"]]},
            "admin",
        ),
        (
            "PUT",
            f"/api/v1/workspaces/{ws}/agents/{world.agents['agent2']}",
            {"name": "Agent Two", "role": "agent", "skills": ["billing"]},
            "admin",
        ),
        ("GET", f"/api/v1/workspaces/{ws}/watch-rules", None, "analyst"),
        ("POST", f"/api/v1/workspaces/{ws}/watch-rules", {"name": "Brand", "keywords": ["acme"]}, "admin"),
        (
            "PUT",
            f"/api/v1/workspaces/{ws}/watch-rules/1",
            {"name": "Brand", "phrases": ["acme down"]},
            "admin",
        ),
        ("DELETE", f"/api/v1/workspaces/{ws}/watch-rules/1", None, "admin"),
        ("GET", f"/api/v1/workspaces/{ws}/channels", None, "analyst"),
        (
            "POST",
            f"/api/v1/workspaces/{ws}/channels",
            {"connector": "webhook", "name": "Widget", "credentials": {"secret": "x"}},
            "admin",
        ),
        ("POST", f"/api/v1/channels/{ch}/test", None, "admin"),
        ("POST", f"/api/v1/channels/{ch}/measure", {"text": "hello"}, "agent"),
        ("GET", f"/api/v1/workspaces/{ws}/conversations", None, "analyst"),
        ("GET", f"/api/v1/conversations/{conv}", None, "analyst"),
        ("POST", f"/api/v1/conversations/{conv}/replies", {"text": "On its way ^AG"}, "agent"),
        ("POST", f"/api/v1/conversations/{conv}/notes", {"text": "checked the carrier"}, "agent"),
        ("POST", f"/api/v1/conversations/{conv}/assign", {"agent_id": world.agents["agent2"]}, "supervisor"),
        ("POST", f"/api/v1/conversations/{conv}/status", {"status": "pending"}, "agent"),
        ("POST", f"/api/v1/conversations/{conv}/tags", {"name": "delivery"}, "agent"),
        ("DELETE", f"/api/v1/conversations/{conv}/tags/delivery", None, "agent"),
        ("POST", "/api/v1/contacts/1/merge", {"into_contact_id": 1}, "agent"),
        ("POST", "/api/v1/contacts/1/erase", None, "admin"),
        ("POST", "/api/v1/outbox/1/retry", None, "agent"),
        ("GET", f"/api/v1/workspaces/{ws}/reports/kpis", None, "reports"),
        ("GET", f"/api/v1/workspaces/{ws}/reports/reply-times", None, "reports"),
        ("GET", f"/api/v1/workspaces/{ws}/spike-alerts", None, "reports"),
        ("GET", f"/api/v1/workspaces/{ws}/reports/conversations.csv", None, "reports"),
        ("GET", f"/api/v1/workspaces/{ws}/audit", None, "admin"),
        ("GET", f"/api/v1/workspaces/{ws}/audit.csv", None, "admin"),
        ("GET", f"/api/v1/workspaces/{ws}/reports/summary", None, "reports"),
        ("GET", f"/api/v1/workspaces/{ws}/reports/heatmap", None, "reports"),
        ("GET", f"/api/v1/workspaces/{ws}/reports/staffing", None, "reports"),
        ("GET", f"/api/v1/workspaces/{ws}/triage-settings", None, "analyst"),
        (
            "PUT",
            f"/api/v1/workspaces/{ws}/triage-settings",
            {"priority_weights": {"churn": 20}},
            "supervisor",
        ),
        ("GET", f"/api/v1/workspaces/{ws}/calendars", None, "analyst"),
        ("POST", f"/api/v1/workspaces/{ws}/calendars", office, "admin"),
        ("PUT", f"/api/v1/workspaces/{ws}/calendars/1", {**office, "time_zone": "Europe/Oslo"}, "admin"),
        ("GET", f"/api/v1/workspaces/{ws}/sla-policies", None, "analyst"),
        ("POST", f"/api/v1/workspaces/{ws}/sla-policies", {"name": "VIP", "position": 5}, "admin"),
        ("PUT", f"/api/v1/workspaces/{ws}/sla-policies/1", {"name": "Default", "position": 9}, "admin"),
        ("POST", f"/api/v1/conversations/{conv}/checks", {"text": "On its way"}, "agent"),
        ("GET", f"/api/v1/workspaces/{ws}/policy", None, "analyst"),
        ("PUT", f"/api/v1/workspaces/{ws}/policy", {"words": ["guaranteed"]}, "admin"),
        ("GET", f"/api/v1/workspaces/{ws}/retention", None, "analyst"),
        ("PUT", f"/api/v1/workspaces/{ws}/retention", {"days": 400}, "admin"),
        ("POST", f"/api/v1/workspaces/{ws}/take-next", None, "agent"),
        (
            "PUT",
            f"/api/v1/workspaces/{ws}/agents/{world.agents['agent2']}/capacity",
            {"max_concurrent": 8},
            "supervisor",
        ),
        ("GET", f"/api/v1/workspaces/{ws}/auto-ack", None, "analyst"),
        ("PUT", f"/api/v1/workspaces/{ws}/auto-ack", {"enabled": False}, "admin"),
        ("GET", f"/api/v1/workspaces/{ws}/webhooks", None, "supervisor"),
        ("POST", f"/api/v1/workspaces/{ws}/webhooks", hook, "admin"),
        ("PUT", f"/api/v1/workspaces/{ws}/webhooks/1", {**hook, "name": "CRM 2"}, "admin"),
        ("POST", f"/api/v1/workspaces/{ws}/webhooks/1/test", None, "admin"),
        ("GET", f"/api/v1/workspaces/{ws}/webhooks/1/deliveries", None, "supervisor"),
        ("POST", f"/api/v1/workspaces/{ws}/webhook-deliveries/1/retry", None, "supervisor"),
        ("POST", f"/api/v1/conversations/{conv}/escalate", {"note": "needs the warehouse"}, "agent"),
        ("GET", f"/api/v1/conversations/{conv}/case-links", None, "analyst"),
        ("POST", f"/api/v1/conversations/{conv}/case-links", {"kind": "order", "value": "A-1234"}, "agent"),
        ("GET", f"/api/v1/workspaces/{ws}/approval-rules", None, "supervisor"),
        ("PUT", f"/api/v1/workspaces/{ws}/approval-rules", {"mode": "off"}, "admin"),
        ("GET", f"/api/v1/workspaces/{ws}/approvals", None, "supervisor"),
        ("POST", "/api/v1/approvals/1/approve", {}, "supervisor"),  # approval 1: held in the test below
        ("POST", "/api/v1/approvals/1/reject", {"reason": "tone"}, "supervisor"),
        ("DELETE", f"/api/v1/workspaces/{ws}/webhooks/1", None, "admin"),
        ("GET", f"/api/v1/workspaces/{ws}/canned-responses", None, "analyst"),
        ("POST", f"/api/v1/workspaces/{ws}/canned-responses", canned, "supervisor"),
        ("PUT", f"/api/v1/workspaces/{ws}/canned-responses/1", {**canned, "folder": "Billing"}, "supervisor"),
        ("GET", f"/api/v1/conversations/{conv}/canned-responses", None, "agent"),
        ("DELETE", f"/api/v1/workspaces/{ws}/canned-responses/1", None, "supervisor"),
        ("PUT", f"/api/v1/conversations/{conv}/presence", {"state": "viewing"}, "analyst"),
        ("GET", f"/api/v1/workspaces/{ws}/routing", None, "analyst"),
        ("PUT", f"/api/v1/workspaces/{ws}/routing", {"strategy": "least_loaded"}, "admin"),
        ("GET", f"/api/v1/channels/{ch}/greetings", None, "analyst"),
        ("PUT", f"/api/v1/channels/{ch}/greetings", {"enabled": False}, "admin"),
    ]


def allowed(who: str, role: str) -> bool:
    rank = {r: i for i, r in enumerate(ROLES)}
    if who == "any":
        return True
    if who == "superadmin":
        return False
    if who == "reports":
        return role != "agent"
    return rank[role] >= rank[who]


def test_matrix_covers_every_api_route(rt: Runtime, world: World) -> None:
    """Adding an endpoint without a row in the matrix fails here."""
    spec = create_app(rt).openapi()["paths"]
    templates = {
        (method.upper(), path) for path, ops in spec.items() if path.startswith("/api/") for method in ops
    }
    listed = [(method, path) for method, path, _, _ in endpoints(world, 1)]

    def template_of(method: str, path: str) -> tuple[str, str]:
        hits = [
            t
            for t in templates
            if t[0] == method and re.fullmatch(re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(t[1])), path)
        ]
        assert len(hits) == 1, (method, path, hits)
        return hits[0]

    covered = {template_of(method, path) for method, path in listed}
    assert templates - covered == {("POST", "/api/v1/auth/login")}  # public by design, tested below


def test_permission_matrix(rt: Runtime, client: TestClient, world: World, conv_id: int) -> None:
    tokens = {role: world.token(role) for role in [*ROLES, "outsider"]}
    approvals.set_rules(rt, Actor.system(), world.ws.id, {"mode": "all"})
    held = conv_actions.reply(rt, world.actor("agent"), conv_id, "On its way")
    assert held.delivery == "approval"
    approvals.set_rules(rt, Actor.system(), world.ws.id, {"mode": "off"})
    for method, path, body, who in endpoints(world, conv_id):
        anonymous = client.request(method, path, json=body)
        assert anonymous.status_code == 401, (method, path, anonymous.text)
        for role in ROLES:
            r = client.request(method, path, json=body, headers=auth(tokens[role]))
            assert r.status_code < 500, (method, path, role, r.text)
            if allowed(who, role):
                assert r.status_code not in (401, 403, 404), (method, path, role, r.status_code, r.text)
            else:
                assert r.status_code == 403, (method, path, role, r.status_code, r.text)
        if any(
            part in path
            for part in (
                "/workspaces/",
                "/conversations/",
                "/channels/",
                "/contacts/",
                "/outbox/",
                "/approvals/",
            )
        ):
            r = client.request(method, path, json=body, headers=auth(tokens["outsider"]))
            assert r.status_code == 404, (method, path, "outsider", r.status_code, r.text)


def test_read_only_token_cannot_write(client: TestClient, world: World, conv_id: int) -> None:
    token = world.token("admin", read_only=True)
    assert client.get(f"/api/v1/conversations/{conv_id}", headers=auth(token)).status_code == 200
    r = client.post(f"/api/v1/conversations/{conv_id}/notes", json={"text": "x"}, headers=auth(token))
    assert r.status_code == 403 and "read-only" in r.json()["detail"]


def test_login_gives_a_token_and_wrong_password_does_not(client: TestClient, world: World) -> None:
    bad = client.post("/api/v1/auth/login", json={"email": "agent@example.com", "password": "nope nope"})
    assert bad.status_code == 401
    good = client.post("/api/v1/auth/login", json={"email": "agent@example.com", "password": "correct horse"})
    assert good.status_code == 200
    me = client.get("/api/v1/me", headers=auth(good.json()["token"]))
    assert me.json()["email"] == "agent@example.com"
    assert me.json()["workspaces"] == [{"workspace_id": world.ws.id, "role": "agent"}]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"\xff\xfe\x00", "application/json"),
        (b"null", "application/json"),
        (b"[]", "application/json"),
        (b'{"text": 5}', "application/json"),
        (b'{"text": "hi", "evil": 1}', "application/json"),
        (b'{"text": ""}', "application/json"),
        (b"text=hi", "application/x-www-form-urlencoded"),
    ],
)
def test_bad_bodies_get_a_clear_4xx(
    client: TestClient, world: World, conv_id: int, body: bytes, content_type: str
) -> None:
    token = world.token("admin")
    for path in (
        f"/api/v1/conversations/{conv_id}/replies",
        f"/api/v1/conversations/{conv_id}/notes",
        f"/api/v1/workspaces/{world.ws.id}/channels",
        "/api/v1/auth/login",
    ):
        r = client.post(path, content=body, headers={**auth(token), "Content-Type": content_type})
        assert 400 <= r.status_code < 500, (path, body, r.status_code, r.text)
        assert r.json()["detail"], r.text


def test_bad_query_and_ids(client: TestClient, world: World, conv_id: int) -> None:
    h = auth(world.token("admin"))
    ws = world.ws.id
    cases = [
        (f"/api/v1/workspaces/{ws}/conversations?cursor=garbage", 422),
        (f"/api/v1/workspaces/{ws}/conversations?limit=0", 422),
        (f"/api/v1/workspaces/{ws}/conversations?status=bogus", 422),
        (f"/api/v1/workspaces/{ws}/conversations?assignee=someone", 422),
        ("/api/v1/conversations/999999", 404),
        ("/api/v1/conversations/abc", 422),
        ("/api/v1/workspaces/999999/conversations", 404),
    ]
    for path, status in cases:
        r = client.get(path, headers=h)
        assert r.status_code == status, (path, r.status_code, r.text)
    huge = client.post(
        f"/api/v1/conversations/{conv_id}/notes",
        content=b"x" * 2_000_000,
        headers={**h, "Content-Type": "application/json"},
    )
    assert huge.status_code == 413


def test_conversation_list_filters_and_keyset_pages(rt: Runtime, client: TestClient, world: World) -> None:
    events = [
        InboundEvent(
            external_id=f"p{i}",
            created_at=datetime(2026, 11, 20, 9, i, tzinfo=UTC),
            text=("refund please" if i % 2 else "hello there"),
            author=Author(id=f"c{i}"),
        )
        for i in range(25)
    ]
    intake.accept(rt, world.channel.id, events)
    Pipeline(rt).drain()
    h = auth(world.token("agent"))
    seen: list[int] = []
    cursor = None
    while True:
        url = f"/api/v1/workspaces/{world.ws.id}/conversations?limit=7&sort=newest" + (
            f"&cursor={cursor}" if cursor else ""
        )
        page = client.get(url, headers=h).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 25 == len(set(seen))
    found = client.get(f"/api/v1/workspaces/{world.ws.id}/conversations?q=refund&limit=100", headers=h).json()
    assert len(found["items"]) == 12
    conv = client.get(f"/api/v1/conversations/{seen[0]}", headers=h).json()
    assert conv["messages"][0]["text"] in ("refund please", "hello there")
    assert conv["contact"]["identities"][0]["kind"] == f"webhook:{world.channel.id}"


def test_measure_counts_as_the_network_does(rt: Runtime, client: TestClient, world: World) -> None:
    from caredesk.actions import admin
    from caredesk.actions.base import Actor

    x = admin.create_channel(rt, Actor.system(), workspace_id=world.ws.id, connector="twcs", name="X history")
    h = auth(world.token("agent"))
    short = client.post(
        f"/api/v1/channels/{x.id}/measure",
        json={"text": "你好 https://example.com/a/very/long/path"},
        headers=h,
    ).json()
    assert (short["rule"], short["length"], short["valid"]) == ("x", 4 + 1 + 23, True)
    long_text = "This is a sentence about the outage. " * 12
    result = client.post(f"/api/v1/channels/{x.id}/measure", json={"text": long_text}, headers=h).json()
    assert result["valid"] is False and len(result["thread"]) >= 2
    assert all(part.endswith(f"/{len(result['thread'])}") for part in result["thread"])


def test_triage_settings_change_priority_and_topics(rt: Runtime, client: TestClient, world: World) -> None:
    ws = world.ws.id
    sup = auth(world.token("supervisor"))
    before = client.get(f"/api/v1/workspaces/{ws}/triage-settings", headers=sup).json()
    assert before["priority_weights"]["safety"] == 30 and before["overridden"] == []
    bad = client.put(
        f"/api/v1/workspaces/{ws}/triage-settings", json={"priority_weights": {"vip": 3}}, headers=sup
    )
    assert bad.status_code == 422 and "unknown priority weights" in bad.text
    bad = client.put(
        f"/api/v1/workspaces/{ws}/triage-settings", json={"topics": {"x y": ["a b"]}}, headers=sup
    )
    assert bad.status_code == 422
    body = {
        "priority_weights": {"base": 20},
        "topics": {"parcel": ["where is my parcel", "parcel not arrived"]},
    }
    r = client.put(f"/api/v1/workspaces/{ws}/triage-settings", json=body, headers=sup)
    assert r.status_code == 200, r.text
    assert r.json()["priority_weights"]["base"] == 20 and r.json()["overridden"] == ["base"]
    intake.accept(
        rt,
        world.channel.id,
        [
            InboundEvent(
                external_id="tz-1",
                created_at=datetime(2026, 11, 20, 10, tzinfo=UTC),
                text="hi, where is my parcel? it has not arrived",
                author=Author(id="cust-9", handle="@nine", name="Nine"),
            )
        ],
    )
    Pipeline(rt).drain()
    with rt.db.read() as s:
        msg = s.scalars(sa.select(m.Message).where(m.Message.external_id == "tz-1")).one()
        conv = s.get(m.Conversation, msg.conversation_id)
        assert msg.triage["topic"] == "parcel" and msg.triage["topic_source"] == "workspace"
        assert conv is not None
        assert conv.priority == 20 + sum(r["points"] for r in conv.priority_reasons)
