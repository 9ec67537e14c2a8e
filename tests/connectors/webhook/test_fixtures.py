"""Every recorded payload of the generic format parses into the events it describes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from caredesk.connectors.base import ChannelContext
from caredesk.connectors.webhook import signing
from caredesk.connectors.webhook.connector import WebhookConnector
from caredesk.domain.clock import SystemClock
from caredesk.domain.types import Direction

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.name)
def test_fixture_parses(path: Path) -> None:
    body = path.read_bytes()
    connector = WebhookConnector(
        ChannelContext(id=1, own_account_id="brand", config={}, credentials={"secret": "k"}),
        http=httpx.Client(),
        clock=SystemClock(),
    )
    headers = {signing.HEADER.lower(): signing.sign("k", body, int(time.time()))}
    events = connector.parse_webhook(headers, body).events
    data = json.loads(body)
    expected = data.get("messages", [data])
    assert [e.external_id for e in events] == [m["id"] for m in expected]
    for event, message in zip(events, expected, strict=True):
        assert event.text == message["text"]
        assert event.created_at.utcoffset() is not None and event.created_at.utcoffset().total_seconds() == 0
        assert event.direction == Direction(message.get("direction", "in"))
        assert event.raw["id"] == message["id"]
