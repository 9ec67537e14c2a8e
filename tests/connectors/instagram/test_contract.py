"""The contract suite against the instagram connector and the fake Graph API (webhooks only)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.connectors.contract import ConnectorContract
from tests.connectors.instagram.harness import InstagramHarness


class TestInstagramContract(ConnectorContract):
    @pytest.fixture
    def harness(self) -> Iterator[InstagramHarness]:
        h = InstagramHarness()
        h.start()
        yield h
        h.stop()
