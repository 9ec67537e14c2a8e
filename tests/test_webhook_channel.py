"""The generic webhook channel end to end against a real local HTTP "network": signed intake, replies
published once (retries, failures, a crash mid-send), and our own reply echoed back not ingested."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from caredesk.actions import admin
from caredesk.actions import conversations as conv_actions
from caredesk.actions.base import Actor
from caredesk.actions.intake import DeliveryWriter
from caredesk.api.app import create_app
from caredesk.connectors.webhook import signing
from caredesk.fakes.webhook_network import FakeWebhookNetwork, ServerThread
from caredesk.pipeline.runner import Pipeline
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from caredesk.workers.sender import Sender
from tests.conftest import World


@pytest.fixture
def network() -> Iterator[tuple[FakeWebhookNetwork, ServerThread]]:
    net = FakeWebhookNetwork()
    server = ServerThread(net.app).start()
    yield net, server
    server.stop()


@pytest.fixture
def setup(
    rt: Runtime, network: tuple[FakeWebhookNetwork, ServerThread]
) -> Iterator[tuple[World, FakeWebhookNetwork, TestClient]]:
    net, server = network
    world = World(rt, outbound_url=f"{server.url}/channels/chat/replies")
    net.add_channel("chat", secret=world.secret, hook_url=f"/hooks/{world.channel.id}")
    with TestClient(create_app(rt), raise_server_exceptions=False) as client:
        yield world, net, client


def message(mid: str, text: str, **extra: object) -> dict[str, object]:
    return {
        "id": mid,
        "created_at": datetime.now(UTC).isoformat(),
        "text": text,
        "author": {"id": "cust-9", "handle": "@nina", "name": "Nina"},
        **extra,
    }


def post_signed(
    client: TestClient,
    world: World,
    payload: object,
    *,
    secret: str | None = None,
    timestamp: int | None = None,
    raw: bytes | None = None,
) -> httpx.Response:
    body = raw if raw is not None else json.dumps(payload).encode()
    sig = signing.sign(secret or world.secret, body, timestamp or int(time.time()))
    return client.post(
        f"/hooks/{world.channel.id}",
        content=body,
        headers={"Content-Type": "application/json", signing.HEADER: sig},
    )


def counts(rt: Runtime) -> tuple[int, int]:
    with rt.db.read() as s:
        return (
            int(s.scalar(sa.select(sa.func.count()).select_from(m.SpoolEvent)) or 0),
            int(s.scalar(sa.select(sa.func.count()).select_from(m.Message)) or 0),
        )


def test_signed_webhook_is_spooled_once_and_processed(
    rt: Runtime, setup: tuple[World, FakeWebhookNetwork, TestClient]
) -> None:
    world, _net, client = setup
    r = post_signed(
        client, world, {"messages": [message("w1", "Hi, my router is down"), message("w2", "still down")]}
    )
    assert r.status_code == 202 and r.json() == {"accepted": 2, "duplicates": 0}
    replay = post_signed(client, world, {"messages": [message("w1", "Hi, my router is down")]})
    assert replay.status_code == 202 and replay.json() == {"accepted": 0, "duplicates": 1}
    assert Pipeline(rt).drain().processed == 2
    assert counts(rt) == (2, 2)


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("forged", 401),
        ("missing", 401),
        ("old", 401),
        ("bad_json", 422),
        ("unknown_field", 422),
        ("no_timezone", 422),
        ("too_many", 422),
        ("bad_utf8", 422),
        ("unknown_channel", 404),
    ],
)
def test_bad_webhooks_are_refused_and_change_nothing(
    rt: Runtime, setup: tuple[World, FakeWebhookNetwork, TestClient], case: str, status: int
) -> None:
    world, _net, client = setup
    good = message("x1", "hello")
    if case == "forged":
        r = post_signed(client, world, good, secret="not-the-secret")
    elif case == "missing":
        r = client.post(f"/hooks/{world.channel.id}", json=good)
    elif case == "old":
        r = post_signed(client, world, good, timestamp=int(time.time()) - 3600)
    elif case == "bad_json":
        r = post_signed(client, world, None, raw=b'{"id": "x1", ')
    elif case == "unknown_field":
        r = post_signed(client, world, {**good, "admin": True})
    elif case == "no_timezone":
        r = post_signed(client, world, {**good, "created_at": "2026-11-23T10:00:00"})
    elif case == "too_many":
        r = post_signed(client, world, {"messages": [message(f"m{i}", "x") for i in range(101)]})
    elif case == "bad_utf8":
        r = post_signed(client, world, None, raw=b'{"id": "x1", "text": "\xff\xfe"}')
    else:
        r = client.post("/hooks/99999", json=good)
    assert r.status_code == status, r.text
    assert r.json()["detail"]
    assert counts(rt) == (0, 0)


def test_reply_is_published_once_and_its_echo_is_recognised(
    rt: Runtime, setup: tuple[World, FakeWebhookNetwork, TestClient]
) -> None:
    world, net, client = setup
    post_signed(client, world, message("q1", "Where is order NM-48213?"))
    Pipeline(rt).drain()
    token = world.token("agent")
    r = client.post(
        "/api/v1/conversations/1/replies",
        json={"text": "It ships today ^AG"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 202, r.text
    assert r.json()["delivery"] == "queued"
    sender = Sender(rt)
    assert sender.drain() == 1
    posted = net.channels["chat"].posted
    assert [p["text"] for p in posted] == ["It ships today ^AG"]
    assert posted[0]["in_reply_to"] == "q1" and posted[0]["public"] is True
    with rt.db.read() as s:
        out = s.scalar(sa.select(m.Message).where(m.Message.direction == "out"))
        conv = s.get(m.Conversation, 1)
    assert out is not None and out.external_id == posted[0]["id"] and out.delivery == "sent"
    assert conv is not None and conv.first_reply_at is not None and conv.waiting_since is None
    # The network pushes our own reply back: recognised, not a customer message.
    echo = post_signed(
        client,
        world,
        {
            **message(posted[0]["id"], "It ships today ^AG"),
            "author": {"id": "acme"},
            "direction": "out",
            "client_ref": posted[0]["idempotency_key"],
        },
    )
    assert echo.status_code == 202
    Pipeline(rt).drain()
    with rt.db.read() as s:
        directions = list(s.scalars(sa.select(m.Message.direction).order_by(m.Message.id)))
    assert directions == ["in", "out"]
    assert sender.drain() == 0


def test_retryable_failures_back_off_then_succeed_once(
    rt: Runtime, setup: tuple[World, FakeWebhookNetwork, TestClient]
) -> None:
    world, net, client = setup
    post_signed(client, world, message("q2", "hello?"))
    Pipeline(rt).drain()
    conv_actions.reply(rt, world.actor("agent"), 1, "Hello! ^AG")
    net.channels["chat"].fail_next = [503, 429, 500]
    sender = Sender(rt)
    for _ in range(3):
        assert sender.run_once() == 1
        with rt.db.write() as s:  # skip the back-off wait
            s.execute(sa.update(m.Outbox).values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert sender.run_once() == 1
    assert len(net.channels["chat"].posted) == 1
    with rt.db.read() as s:
        box = s.scalar(sa.select(m.Outbox))
    assert box is not None and box.status == "sent" and box.attempts == 4


def test_refused_reply_fails_with_a_visible_error_and_can_be_retried(
    rt: Runtime, setup: tuple[World, FakeWebhookNetwork, TestClient]
) -> None:
    world, net, client = setup
    post_signed(client, world, message("q3", "hi"))
    Pipeline(rt).drain()
    conv_actions.reply(rt, world.actor("agent"), 1, "Hi ^AG")
    net.channels["chat"].fail_next = [400]
    Sender(rt).drain()
    with rt.db.read() as s:
        msg = s.scalar(sa.select(m.Message).where(m.Message.direction == "out"))
        box = s.scalar(sa.select(m.Outbox))
    assert msg is not None and msg.delivery == "failed" and "HTTP 400" in (msg.delivery_error or "")
    assert box is not None and box.status == "failed"
    r = client.post(
        f"/api/v1/outbox/{box.id}/retry", headers={"Authorization": f"Bearer {world.token('agent')}"}
    )
    assert r.status_code == 202
    Sender(rt).drain()
    assert len(net.channels["chat"].posted) == 1


def test_send_in_doubt_after_a_crash_is_not_published_twice(
    rt: Runtime, setup: tuple[World, FakeWebhookNetwork, TestClient]
) -> None:
    world, net, client = setup
    post_signed(client, world, message("q4", "hi"))
    Pipeline(rt).drain()
    conv_actions.reply(rt, world.actor("agent"), 1, "Answer ^AG")
    sender = Sender(rt)
    claimed = sender._claim()  # the process claims the item and publishes it...
    sender._deliver(claimed[0])
    with rt.db.write() as s:  # ...but dies before writing the outcome back: the item is still "sending"
        box = s.scalar(sa.select(m.Outbox))
        assert box is not None
        box.status, box.claimed_until = "sending", datetime.now(UTC) - timedelta(seconds=1)
    assert sender.drain() == 1  # lease ran out: in doubt, sent again with the same idempotency key
    assert len(net.channels["chat"].posted) == 1  # the network dropped the repeat
    with rt.db.read() as s:
        msg = s.scalar(sa.select(m.Message).where(m.Message.direction == "out"))
    assert msg is not None and msg.external_id == net.channels["chat"].posted[0]["id"]


def test_test_connection_reports_the_network_answer(
    rt: Runtime, setup: tuple[World, FakeWebhookNetwork, TestClient]
) -> None:
    world, _net, client = setup
    h = {"Authorization": f"Bearer {world.token('admin')}"}
    assert client.post(f"/api/v1/channels/{world.channel.id}/test", headers=h).json() == {"ok": True}
    broken = admin.create_channel(
        rt,
        Actor.system(),
        workspace_id=world.ws.id,
        connector="webhook",
        name="Broken",
        config={"outbound_url": "http://127.0.0.1:9/nothing"},
        credentials={"secret": "x"},
    )
    answer = client.post(f"/api/v1/channels/{broken.id}/test", headers=h).json()
    assert answer["ok"] is False and "unreachable" in answer["error"]


def test_concurrent_deliveries_share_commits_and_each_is_answered(
    rt: Runtime, setup: tuple[World, FakeWebhookNetwork, TestClient]
) -> None:
    """Deliveries that arrive together go through one group commit: each is spooled once, a replay among
    them is refused alone, and every request hears its own answer."""
    world, _net, client = setup
    bodies = [{"messages": [message(f"g{i}", f"router down, try {i}")]} for i in range(40)]
    writes = 0
    original = rt.db.write

    def counted() -> object:
        nonlocal writes
        writes += 1
        return original()

    rt.db.write = counted  # type: ignore[method-assign]
    stamp = int(time.time())
    with ThreadPoolExecutor(max_workers=16) as pool:
        sent = [*bodies, bodies[3]]
        answers = list(pool.map(lambda b: post_signed(client, world, b, timestamp=stamp), sent))
    rt.db.write = original  # type: ignore[method-assign]
    codes = sorted(a.status_code for a in answers)
    assert codes == [202] * 40 + [409]  # the same body twice: one of the two is the replay
    assert sum(a.json().get("accepted", 0) for a in answers if a.status_code == 202) == 40
    assert writes < 41  # fewer transactions than deliveries
    assert counts(rt) == (40, 0)
    with rt.db.read() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(m.WebhookDelivery)) == 40


def test_a_failed_group_commit_answers_every_delivery_with_its_error(
    rt: Runtime, setup: tuple[World, FakeWebhookNetwork, TestClient]
) -> None:
    world, _net, _client = setup
    writer = DeliveryWriter(rt)
    original = rt.db.write

    @contextmanager
    def failing() -> Iterator[object]:
        with original() as session:
            yield session
            raise sa.exc.OperationalError("COMMIT", {}, Exception("disk I/O error"))

    rt.db.write = failing  # type: ignore[method-assign]
    try:
        with pytest.raises(sa.exc.OperationalError):
            writer.accept(world.channel.id, [], "d" * 64)
    finally:
        rt.db.write = original  # type: ignore[method-assign]
        writer.close()
    assert counts(rt) == (0, 0)
    with rt.db.read() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(m.WebhookDelivery)) == 0


def test_a_stopped_delivery_writer_refuses_instead_of_waiting(
    rt: Runtime, setup: tuple[World, FakeWebhookNetwork, TestClient]
) -> None:
    world, _net, _client = setup
    writer = DeliveryWriter(rt)
    writer.close()
    with pytest.raises(RuntimeError, match="stopped"):
        writer.accept(world.channel.id, [], "e" * 64)
    with rt.db.read() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(m.WebhookDelivery)) == 0
