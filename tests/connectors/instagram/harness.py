"""Drives the fake Graph API for the Instagram contract run and the Instagram-specific tests."""

from __future__ import annotations

from typing import Any

import httpx

from caredesk.fakes.meta import FakeMetaGraph
from caredesk.fakes.webhook_network import ServerThread
from tests.connectors.contract import ChannelSetup, Env, Harness, Published

PAGE_ID = "104000000000077"
IG_ID = "17841400000000077"
IG_USERNAME = "acme.store"
TOKEN = "EAAGfakePageToken-instagram"
APP_SECRET = "meta-app-secret-instagram"
VERIFY_TOKEN = "verify-token-instagram"
COMMENTS_PER_MEDIA = 3


class InstagramHarness(Harness):
    connector = "instagram"
    page_size = 10

    def __init__(self) -> None:
        self.net = FakeMetaGraph(max_page_size=2)
        self.server = ServerThread(self.net.app)
        self.igsids: dict[str, str] = {}
        self.commenters: dict[str, str] = {}
        self.media_id: str | None = None
        self.on_media = 0

    def start(self) -> None:
        self.server.start()
        self.net.add_page(
            PAGE_ID,
            name="Acme",
            token=TOKEN,
            app_secret=APP_SECRET,
            verify_token=VERIFY_TOKEN,
            ig_id=IG_ID,
            ig_username=IG_USERNAME,
        )

    def stop(self) -> None:
        self.server.stop()

    def channel(self) -> ChannelSetup:
        return ChannelSetup(
            config={
                "graph_url": self.server.url,
                "api_version": "v25.0",
                "page_id": PAGE_ID,
                "verify_token": VERIFY_TOKEN,
            },
            credentials={"page_access_token": TOKEN, "app_secret": APP_SECRET},
            own_account_id=IG_ID,
        )

    def bind(self, env: Env) -> None:
        super().bind(env)
        self.net.set_hook(PAGE_ID, env.hook_path, obj="instagram")
        env.rt.http.timeout = httpx.Timeout(1.0)  # the fake's "timeout" hangs for 3 s

    def new_media(self, caption: str = "New drop, link in bio", **kwargs: Any) -> str:
        self.media_id = self.net.add_media(IG_ID, caption, **kwargs)
        self.on_media = 0
        return self.media_id

    def commenter_id(self, author: str) -> str:
        # Instagram comments name the commenter by the same IGSID the messaging API uses.
        return self.customer_id(author)

    def customer_id(self, author: str) -> str:
        return self.igsids.setdefault(author, str(5_300_000_000_000_000 + len(self.igsids) + 1))

    def inject(self, text: str, *, author: str, public: bool = True, reply_to: str | None = None) -> str:
        if not public:
            return self.net.add_message(PAGE_ID, self.customer_id(author), text, platform="instagram")
        if reply_to is not None:
            media_id = self.net.comments[reply_to].object_id
        else:
            if self.media_id is None or self.on_media >= COMMENTS_PER_MEDIA:
                self.new_media()
            assert self.media_id is not None
            media_id = self.media_id
            self.on_media += 1
        return self.net.add_ig_comment(
            IG_ID, media_id, text, author_id=self.commenter_id(author), username=author, parent_id=reply_to
        )

    def push(self) -> list[httpx.Response]:
        return self.net.push(PAGE_ID, "instagram", http=self.env.client)

    def deliver(self) -> None:
        for response in self.push():
            assert response.status_code == 200, response.text

    def published(self) -> list[Published]:
        return [
            Published(
                id=p["id"],
                text=p["text"],
                public=p["public"],
                in_reply_to=p["in_reply_to"],
                recipient=p["recipient"],
                raw=p,
            )
            for p in self.net.published
        ]

    def fail_next(self, *failures: str, on: str) -> None:
        assert on == "send", "Instagram channels receive pushes; nothing is fetched"
        codes = {"429": 429, "500": 500, "timeout": 0}
        self.net.fail_next(*(codes[f] for f in failures), on="write")

    def echo(self, published: Published) -> None:
        self.net.echo(published.id)
