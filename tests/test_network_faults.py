"""Replies sent through a connection that breaks on purpose (tests/fault_proxy.py) between the sender and
the fake X: reset before the request arrives, answer lost after X posted, answer slower than the timeout,
slow but in time, and a network that resets every connection for a while. Every reply ends up on X
exactly once, and a reply that could not go yet shows why and is retried."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
import sqlalchemy as sa

from caredesk.actions import conversations as conv_actions
from caredesk.actions import intake
from caredesk.domain.clock import FrozenClock
from caredesk.domain.types import Author, InboundEvent
from caredesk.fakes.webhook_network import ServerThread
from caredesk.fakes.x import FakeX
from caredesk.pipeline.runner import Pipeline
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from caredesk.workers.sender import Sender
from tests.conftest import World, x_channel
from tests.fault_proxy import FaultProxy

pytestmark = pytest.mark.slow


class Desk:
    def __init__(self, rt: Runtime) -> None:
        self.clock = FrozenClock(datetime.now(UTC))
        rt.clock = self.clock
        self.rt, self.world = rt, World(rt)
        self.x = FakeX(brand_username="acme_care", brand_id="1600000000000000001", now=self.clock.now)
        self.server = ServerThread(self.x.app).start()
        self.proxy = FaultProxy("127.0.0.1", self.server.port).start()
        self.channel = x_channel(rt, self.world.ws.id, self.x, self.proxy.url)
        # a fresh connection per request, so each meets its own fault; a 1-second read timeout
        self.http = httpx.Client(timeout=httpx.Timeout(1.0), limits=httpx.Limits(max_keepalive_connections=0))
        self.sender = Sender(rt, http=self.http)
        self.n = 0

    def reply_to_a_new_customer(self) -> int:
        self.n += 1
        user = self.x.user(f"cust{self.n}", name=f"Customer {self.n}")
        tweet = self.x.post(user.id, f"@acme_care my router {self.n} keeps dropping")
        event = InboundEvent(tweet.id, tweet.created_at, tweet.text,
                             Author(id=user.id, handle=f"@{user.username}", name=user.name), public=True,
                             thread=tweet.conversation_id)  # fmt: skip
        intake.accept(self.rt, self.channel.id, [event])
        Pipeline(self.rt).drain()
        with self.rt.db.read() as s:
            conv = int(
                s.scalars(sa.select(m.Message.conversation_id).where(m.Message.external_id == tweet.id)).one()
            )
        text = f"Sorry about router {self.n}, on it"
        out = conv_actions.reply(
            self.rt, self.world.actor("agent"), conv, text, public=True, sign=False, confirm=True
        )
        return int(out.id)

    def brand_posts(self) -> list[str]:
        return [t.id for t in self.x.tweets.values() if t.author_id == self.x.brand.id]

    def outbox(self, message_id: int) -> m.Outbox:
        with self.rt.db.read() as s:
            return s.scalars(sa.select(m.Outbox).where(m.Outbox.message_id == message_id)).one()

    def later(self) -> None:
        """Past any backoff: the next sender round retries what is due."""
        self.clock.advance(hours=2)
        self.sender.drain()

    def stop(self) -> None:
        self.http.close()
        self.proxy.stop()
        self.server.stop()


@pytest.fixture
def desk(rt: Runtime) -> Iterator[Desk]:
    d = Desk(rt)
    yield d
    d.stop()


def test_every_reply_lands_once_through_a_breaking_connection(desk: Desk) -> None:
    # the answer is lost after X posted: the sender finds the post instead of posting again
    lost = desk.reply_to_a_new_customer()
    desk.proxy.faults = ["lost"]
    desk.sender.drain()
    assert desk.outbox(lost).status == "sent" and len(desk.brand_posts()) == 1

    # reset before the request arrived: X has no copy, so it is queued again with the reason, then sent
    reset = desk.reply_to_a_new_customer()
    desk.proxy.faults = ["reset"]
    desk.sender.drain()
    queued = desk.outbox(reset)
    assert queued.status == "queued" and queued.last_error and len(desk.brand_posts()) == 1
    desk.later()
    assert desk.outbox(reset).status == "sent" and len(desk.brand_posts()) == 2

    # slower than the timeout: X posted it; found, not repeated
    slow = desk.reply_to_a_new_customer()
    desk.proxy.faults = ["slow:2"]
    desk.sender.drain()
    desk.later()
    assert desk.outbox(slow).status == "sent" and len(desk.brand_posts()) == 3

    # slow but in time: simply sent
    in_time = desk.reply_to_a_new_customer()
    desk.proxy.faults = ["slow:0.3"]
    desk.sender.drain()
    assert desk.outbox(in_time).status == "sent" and len(desk.brand_posts()) == 4

    # a network that resets everything for a while, the look-up included: retried until it is back
    outage = desk.reply_to_a_new_customer()
    desk.proxy.faults = ["reset"] * 6
    for _ in range(3):
        desk.later()
    assert desk.outbox(outage).status == "queued" and desk.outbox(outage).attempts >= 2
    desk.later()
    assert desk.outbox(outage).status == "sent"

    posts = desk.brand_posts()
    assert len(posts) == 5  # five replies, five posts: none twice, none lost
    assert len({desk.x.tweets[p].replied_to for p in posts}) == 5
    assert {"lost", "reset", "slow:2", "slow:0.3"} <= set(desk.proxy.seen)
    with desk.rt.db.read() as s:
        messages = (
            s.execute(sa.select(m.Message.external_id).where(m.Message.direction == "out")).scalars().all()
        )
    assert sorted(messages) == sorted(posts)  # each reply knows its post on X
