"""The fake Bluesky as the connector contract (and the network tests) drive it."""

from __future__ import annotations

import httpx

from caredesk.connectors.bluesky.xrpc import SESSIONS
from caredesk.fakes.bluesky import FakeBluesky
from caredesk.fakes.webhook_network import ServerThread
from tests.connectors.contract import ChannelSetup, Env, Harness, Published

APP_PASSWORD = "abcd-efgh-ijkl-mnop"
FETCH = ["app.bsky.notification.listNotifications"]
SEND = ["com.atproto.repo.createRecord", "chat.bsky.convo.sendMessage"]


class BlueskyHarness(Harness):
    connector = "bluesky"
    page_size = 20

    def __init__(self, *, dm_access: bool = True) -> None:
        self.net = FakeBluesky(app_password=APP_PASSWORD, dm_access=dm_access, page_size=self.page_size)
        self.server = ServerThread(self.net.app)
        self.anchor = ""

    def start(self) -> None:
        SESSIONS.clear()
        self.server.start()
        # Customers answer the brand's pinned post: "reply" notifications keep their text exactly as typed
        # (a mention would need "@acme.bsky.social" in it).
        self.anchor = self.net.post(self.net.brand.did, "Questions? Reply here and we will help.").uri

    def stop(self) -> None:
        self.server.stop()
        SESSIONS.clear()

    @property
    def brand(self) -> str:
        return self.net.brand.did

    def channel(self) -> ChannelSetup:
        return ChannelSetup(
            config={"base_url": self.server.url, "handle": self.net.brand.handle, "did": self.brand},
            credentials={"app_password": APP_PASSWORD},
            own_account_id=self.brand,
        )

    def bind(self, env: Env) -> None:
        super().bind(env)
        env.rt.http.timeout = httpx.Timeout(1.0)  # the fake's "timeout" hangs for 3 s

    def inject(self, text: str, *, author: str, public: bool = True, reply_to: str | None = None) -> str:
        if not public:
            return str(self.net.dm(author, text)["id"])
        return self.net.post(author, text, reply_to=reply_to or self.anchor).uri

    def deliver(self) -> None:
        self.env.poll()

    def published(self) -> list[Published]:
        out = []
        for p in self.net.published:
            if p["kind"] == "post":
                record = p["record"]
                out.append(
                    Published(
                        id=p["uri"],
                        text=record["text"],
                        public=True,
                        in_reply_to=record.get("reply", {}).get("parent", {}).get("uri"),
                        raw=p,
                    )
                )
            else:
                out.append(
                    Published(id=p["id"], text=p["text"], public=False, recipient=p["recipient"], raw=p)
                )
        return out

    def fail_next(self, *failures: str, on: str) -> None:
        codes = {"429": 429, "500": 500, "timeout": 0}
        self.net.fail_next(*(codes[f] for f in failures), methods=FETCH if on == "fetch" else SEND)

    def echo(self, published: Published) -> None:
        # Bluesky needs no push: the brand's own post is in its author feed and its own DM in its chat log
        # the moment they are published, and the next poll reads both. Check that the network shows it.
        if published.public:
            assert published.id in [p.uri for p in self.net.author_feed(self.brand)]
        else:
            assert any(entry.get("message", {}).get("id") == published.id for entry in self.net.logs), (
                "the brand's DM is not in its chat log"
            )

    def customer_id(self, author: str) -> str:
        return self.net.account(author).did
