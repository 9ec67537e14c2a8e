"""The connector contract suite against the fake Bluesky."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.connectors.bluesky.harness import BlueskyHarness
from tests.connectors.contract import ConnectorContract


class TestBlueskyContract(ConnectorContract):
    @pytest.fixture
    def harness(self) -> Iterator[BlueskyHarness]:
        h = BlueskyHarness()
        h.start()
        yield h
        h.stop()
