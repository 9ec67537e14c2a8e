"""Email through the stream runner: IMAP IDLE wakes the connector, so a customer's mail arrives in seconds."""

from __future__ import annotations

import dataclasses
import time

import pytest
import sqlalchemy as sa

from caredesk.actions import admin
from caredesk.actions.base import Actor
from caredesk.connectors.email import connector as email_connector
from caredesk.pipeline.runner import Pipeline
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from caredesk.workers.poller import Poller
from caredesk.workers.streamer import Streamer
from tests.connectors.email.conftest import Brand


def test_idle_stream_brings_mail_without_polling(
    rt: Runtime, brand: Brand, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(email_connector, "IDLE_SLICE", 1.0)  # notice `stop` within a second
    rt.settings = dataclasses.replace(rt.settings, streaming=True)
    system = Actor.system()
    ws = admin.create_workspace(rt, system, slug="mail", name="Mail")
    channel = admin.create_channel(
        rt,
        system,
        workspace_id=ws.id,
        connector="email",
        name="Support",
        config=brand.config(),
        credentials=brand.credentials(),
        own_account_id=brand.address,
    )
    assert Poller(rt).run_once() == 0  # streamed, not polled
    streamer = Streamer(rt)
    try:
        assert streamer.run_once() == 1
        time.sleep(0.5)  # the first fetch runs, then the connector idles
        brand.server.send_as_customer(
            brand.customer("ida"), brand.address, "Router", "My router blinks red.", name="Ida"
        )
        texts: list[str] = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not texts:
            Pipeline(rt).drain()
            with rt.db.read() as s:
                texts = list(s.scalars(sa.select(m.Message.text)))
            time.sleep(0.1)
        assert texts and "My router blinks red." in texts[0]
    finally:
        streamer.stop()
    with rt.db.read() as s:
        row = s.get(m.Channel, channel.id)
    assert row is not None and row.lease_owner is None and row.cursor.get("last_uid")
