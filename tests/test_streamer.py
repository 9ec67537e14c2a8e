"""The stream runner: a STREAM connector's stream is run in a thread under a lease; what it delivers is
stored with its cursor, and the poller leaves the channel alone. Driven here with the Mastodon connector
and its fake's real server-sent-events stream."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa

from caredesk.actions import admin
from caredesk.actions.base import Actor
from caredesk.fakes.mastodon import FakeMastodon
from caredesk.fakes.webhook_network import ServerThread
from caredesk.pipeline.runner import Pipeline
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from caredesk.workers.poller import Poller
from caredesk.workers.streamer import Streamer


@pytest.fixture
def mastodon() -> Iterator[tuple[FakeMastodon, ServerThread]]:
    net = FakeMastodon()
    server = ServerThread(net.app).start()
    yield net, server
    server.stop()


def test_stream_delivers_without_polling_and_releases_its_lease(
    rt: Runtime, mastodon: tuple[FakeMastodon, ServerThread]
) -> None:
    net, server = mastodon
    rt.settings = dataclasses.replace(rt.settings, streaming=True)
    rt.http = httpx.Client(timeout=httpx.Timeout(5.0))
    net.heartbeat_seconds = 0.5  # the stream notices `stop` between two heartbeats
    brand = net.add_account("acme", display_name="Acme")
    system = Actor.system()
    ws = admin.create_workspace(rt, system, slug="s", name="S")
    channel = admin.create_channel(
        rt,
        system,
        workspace_id=ws.id,
        connector="mastodon",
        name="Mastodon",
        config={"base_url": server.url, "account_id": brand["id"]},
        credentials={"access_token": net.issue_token(brand["id"])},
        own_account_id=brand["id"],
    )
    assert Poller(rt).run_once() == 0  # streamed channels are not polled
    streamer = Streamer(rt)
    try:
        assert streamer.run_once() == 1
        assert streamer.run_once() == 0  # already streaming: not started twice
        with rt.db.read() as s:
            row = s.get(m.Channel, channel.id)
            assert row is not None and row.lease_owner == streamer.owner
        customer = net.add_account("kim", domain="other.example")
        deadline = time.monotonic() + 15
        text = None
        while time.monotonic() < deadline:
            if net.streams and text is None:
                net.post(customer["id"], "@acme is the 5G outage over?")
                text = "is the 5G outage over?"
            Pipeline(rt).drain()
            with rt.db.read() as s:
                stored = list(s.scalars(sa.select(m.Message.text)))
            if stored:
                break
            time.sleep(0.2)
        assert stored and stored[0].endswith("is the 5G outage over?")
    finally:
        streamer.stop()
    with rt.db.read() as s:
        row = s.get(m.Channel, channel.id)
    assert row is not None and row.lease_owner is None and row.cursor  # the cursor was stored with the event
