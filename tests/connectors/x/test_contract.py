"""The contract suite against the X connector and the fake X API.

Delivery is by polling (`env.poll()`), as a channel without a registered Account Activity webhook works.
Customers' public posts are replies to a post of the brand's (so X's auto-populated "@acme " prefix sits
outside `display_text_range`, and the text stored is what the customer typed). The echo of caredesk's own
post comes the way X shows it to a subscribed account: an Account Activity delivery, signed, to /hooks/<id>.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from caredesk.fakes.webhook_network import ServerThread
from caredesk.fakes.x import FakeX
from tests.connectors.contract import ChannelSetup, ConnectorContract, Env, Harness, Published


class XHarness(Harness):
    connector = "x"
    page_size = 20

    def __init__(self) -> None:
        self.net = FakeX(
            bearer_token="contract-app-token",
            user_token="contract-user-token",
            consumer_secret="contract-consumer-secret",
        )
        self.net.page_cap = self.page_size
        self.server = ServerThread(self.net.app)
        self.announcement = self.net.brand_post("Questions about your order? Reply here and we will help.")

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def channel(self) -> ChannelSetup:
        return ChannelSetup(
            config={"base_url": self.server.url, "user_id": self.net.brand.id},
            credentials={
                "bearer_token": self.net.bearer_token,
                "user_token": self.net.user_token,
                "consumer_secret": self.net.consumer_secret,
            },
            own_account_id=self.net.brand.id,
        )

    def bind(self, env: Env) -> None:
        super().bind(env)
        env.rt.http.timeout = httpx.Timeout(1.0)  # the fake's "timeout" hangs for 3 s

    def inject(self, text: str, *, author: str, public: bool = True, reply_to: str | None = None) -> str:
        if public:
            return self.net.post(author, text, reply_to=reply_to or self.announcement.id).id
        return self.net.dm(author, text).id

    def deliver(self) -> None:
        self.env.poll()

    def published(self) -> list[Published]:
        return [
            Published(
                id=p["id"],
                text=p["text"],
                public=p["kind"] == "post",
                in_reply_to=p["in_reply_to"],
                recipient=p["recipient"],
                raw=p,
            )
            for p in self.net.published()
        ]

    def fail_next(self, *failures: str, on: str) -> None:
        codes = {"429": 429, "500": 500, "timeout": 0}
        self.net.fail_next(*(codes[f] for f in failures), on="read" if on == "fetch" else "write")

    def echo(self, published: Published) -> None:
        response = self.net.push(published.id, self.env.hook_path, http=self.env.client)
        assert response.status_code == 202, response.text

    def customer_id(self, author: str) -> str:
        return self.net.user(author).id


class TestXContract(ConnectorContract):
    @pytest.fixture
    def harness(self) -> Iterator[XHarness]:
        h = XHarness()
        h.start()
        yield h
        h.stop()
