"""Every registered connector declares what it is and can do, is documented, has recorded payloads, and
implements what it claims."""

from __future__ import annotations

from pathlib import Path

import pytest

from caredesk.connectors import registry
from caredesk.connectors.base import Connector
from caredesk.domain.types import Capability

REPO = Path(__file__).resolve().parents[1]
CONNECTORS = sorted(registry.all_connectors().items())
OPERATION = {
    Capability.POLL: "fetch",
    Capability.STREAM: "stream",
    Capability.LISTEN: "watch",
    Capability.WEBHOOK: "parse_webhook",
    Capability.PUBLIC_REPLY: "send",
    Capability.PRIVATE_REPLY: "send",
}


@pytest.mark.parametrize(("key", "cls"), CONNECTORS, ids=[k for k, _ in CONNECTORS])
def test_connector_declares_documents_and_implements_its_capabilities(key: str, cls: type[Connector]) -> None:
    spec = cls.spec
    assert spec.key == key
    assert spec.display_name and spec.network
    assert spec.capabilities, "a connector that can do nothing"
    assert spec.length_rule.public and spec.length_rule.private
    assert spec.docs and (REPO / spec.docs).is_file(), f"{key}: {spec.docs} missing"
    assert key in (REPO / "docs" / "connectors.md").read_text(encoding="utf-8"), (
        f"{key} not in docs/connectors.md"
    )
    for capability, operation in OPERATION.items():
        if capability in spec.capabilities:
            assert getattr(cls, operation) is not getattr(Connector, operation), f"{key} claims {capability}"
    if Capability.PUBLIC_REPLY not in spec.capabilities and Capability.PRIVATE_REPLY not in spec.capabilities:
        assert cls.send is Connector.send  # and so refuses with a clear error
