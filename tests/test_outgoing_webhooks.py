"""Outgoing webhooks and events against a real local HTTP receiver: every event type, signatures, retries
after failures, the delivery log, crash safety; escalation to an external ticket and its status callback;
approvals (draft, review, publish) through the API."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from caredesk.actions import admin, conversations, intake
from caredesk.actions.base import Actor, record
from caredesk.domain.clock import FrozenClock
from caredesk.domain.types import Author, InboundEvent, Presence, Status
from caredesk.fakes.hook_receiver import FakeHookReceiver
from caredesk.fakes.webhook_network import FakeWebhookNetwork, ServerThread
from caredesk.pipeline.runner import Pipeline
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from caredesk.workers.hooks import HookSender
from caredesk.workers.sender import Sender
from tests.conftest import World


def start_time() -> datetime:
    """Half an hour before the wall clock when a test starts (not when the module loads: a long run would
    drift): the fake network checks reply signatures against its own time, and the tests move the clock
    forward about that much before a reply."""
    return datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=31)

SECRET = "receiver-secret-0123456789"


@pytest.fixture
def receiver(rt: Runtime) -> Iterator[tuple[FakeHookReceiver, str]]:
    rt.clock = FrozenClock(start_time())
    fake = FakeHookReceiver(secret=SECRET, now=lambda: rt.clock.now().timestamp(), hang_seconds=2.0)
    server = ServerThread(fake.app).start()
    yield fake, f"{server.url}/events"
    server.stop()


@pytest.fixture
def network() -> Iterator[tuple[FakeWebhookNetwork, str]]:
    net = FakeWebhookNetwork()
    server = ServerThread(net.app).start()
    yield net, server.url
    server.stop()


def _hook(client: TestClient, world: World, url: str, events: list[str], **extra: Any) -> dict[str, Any]:
    r = client.post(
        f"/api/v1/workspaces/{world.ws.id}/webhooks",
        json={"name": extra.pop("name", "CRM"), "url": url, "events": events, "secret": SECRET, **extra},
        headers=world.headers("admin"),
    )
    assert r.status_code == 201, r.text
    assert r.json()["secret"] == SECRET  # shown once, in the answer that set it
    return dict(r.json())


def _deliveries(rt: Runtime) -> list[m.OutgoingDelivery]:
    with rt.db.read() as session:
        return list(session.scalars(sa.select(m.OutgoingDelivery).order_by(m.OutgoingDelivery.id)))


def _sign_ok(secret: str, header: str, body: bytes) -> bool:
    fields = dict(part.split("=", 1) for part in header.split(","))
    mac = hmac.new(secret.encode(), f"{fields['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, fields["v1"])


def test_every_event_type_reaches_the_receiver_signed(
    rt: Runtime,
    world: World,
    client: TestClient,
    receiver: tuple[FakeHookReceiver, str],
    network: tuple[FakeWebhookNetwork, str],
) -> None:
    fake, url = receiver
    net, net_url = network
    net.add_channel("chat", secret=world.secret, hook_url="(unused)")
    with rt.db.write() as session:
        channel = session.get(m.Channel, world.channel.id)
        assert channel is not None
        channel.config = {"outbound_url": f"{net_url}/channels/chat/replies"}
    events = [
        "conversation.created",
        "conversation.assigned",
        "conversation.replied",
        "conversation.resolved",
        "sla.warning",
        "sla.breached",
        "message.received",
    ]
    _hook(client, world, url, events)
    _hook(client, world, url, ["conversation.resolved"], name="Only resolutions")
    r = client.post(
        f"/api/v1/workspaces/{world.ws.id}/sla-policies",
        json={"name": "Fast", "first_reply_minutes": 30, "warn_before_minutes": 10},
        headers=world.headers("admin"),
    )
    assert r.status_code == 201, r.text

    conv = world.customer_writes("in-1", "Where is my parcel? Order 55512")
    rt.clock.advance(minutes=21)  # 9 minutes before the first-reply due time: a warning
    conversations.watch_slas(rt)
    rt.clock.advance(minutes=10)  # past it: a breach
    conversations.watch_slas(rt)
    r = client.post(
        f"/api/v1/conversations/{conv}/assign",
        json={"agent_id": world.agents["agent"]},
        headers=world.headers("supervisor"),
    )
    assert r.status_code == 200, r.text
    r = client.post(
        f"/api/v1/conversations/{conv}/replies",
        json={"text": "It is on its way, sorry for the wait", "resolve": True},
        headers=world.headers("agent"),
    )
    assert r.status_code == 202, r.text
    assert Sender(rt).drain() == 1
    with rt.db.read() as session:
        sent = session.get(m.Message, r.json()["id"])
        assert sent is not None and sent.delivery == "sent", sent.delivery_error if sent else None
    assert HookSender(rt).drain() >= 1

    got = [body["type"] for body in fake.accepted()]
    for kind in events:
        assert kind in got, (kind, got)
    assert got.count("conversation.resolved") == 2  # both webhooks subscribed to it
    assert all(r.signature_ok for r in fake.received)
    created = fake.accepted("conversation.created")[0]
    assert created["workspace"] == {"id": world.ws.id, "slug": "acme"}
    assert (
        created["conversation"]["id"] == conv and created["conversation"]["channel"]["network"] == "webhook"
    )
    replied = fake.accepted("conversation.replied")[0]
    assert replied["message"]["text"] == "It is on its way, sorry for the wait"
    assert replied["message"]["external_id"].startswith("net-")
    breach = fake.accepted("sla.breached")[0]
    assert breach["data"]["clock"] == "first_reply"
    assert {d.status for d in _deliveries(rt)} == {"delivered"}
    assert all(d.attempts == 1 and d.log[0]["status"] == 200 for d in _deliveries(rt))


def test_failures_are_retried_with_backoff_and_logged(
    rt: Runtime, world: World, client: TestClient, receiver: tuple[FakeHookReceiver, str]
) -> None:
    fake, url = receiver
    hook = _hook(client, world, url, ["conversation.created"])
    fake.fail_next = [500, 429, 0, 503]  # error, rate limit, a hang past the timeout, unavailable
    fake.retry_after = "120"
    world.customer_writes("in-1", "hello?")
    sender = HookSender(rt, timeout=httpx.Timeout(0.5))
    waits = []
    for attempt in range(1, 5):
        assert sender.run_once() == 1
        (row,) = _deliveries(rt)
        assert row.status == "queued" and row.attempts == attempt
        waits.append((row.next_attempt_at - rt.clock.now()).total_seconds())
        assert sender.run_once() == 0  # not due yet: nothing is posted before its time
        rt.clock.advance(seconds=waits[-1] + 1)
    assert sender.run_once() == 1
    (row,) = _deliveries(rt)
    assert row.status == "delivered" and row.attempts == 5
    assert [e["status"] for e in row.log] == [500, 429, None, 503, 200]
    assert row.log[2]["error"] == "timed out"
    assert waits[1] == 120.0 and waits[3] == 120.0  # Retry-After is honoured on 429 and 503
    assert 2.5 <= waits[0] <= 7.5 and 10.0 <= waits[2] <= 30.0  # exponential, with jitter
    # One delivery id throughout, so the receiver keeps one copy.
    assert len({r.delivery for r in fake.received}) == 1 and len(fake.received) == 5
    assert len(fake.accepted()) == 1
    log = client.get(
        f"/api/v1/workspaces/{world.ws.id}/webhooks/{hook['id']}/deliveries",
        headers=world.headers("supervisor"),
    ).json()
    assert log[0]["status"] == "delivered" and len(log[0]["log"]) == 5


def test_a_bad_signature_parks_the_delivery_until_retried(
    rt: Runtime, world: World, client: TestClient, receiver: tuple[FakeHookReceiver, str]
) -> None:
    fake, url = receiver
    hook = _hook(client, world, url, ["conversation.created"])
    fake.secret = "the receiver expects another secret"
    world.customer_writes("in-1", "hello?")
    assert HookSender(rt).drain() == 1
    (row,) = _deliveries(rt)
    assert row.status == "failed" and row.last_status == 401 and row.attempts == 1  # a 4xx is not retried
    assert not fake.received[0].signature_ok
    with rt.db.read() as session:
        failed = session.scalars(sa.select(m.Event).where(m.Event.kind == "webhook.failed")).all()
        assert [e.data["delivery_id"] for e in failed] == [row.id]
    # The admin rotates the secret to the receiver's, then retries from the log.
    r = client.put(
        f"/api/v1/workspaces/{world.ws.id}/webhooks/{hook['id']}",
        json={"name": "CRM", "url": url, "events": ["conversation.created"], "secret": fake.secret},
        headers=world.headers("admin"),
    )
    assert r.status_code == 200 and r.json()["secret"] == fake.secret
    r = client.post(
        f"/api/v1/workspaces/{world.ws.id}/webhook-deliveries/{row.id}/retry",
        headers=world.headers("supervisor"),
    )
    assert r.status_code == 200 and r.json()["status"] == "queued", r.text
    assert HookSender(rt).drain() == 1
    (row,) = _deliveries(rt)
    assert row.status == "delivered" and fake.received[-1].signature_ok
    again = client.post(
        f"/api/v1/workspaces/{world.ws.id}/webhook-deliveries/{row.id}/retry",
        headers=world.headers("supervisor"),
    )
    assert again.status_code == 422  # only a failed delivery can be retried


def test_the_signature_is_hmac_sha256_of_timestamp_and_body(
    rt: Runtime, world: World, client: TestClient, receiver: tuple[FakeHookReceiver, str]
) -> None:
    """What docs/webhooks.md tells a receiver to compute, checked independently of the product's code."""
    _fake, url = receiver
    hook = _hook(client, world, url, ["webhook.test"])
    seen: list[httpx.Request] = []

    def capture(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    r = client.post(
        f"/api/v1/workspaces/{world.ws.id}/webhooks/{hook['id']}/test", headers=world.headers("admin")
    )
    assert r.status_code == 202, r.text
    with httpx.Client(transport=httpx.MockTransport(capture)) as http:
        assert HookSender(rt, http=http).drain() == 1
    (request,) = seen
    assert request.headers["X-Caredesk-Event"] == "webhook.test"
    assert request.headers["X-Caredesk-Delivery"] == r.json()["uid"]
    header = request.headers["X-Caredesk-Signature"]
    assert header.startswith(f"t={int(rt.clock.now().timestamp())},v1=")
    assert _sign_ok(SECRET, header, request.content)
    assert not _sign_ok("another secret", header, request.content)
    assert not _sign_ok(SECRET, header, request.content + b" ")


def test_a_crash_after_claiming_posts_again_with_the_same_id(
    rt: Runtime, world: World, client: TestClient, receiver: tuple[FakeHookReceiver, str]
) -> None:
    fake, url = receiver
    _hook(client, world, url, ["conversation.created"])
    world.customer_writes("in-1", "hello?")
    dead = HookSender(rt)
    claimed = dead._claim()  # the process dies here, after committing the claim, before posting
    assert len(claimed) == 1 and HookSender(rt).run_once() == 0  # the lease keeps others off it
    rt.clock.advance(minutes=3)
    assert HookSender(rt).drain() == 1
    (row,) = _deliveries(rt)
    assert row.status == "delivered" and row.uid == claimed[0].uid
    assert len(fake.accepted()) == 1


def _resolve_then_fail(rt: Runtime, workspace_id: int, conv: int) -> None:
    with rt.db.write() as session:
        record(
            session,
            Actor.system(),
            "conversation.resolved",
            workspace_id=workspace_id,
            conversation_id=conv,
            at=rt.clock.now(),
        )
        session.flush()
        # written in this transaction...
        assert session.scalar(sa.select(sa.func.count()).select_from(m.OutgoingDelivery)) == 1
        raise RuntimeError("the transaction fails after the event was written")  # ...and rolled back with it


def test_no_delivery_without_its_event_and_none_for_other_workspaces(
    rt: Runtime, world: World, client: TestClient, receiver: tuple[FakeHookReceiver, str]
) -> None:
    _fake, url = receiver
    _hook(client, world, url, ["conversation.resolved"])
    conv = world.customer_writes("in-1", "hello?")
    with pytest.raises(RuntimeError, match="fails after"):
        _resolve_then_fail(rt, world.ws.id, conv)
    assert _deliveries(rt) == []
    with rt.db.write() as session:
        record(
            session,
            Actor.system(),
            "conversation.resolved",
            workspace_id=world.other_ws.id,
            at=rt.clock.now(),
        )
    assert _deliveries(rt) == []
    r = client.delete(f"/api/v1/workspaces/{world.ws.id}/webhooks/1", headers=world.headers("admin"))
    assert r.status_code == 204
    conversations.set_status(rt, world.actor("agent"), conv, Status.RESOLVED)
    assert _deliveries(rt) == []  # a removed webhook receives nothing


def test_webhook_settings_are_checked(rt: Runtime, world: World, client: TestClient) -> None:
    h = world.headers("admin")
    base = {"name": "CRM", "url": "https://crm.example/hooks", "events": ["conversation.created"]}
    for bad in (
        {**base, "events": ["conversation.exploded"]},
        {**base, "events": []},
        {**base, "url": "ftp://crm.example/x"},
        {**base, "url": "https://user:pw@crm.example/x"},
        {**base, "secret": "short"},
    ):
        r = client.post(f"/api/v1/workspaces/{world.ws.id}/webhooks", json=bad, headers=h)
        assert r.status_code == 422, (bad, r.text)
    r = client.post(f"/api/v1/workspaces/{world.ws.id}/webhooks", json=base, headers=h)
    assert r.status_code == 201 and len(r.json()["secret"]) >= 32  # generated when none is given
    listed = client.get(
        f"/api/v1/workspaces/{world.ws.id}/webhooks", headers=world.headers("supervisor")
    ).json()
    assert [w["url"] for w in listed] == ["https://crm.example/hooks"]
    assert "secret" not in listed[0] and "secret_encrypted" not in listed[0]
    with rt.db.read() as session:
        stored = session.scalar(sa.select(m.OutgoingWebhook.secret_encrypted))
        assert stored and r.json()["secret"] not in stored  # encrypted at rest


# --- escalation ----------------------------------------------------------------------------------


def test_escalation_opens_a_ticket_and_its_status_follows(
    rt: Runtime, world: World, client: TestClient, receiver: tuple[FakeHookReceiver, str]
) -> None:
    fake, url = receiver
    conv = world.customer_writes("in-1", "My order 98765 arrived broken, second time!")
    r = client.post(f"/api/v1/conversations/{conv}/escalate", json={}, headers=world.headers("agent"))
    assert r.status_code == 422 and "ticketing" in r.json()["detail"]  # none set up yet
    hook = _hook(client, world, url, [], name="Tickets", ticketing=True)
    r = client.post(
        f"/api/v1/conversations/{conv}/escalate",
        json={"note": "warehouse damage"},
        headers=world.headers("agent"),
    )
    assert r.status_code == 202 and r.json()["status"] == "requested", r.text
    again = client.post(f"/api/v1/conversations/{conv}/escalate", json={}, headers=world.headers("agent"))
    assert again.status_code == 409
    assert HookSender(rt).drain() == 1
    (ticket_id,) = fake.tickets
    sent = fake.tickets[ticket_id]
    assert sent["type"] == "conversation.escalated" and sent["data"]["note"] == "warehouse damage"
    assert [t["text"] for t in sent["transcript"]] == ["My order 98765 arrived broken, second time!"]
    assert {"kind": "order", "value": "98765", "source": "triage", "message_id": 1} in sent["case_refs"]

    detail = client.get(f"/api/v1/conversations/{conv}", headers=world.headers("agent")).json()
    assert detail["external_ticket"]["id"] == ticket_id and detail["external_ticket"]["status"] == "open"
    links = client.get(f"/api/v1/conversations/{conv}/case-links", headers=world.headers("agent")).json()
    assert {"kind": "ticket", "value": ticket_id, "source": "ticket", "message_id": None} in links["refs"]

    callback = f"/hooks/tickets/{hook['id']}"
    body, headers = fake.signed_status(conv, ticket_id, "solved", secret="a forger's secret")
    forged = client.post(callback, content=body, headers=headers)
    assert forged.status_code == 401
    body, headers = fake.signed_status(conv, "T-999", "solved")
    assert client.post(callback, content=body, headers=headers).status_code == 409  # another ticket
    body, headers = fake.signed_status(conv, ticket_id, "solved")
    r = client.post(callback, content=body, headers=headers)
    assert r.status_code == 200 and r.json()["external_ticket"]["status"] == "solved", r.text
    detail = client.get(f"/api/v1/conversations/{conv}", headers=world.headers("agent")).json()
    assert detail["external_ticket"]["status"] == "solved"
    with rt.db.read() as session:
        kinds = list(session.scalars(sa.select(m.Event.kind).where(m.Event.kind.like("ticket.%"))))
        assert kinds == ["ticket.linked", "ticket.updated"]


def test_conversations_sharing_a_reference_are_linked(rt: Runtime, world: World, client: TestClient) -> None:
    rt.clock = FrozenClock(start_time())
    first = world.customer_writes("in-1", "Order #A-55123 never came", who="ann")
    rt.clock.advance(hours=2)
    second = world.customer_writes("in-2", "Writing for my mother about order A-55123", who="bob")
    third = world.customer_writes("in-3", "Love the new app", who="cyd")
    links = client.get(f"/api/v1/conversations/{second}/case-links", headers=world.headers("agent")).json()
    assert [x["conversation_id"] for x in links["linked"]] == [first]
    assert links["linked"][0]["refs"] == [{"kind": "order", "value": "A-55123"}]
    r = client.post(
        f"/api/v1/conversations/{third}/case-links",
        json={"kind": "order", "value": "a-55123"},
        headers=world.headers("agent"),
    )
    assert r.status_code == 201
    links = client.get(f"/api/v1/conversations/{first}/case-links", headers=world.headers("agent")).json()
    assert sorted(x["conversation_id"] for x in links["linked"]) == sorted([second, third])


# --- approvals -----------------------------------------------------------------------------------


def test_public_replies_wait_for_review_then_publish_once(
    rt: Runtime, world: World, client: TestClient, receiver: tuple[FakeHookReceiver, str]
) -> None:
    fake, url = receiver
    _hook(client, world, url, ["approval.requested", "approval.approved", "approval.rejected"])
    r = client.put(
        f"/api/v1/workspaces/{world.ws.id}/approval-rules",
        json={"mode": "public"},
        headers=world.headers("admin"),
    )
    assert r.status_code == 200 and r.json() == {"mode": "public", "agents": {}}
    intake.accept(
        rt,
        world.channel.id,
        [
            InboundEvent(
                external_id="p1",
                created_at=rt.clock.now(),
                text="Your app is broken",
                author=Author(id="c9", handle="@c9", name="C9"),
                public=True,
            )
        ],
    )
    Pipeline(rt).drain()
    conv = 1
    notices: list[dict[str, Any]] = []
    rt.bus.subscribe(lambda topic, data: notices.append(data) if topic == "agent.notice" else None)

    r = client.post(
        f"/api/v1/conversations/{conv}/replies",
        json={"text": "Sorry, we are on it", "resolve": True},
        headers=world.headers("agent"),
    )
    assert r.status_code == 202 and r.json()["delivery"] == "approval", r.text
    private = client.post(
        f"/api/v1/conversations/{conv}/replies",
        json={"text": "Can you DM us?", "public": False},
        headers=world.headers("agent"),
    )
    assert private.status_code in (202, 422)  # private replies are not held (the channel may refuse them)
    with rt.db.read() as session:
        assert (
            session.scalar(
                sa.select(sa.func.count()).select_from(m.Outbox).where(m.Outbox.message_id == r.json()["id"])
            )
            == 0
        )
    pending = client.get(
        f"/api/v1/workspaces/{world.ws.id}/approvals", headers=world.headers("supervisor")
    ).json()
    assert [(p["message_id"], p["text"], p["requester_name"]) for p in pending] == [
        (r.json()["id"], "Sorry, we are on it", "Agent")
    ]
    assert isinstance(pending[0]["checks"], list)
    approval = pending[0]["id"]
    assert (
        client.post(
            f"/api/v1/approvals/{approval}/approve", json={}, headers=world.headers("agent")
        ).status_code
        == 403
    )
    rt.clock.advance(minutes=7)
    ok = client.post(f"/api/v1/approvals/{approval}/approve", json={}, headers=world.headers("supervisor"))
    assert ok.status_code == 200 and ok.json()["status"] == "approved", ok.text
    twice = client.post(f"/api/v1/approvals/{approval}/approve", json={}, headers=world.headers("admin"))
    assert twice.status_code == 409
    with rt.db.read() as session:
        outbox = session.scalars(sa.select(m.Outbox).where(m.Outbox.message_id == r.json()["id"])).all()
        assert len(outbox) == 1
        conv_row = session.get(m.Conversation, conv)
        assert conv_row is not None and conv_row.status == "resolved"  # resolve waited for the approval
        event = session.scalar(sa.select(m.Event).where(m.Event.kind == "approval.approved"))
        assert event is not None and event.data["waited_seconds"] == 420.0
    assert notices[-1]["agent_id"] == world.agents["agent"] and notices[-1]["kind"] == "approval.approved"
    HookSender(rt).drain()
    assert [b["type"] for b in fake.accepted()] == ["approval.requested", "approval.approved"]


def test_a_rejected_reply_is_never_published(rt: Runtime, world: World, client: TestClient) -> None:
    conv = world.customer_writes("in-1", "hello?")
    r = client.put(
        f"/api/v1/workspaces/{world.ws.id}/approval-rules",
        json={"mode": "off", "agents": {str(world.agents["agent2"]): "all"}},
        headers=world.headers("admin"),
    )
    assert r.status_code == 200, r.text
    free = client.post(
        f"/api/v1/conversations/{conv}/replies", json={"text": "Hi there"}, headers=world.headers("agent")
    )
    assert free.json()["delivery"] == "queued"  # the workspace mode is off for this agent
    held = client.post(
        f"/api/v1/conversations/{conv}/replies",
        json={"text": "We guarantee a refund"},
        headers=world.headers("agent2"),
    )
    assert held.json()["delivery"] == "approval"
    (pending,) = client.get(
        f"/api/v1/workspaces/{world.ws.id}/approvals", headers=world.headers("supervisor")
    ).json()
    no_reason = client.post(
        f"/api/v1/approvals/{pending['id']}/reject", json={}, headers=world.headers("supervisor")
    )
    assert no_reason.status_code == 422
    r = client.post(
        f"/api/v1/approvals/{pending['id']}/reject",
        json={"reason": "we cannot promise refunds"},
        headers=world.headers("supervisor"),
    )
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    with rt.db.read() as session:
        msg = session.get(m.Message, held.json()["id"])
        assert (
            msg is not None
            and msg.delivery == "rejected"
            and msg.delivery_error == "we cannot promise refunds"
        )
        assert (
            session.scalar(
                sa.select(sa.func.count()).select_from(m.Outbox).where(m.Outbox.message_id == msg.id)
            )
            == 0
        )
    decided = client.get(
        f"/api/v1/workspaces/{world.ws.id}/approvals?status=rejected", headers=world.headers("supervisor")
    ).json()
    assert [d["reason"] for d in decided] == ["we cannot promise refunds"]


def test_an_agent_asks_for_review_whatever_the_rules(rt: Runtime, world: World, client: TestClient) -> None:
    conv = world.customer_writes("in-1", "can I get compensation for the outage?")
    asked = client.post(
        f"/api/v1/conversations/{conv}/replies",
        json={"text": "We will credit your account 50 kr", "request_approval": True},
        headers=world.headers("agent"),
    )
    assert asked.status_code == 202 and asked.json()["delivery"] == "approval"  # the workspace mode is off
    (pending,) = client.get(
        f"/api/v1/workspaces/{world.ws.id}/approvals", headers=world.headers("supervisor")
    ).json()
    assert pending["text"].startswith("We will credit your account 50 kr")
    with rt.db.read() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(m.Outbox)) == 0
    plain = client.post(
        f"/api/v1/conversations/{conv}/replies", json={"text": "Thanks!"}, headers=world.headers("agent")
    )
    assert plain.json()["delivery"] == "queued"


def test_bulk_written_events_are_delivered_too(
    rt: Runtime, world: World, client: TestClient, receiver: tuple[FakeHookReceiver, str]
) -> None:
    """The pipeline and the dispatcher write events in bulk; their deliveries join the same transaction."""
    fake, url = receiver
    _hook(client, world, url, ["conversation.created", "conversation.assigned"])
    admin.set_presence(rt, world.actor("agent"), Presence.ONLINE)
    conv = world.customer_writes("in-1", "Hello, my router keeps dropping the connection")
    HookSender(rt).drain()
    assigned = fake.accepted("conversation.assigned")
    assert [(b["conversation"]["id"], b["data"]) for b in assigned] == [
        (conv, {"assignee_id": world.agents["agent"], "by": "routing"})
    ]
    assert [b["conversation"]["id"] for b in fake.accepted("conversation.created")] == [conv]
