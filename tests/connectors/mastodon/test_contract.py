"""The contract suite against the Mastodon connector and its fake instance."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from caredesk.fakes.mastodon import FakeMastodon
from caredesk.fakes.webhook_network import ServerThread
from tests.connectors.contract import ChannelSetup, ConnectorContract, Env, Harness, Published

CUSTOMER_DOMAIN = "social.example"  # customers live on another instance: their acct is user@domain


class MastodonHarness(Harness):
    connector = "mastodon"
    page_size = 20

    def __init__(self) -> None:
        self.net = FakeMastodon(page_size=self.page_size)
        self.server = ServerThread(self.net.app)
        self.brand = self.net.add_account("acme", display_name="Acme Support")
        self.token = self.net.issue_token(self.brand["id"])
        self.customers: dict[str, str] = {}

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def channel(self) -> ChannelSetup:
        return ChannelSetup(
            config={"base_url": self.server.url, "account_id": self.brand["id"], "acct": "acme"},
            credentials={"access_token": self.token},
            own_account_id=self.brand["id"],
        )

    def bind(self, env: Env) -> None:
        super().bind(env)
        env.rt.http.timeout = httpx.Timeout(1.0)  # the fake's "timeout" hangs for 3 s

    def customer_id(self, author: str) -> str:
        if author not in self.customers:
            account = self.net.add_account(author, domain=CUSTOMER_DOMAIN, display_name=author.title())
            self.customers[author] = account["id"]
        return self.customers[author]

    def inject(self, text: str, *, author: str, public: bool = True, reply_to: str | None = None) -> str:
        status = self.net.post(
            self.customer_id(author),
            f"@acme {text}",
            visibility="public" if public else "direct",
            in_reply_to_id=reply_to,
        )
        return str(status["id"])

    def deliver(self) -> None:
        self.env.poll()

    def published(self) -> list[Published]:
        out = []
        for status in self.net.published(self.brand["id"]):
            direct = status["visibility"] == "direct"
            mentioned = [m["id"] for m in status["mentions"]]
            out.append(
                Published(
                    id=status["id"],
                    text=self.net.statuses[status["id"]].text,
                    public=not direct,
                    in_reply_to=status["in_reply_to_id"],
                    recipient=mentioned[0] if direct and mentioned else None,
                    raw=status,
                )
            )
        return out

    def fail_next(self, *failures: str, on: str) -> None:
        self.net.fail_next(on, *failures)

    def echo(self, published: Published) -> None:
        # Mastodon never notifies an account of its own statuses; they surface in the account's own
        # statuses (GET /api/v1/accounts/:id/statuses), which the connector reads. Posting put it there.
        own = [s["id"] for s in self.net.statuses_of(self.brand["id"])]
        assert published.id in own


class TestMastodonContract(ConnectorContract):
    @pytest.fixture
    def harness(self) -> Iterator[MastodonHarness]:
        h = MastodonHarness()
        h.start()
        yield h
        h.stop()
