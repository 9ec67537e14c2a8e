"""The connector contract suite: one set of tests every connector runs against its fake network.

A network's test module defines a `Harness` subclass that drives its fake server, and a test class:

    class TestXContract(ConnectorContract):
        @pytest.fixture
        def harness(self) -> Iterator[XHarness]:
            h = XHarness(); h.start(); yield h; h.stop()

The suite then checks, on SQLite and PostgreSQL: first sync, incremental sync, paging, restart resume (no
loss, no duplicate), 429 with the network's headers, 5xx and timeouts retried with backoff (fetching and
sending), a public reply in the right thread, a private reply to the right person, and our own reply
echoed back by the network not ingested as a customer message.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from caredesk.actions import admin
from caredesk.actions import conversations as conv_actions
from caredesk.actions.base import Actor
from caredesk.api.app import create_app
from caredesk.domain.types import Capability, Role
from caredesk.pipeline.runner import Pipeline
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from caredesk.workers.poller import Poller
from caredesk.workers.sender import Sender


@dataclass
class ChannelSetup:
    config: dict[str, Any]
    credentials: dict[str, Any]
    own_account_id: str | None


@dataclass
class Published:
    """A message caredesk published on the fake network, as the network recorded it."""

    id: str
    text: str
    public: bool
    in_reply_to: str | None = None  # the network id of the message it answers (public replies)
    recipient: str | None = None  # who a private message went to (network user id or address)
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class Env:
    """caredesk as the harness sees it: the runtime, the web app (for webhooks), the channel."""

    rt: Runtime
    client: TestClient
    channel_id: int
    agent: Actor

    @property
    def hook_path(self) -> str:
        return f"/hooks/{self.channel_id}"

    def poll(self, rounds: int = 20) -> None:
        """Fetch until the network has nothing more (the channel is made due first, each round)."""
        poller = Poller(self.rt)
        for _ in range(rounds):
            with self.rt.db.write() as s:
                s.execute(
                    sa.update(m.Channel).where(m.Channel.id == self.channel_id).values(next_poll_at=None)
                )
            poller.run_once()
            with self.rt.db.read() as s:
                channel = s.get(m.Channel, self.channel_id)
                assert channel is not None
                if channel.last_error or (
                    channel.next_poll_at and channel.next_poll_at > self.rt.clock.now()
                ):
                    return

    def send(self) -> int:
        """Run the sender until the outbox is empty, skipping back-off waits."""
        sender = Sender(self.rt)
        total = 0
        for _ in range(20):
            with self.rt.db.write() as s:
                s.execute(
                    sa.update(m.Outbox)
                    .where(m.Outbox.status == "queued")
                    .values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
                )
            n = sender.run_once()
            total += n
            if n == 0:
                break
        return total


class Harness(abc.ABC):
    connector: str  # registry key
    page_size: int = 20  # the fake's page size, so paging is exercised

    @abc.abstractmethod
    def start(self) -> None: ...

    @abc.abstractmethod
    def stop(self) -> None: ...

    @abc.abstractmethod
    def channel(self) -> ChannelSetup:
        """Config and credentials that point a channel of this connector at the fake."""

    def bind(self, env: Env) -> None:
        """Called once the channel exists (push networks learn where to deliver)."""
        self.env = env

    @abc.abstractmethod
    def inject(self, text: str, *, author: str, public: bool = True, reply_to: str | None = None) -> str:
        """A customer writes to the brand; returns the network's id of the new message."""

    @abc.abstractmethod
    def deliver(self) -> None:
        """Bring injected activity to caredesk as the network does: push webhooks, or let caredesk poll."""

    @abc.abstractmethod
    def published(self) -> list[Published]:
        """What caredesk published, oldest first."""

    @abc.abstractmethod
    def fail_next(self, *failures: str, on: str) -> None:
        """Make the next requests fail: each of "429" (with the network's rate-limit headers), "500",
        "timeout"; `on` is "fetch" or "send"."""

    @abc.abstractmethod
    def echo(self, published: Published) -> None:
        """The network shows caredesk's own published message as new activity (as it does for webhooks,
        DM logs or timelines)."""

    def customer_id(self, author: str) -> str:
        """The network's id for an author name passed to inject (what a private reply is addressed to)."""
        return author


def _inbound(rt: Runtime) -> list[m.Message]:
    with rt.db.read() as s:
        return list(s.scalars(sa.select(m.Message).where(m.Message.direction == "in").order_by(m.Message.id)))


class ConnectorContract:
    """Mix into a test class that provides a `harness` fixture."""

    @pytest.fixture
    def env(self, rt: Runtime, harness: Harness) -> Iterator[Env]:
        system = Actor.system()
        ws = admin.create_workspace(rt, system, slug="contract", name="Contract")
        agent = admin.create_agent(rt, system, email="agent@contract.example", name="Agent", password=None)
        admin.add_member(rt, system, workspace_id=ws.id, agent_id=agent.id, role=Role.AGENT)
        setup = harness.channel()
        channel = admin.create_channel(
            rt,
            system,
            workspace_id=ws.id,
            connector=harness.connector,
            name="Under test",
            config=setup.config,
            credentials=setup.credentials,
            own_account_id=setup.own_account_id,
        )
        with TestClient(create_app(rt), raise_server_exceptions=False) as client:
            env = Env(rt=rt, client=client, channel_id=channel.id, agent=Actor.agent(agent.id))
            harness.bind(env)
            yield env

    def _sync(self, env: Env, harness: Harness) -> None:
        harness.deliver()
        Pipeline(env.rt).drain()

    def _polls(self, harness: Harness) -> bool:
        from caredesk.connectors import registry

        return Capability.POLL in registry.get(harness.connector).spec.capabilities

    def test_first_and_incremental_sync(self, env: Env, harness: Harness) -> None:
        for i in range(3):
            harness.inject(f"first wave {i}", author=f"cust{i}")
        self._sync(env, harness)
        assert sorted(x.text for x in _inbound(env.rt)) == [f"first wave {i}" for i in range(3)]
        for i in range(2):
            harness.inject(f"second wave {i}", author=f"cust{i}")
        self._sync(env, harness)
        texts = [x.text for x in _inbound(env.rt)]
        assert len(texts) == 5 and len(set(texts)) == 5

    def test_paging_brings_everything_once(self, env: Env, harness: Harness) -> None:
        n = harness.page_size * 2 + 3
        for i in range(n):
            harness.inject(f"paged {i}", author=f"p{i % 7}")
        self._sync(env, harness)
        texts = sorted(x.text for x in _inbound(env.rt))
        assert texts == sorted(f"paged {i}" for i in range(n))

    def test_restart_resumes_without_loss_or_duplicate(self, env: Env, harness: Harness, rt: Runtime) -> None:
        harness.inject("before restart", author="r1")
        self._sync(env, harness)
        # A new process: a fresh runtime on the same database, with the cursor it stored.
        from tests.conftest import make_runtime

        again = make_runtime(str(rt.db.url.render_as_string(hide_password=False)), rt.settings.data_dir)
        again.vault = rt.vault
        try:
            env2 = Env(rt=again, client=env.client, channel_id=env.channel_id, agent=env.agent)
            harness.bind(env2)
            self._sync(env2, harness)
            assert [x.text for x in _inbound(again)] == ["before restart"]
            harness.inject("after restart", author="r1")
            self._sync(env2, harness)
            assert [x.text for x in _inbound(again)] == ["before restart", "after restart"]
        finally:
            harness.bind(env)
            again.close()

    def test_fetch_failures_back_off_and_lose_nothing(self, env: Env, harness: Harness) -> None:
        if not self._polls(harness):
            pytest.skip(f"{harness.connector} receives pushes; fetch failures do not apply")
        harness.inject("during trouble", author="t1")
        for failure in ("429", "500", "timeout"):
            harness.fail_next(failure, on="fetch")
            env.poll(rounds=1)
            with env.rt.db.read() as s:
                channel = s.get(m.Channel, env.channel_id)
                assert channel is not None
                assert channel.last_error, failure
                assert channel.next_poll_at is not None and channel.next_poll_at > env.rt.clock.now(), failure
                if failure == "429":
                    assert "rate limit" in channel.last_error.lower()
        self._sync(env, harness)
        assert [x.text for x in _inbound(env.rt)] == ["during trouble"]
        with env.rt.db.read() as s:
            channel = s.get(m.Channel, env.channel_id)
            assert channel is not None and channel.last_error is None and channel.poll_failures == 0

    def _conversation_of(self, env: Env, text: str) -> int:
        with env.rt.db.read() as s:
            cid = s.scalar(sa.select(m.Message.conversation_id).where(m.Message.text == text))
        assert cid is not None
        return int(cid)

    def test_public_reply_goes_in_the_right_thread(self, env: Env, harness: Harness) -> None:
        harness.inject("unrelated post", author="other")
        network_id = harness.inject("my order never arrived", author="jane")
        self._sync(env, harness)
        conv = self._conversation_of(env, "my order never arrived")
        conv_actions.reply(env.rt, env.agent, conv, "Sorry to hear that, checking now", public=True)
        assert env.send() == 1
        (post,) = harness.published()
        assert post.public and post.in_reply_to == network_id
        assert "Sorry to hear that, checking now" in post.text
        with env.rt.db.read() as s:
            out = s.scalar(sa.select(m.Message).where(m.Message.direction == "out"))
        assert out is not None and out.external_id == post.id and out.delivery == "sent"

    def test_private_reply_reaches_the_customer(self, env: Env, harness: Harness) -> None:
        from caredesk.connectors import registry

        if Capability.PRIVATE_REPLY not in registry.get(harness.connector).spec.capabilities:
            pytest.skip(f"{harness.connector} has no private replies")
        harness.inject("please help, private details inside", author="kim", public=False)
        self._sync(env, harness)
        conv = self._conversation_of(env, "please help, private details inside")
        conv_actions.reply(env.rt, env.agent, conv, "Thanks Kim, we are on it", public=False)
        assert env.send() == 1
        (post,) = harness.published()
        assert not post.public and post.recipient == harness.customer_id("kim")

    def test_send_failures_are_retried_and_published_once(self, env: Env, harness: Harness) -> None:
        harness.inject("are you there?", author="sam")
        self._sync(env, harness)
        conv = self._conversation_of(env, "are you there?")
        harness.fail_next("429", "500", "timeout", on="send")
        conv_actions.reply(env.rt, env.agent, conv, "We are here", public=True)
        env.send()
        assert [p.text for p in harness.published() if "We are here" in p.text] != []
        assert len(harness.published()) == 1
        with env.rt.db.read() as s:
            box = s.scalar(sa.select(m.Outbox))
        assert box is not None and box.status == "sent" and box.attempts == 4

    def test_own_reply_echoed_back_is_not_a_customer_message(self, env: Env, harness: Harness) -> None:
        harness.inject("hello brand", author="eve")
        self._sync(env, harness)
        conv = self._conversation_of(env, "hello brand")
        conv_actions.reply(env.rt, env.agent, conv, "Hello Eve", public=True)
        env.send()
        (post,) = harness.published()
        harness.echo(post)
        self._sync(env, harness)
        assert [x.text for x in _inbound(env.rt)] == ["hello brand"]
        with env.rt.db.read() as s:
            outs = list(s.scalars(sa.select(m.Message).where(m.Message.direction == "out")))
        assert len(outs) == 1 and outs[0].external_id == post.id
