"""The contract suite against the generic webhook channel and its fake network."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from caredesk.fakes.webhook_network import FakeWebhookNetwork, ServerThread
from tests.connectors.contract import ChannelSetup, ConnectorContract, Env, Harness, Published

T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)


class WebhookHarness(Harness):
    connector = "webhook"

    def __init__(self) -> None:
        self.net = FakeWebhookNetwork()
        self.server = ServerThread(self.net.app)
        self.pending: list[dict[str, object]] = []
        self.ids = itertools.count(1)
        self.secret = "contract-secret"

    def start(self) -> None:
        self.server.start()
        self.net.add_channel("c", secret=self.secret, hook_url="(bound later)")

    def stop(self) -> None:
        self.server.stop()

    def channel(self) -> ChannelSetup:
        return ChannelSetup(
            config={"outbound_url": f"{self.server.url}/channels/c/replies"},
            credentials={"secret": self.secret},
            own_account_id="brand",
        )

    def bind(self, env: Env) -> None:
        super().bind(env)
        self.net.channels["c"].hook_url = env.hook_path
        env.rt.http.timeout = httpx.Timeout(1.0)  # the fake's "timeout" hangs for 3 s

    def inject(self, text: str, *, author: str, public: bool = True, reply_to: str | None = None) -> str:
        n = next(self.ids)
        message = {
            "id": f"in-{n}",
            "created_at": (T0 + timedelta(seconds=n)).isoformat(),
            "text": text,
            "author": {"id": author, "name": author.title()},
            "public": public,
        }
        if not public:
            message["thread"] = f"dm-{author}"
        if reply_to:
            message["in_reply_to"] = reply_to
        self.pending.append(message)
        return str(message["id"])

    def deliver(self) -> None:
        for start in range(0, len(self.pending), 100):
            batch = {"messages": self.pending[start : start + 100]}
            response = self.net.inject("c", batch, http=self.env.client)
            assert response.status_code == 202, response.text
        self.pending.clear()

    def published(self) -> list[Published]:
        return [
            Published(
                id=p["id"],
                text=p["text"],
                public=p["public"],
                in_reply_to=p.get("in_reply_to"),
                recipient=p.get("recipient"),
                raw=p,
            )
            for p in self.net.channels["c"].posted
        ]

    def fail_next(self, *failures: str, on: str) -> None:
        codes = {"429": 429, "500": 500, "timeout": 0}
        assert on == "send", "the webhook channel is pushed to; nothing is fetched"
        self.net.channels["c"].fail_next.extend(codes[f] for f in failures)

    def echo(self, published: Published) -> None:
        self.pending.append(
            {
                "id": published.id,
                "created_at": datetime.now(UTC).isoformat(),
                "text": published.text,
                "author": {"id": "brand"},
                "direction": "out",
                "client_ref": published.raw["idempotency_key"],
            }
        )


class TestWebhookContract(ConnectorContract):
    @pytest.fixture
    def harness(self) -> Iterator[WebhookHarness]:
        h = WebhookHarness()
        h.start()
        yield h
        h.stop()
