"""The contract suite against the facebook connector and the fake Graph API, twice: comments brought only by
polling the feed (Messenger by webhooks), and comments pushed by webhooks as well as polled."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.connectors.contract import ConnectorContract
from tests.connectors.facebook.harness import FacebookHarness


class TestFacebookPollingContract(ConnectorContract):
    @pytest.fixture
    def harness(self) -> Iterator[FacebookHarness]:
        h = FacebookHarness(feed_webhooks=False)
        h.start()
        yield h
        h.stop()


class TestFacebookWebhookAndPollingContract(ConnectorContract):
    @pytest.fixture
    def harness(self) -> Iterator[FacebookHarness]:
        h = FacebookHarness(feed_webhooks=True)
        h.start()
        yield h
        h.stop()
