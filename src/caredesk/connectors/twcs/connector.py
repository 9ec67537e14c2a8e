"""Replay of the public "Customer Support on Twitter" corpus: history only, it publishes nothing."""

from __future__ import annotations

from caredesk.connectors import registry
from caredesk.connectors.base import Connector, ConnectorSpec
from caredesk.domain.types import Capability, LengthRule


@registry.register
class TwcsReplayConnector(Connector):
    spec = ConnectorSpec(
        key="twcs",
        display_name="X history replay (TWCS)",
        network="x",
        capabilities=frozenset({Capability.IMPORT}),
        length_rule=LengthRule(public="x", private="x_dm"),
        docs="docs/importing.md",
    )
