"""Drives the fake Graph API for the Facebook contract run and the Facebook-specific tests."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from fastapi.testclient import TestClient

from caredesk.actions import admin
from caredesk.actions.base import Actor
from caredesk.api.app import create_app
from caredesk.domain.types import Role
from caredesk.fakes.meta import FakeMetaGraph
from caredesk.fakes.webhook_network import ServerThread
from caredesk.runtime import Runtime
from tests.connectors.contract import ChannelSetup, Env, Harness, Published

PAGE_ID = "104000000000001"
TOKEN = "EAAGfakePageToken-contract"
APP_SECRET = "meta-app-secret-contract"
VERIFY_TOKEN = "verify-token-contract"
COMMENTS_PER_POST = 3


class FacebookHarness(Harness):
    """Messenger always arrives by webhooks and the feed is always polled, as in production. With
    `feed_webhooks=False` the Page is not subscribed to `feed`, so comments come only by polling; with
    True they are pushed too, and polling finds them again (the core drops the repeats)."""

    connector = "facebook"
    page_size = 10

    def __init__(self, *, feed_webhooks: bool = False, max_page_size: int = 2) -> None:
        self.net = FakeMetaGraph(max_page_size=max_page_size)
        self.server = ServerThread(self.net.app)
        self.feed_webhooks = feed_webhooks
        self.psids: dict[str, str] = {}
        self.commenters: dict[str, str] = {}
        self.post_id: str | None = None
        self.on_post = 0
        self.ids = itertools.count(1)

    def start(self) -> None:
        self.server.start()
        self.net.add_page(PAGE_ID, name="Acme", token=TOKEN, app_secret=APP_SECRET, verify_token=VERIFY_TOKEN)
        fields = {"feed", "messages"} if self.feed_webhooks else {"messages"}
        self.net.subscribe(PAGE_ID, fields)

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
            own_account_id=PAGE_ID,
        )

    def bind(self, env: Env) -> None:
        super().bind(env)
        self.net.set_hook(PAGE_ID, env.hook_path)
        env.rt.http.timeout = httpx.Timeout(1.0)  # the fake's "timeout" hangs for 3 s

    def new_post(self, text: str = "Our new autumn collection is here", **kwargs: Any) -> str:
        self.post_id = self.net.add_post(PAGE_ID, text, **kwargs)
        self.on_post = 0
        return self.post_id

    def commenter_id(self, author: str) -> str:
        return self.commenters.setdefault(author, str(3_000_000_000_000 + len(self.commenters) + 1))

    def customer_id(self, author: str) -> str:
        return self.psids.setdefault(author, str(6_100_000_000_000_000 + len(self.psids) + 1))

    def inject(self, text: str, *, author: str, public: bool = True, reply_to: str | None = None) -> str:
        if not public:
            return self.net.add_message(PAGE_ID, self.customer_id(author), text, name=author.title())
        if reply_to is not None:
            post_id = self.net.comments[reply_to].object_id
        else:
            if self.post_id is None or self.on_post >= COMMENTS_PER_POST:
                self.new_post()
            assert self.post_id is not None
            post_id = self.post_id
            self.on_post += 1
        return self.net.add_comment(
            PAGE_ID,
            post_id,
            text,
            author_id=self.commenter_id(author),
            author_name=author.title(),
            parent_id=reply_to,
        )

    def push(self) -> list[httpx.Response]:
        return self.net.push(PAGE_ID, "page", http=self.env.client)

    def deliver(self) -> None:
        for response in self.push():
            assert response.status_code == 200, response.text
            assert response.json() == {"status": "EVENT_RECEIVED"}
        self.env.poll()

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
        codes = {"429": 429, "500": 500, "timeout": 0}
        self.net.fail_next(*(codes[f] for f in failures), on="read" if on == "fetch" else "write")

    def echo(self, published: Published) -> None:
        self.net.echo(published.id)


@contextmanager
def caredesk_env(rt: Runtime, harness: Harness) -> Iterator[Env]:
    """A workspace, an agent, and a channel of the harness's connector, with the web app for webhooks."""
    system = Actor.system()
    ws = admin.create_workspace(rt, system, slug="meta", name="Meta")
    agent = admin.create_agent(rt, system, email="agent@meta.example", name="Agent", password=None)
    admin.add_member(rt, system, workspace_id=ws.id, agent_id=agent.id, role=Role.AGENT)
    setup = harness.channel()
    channel = admin.create_channel(
        rt,
        system,
        workspace_id=ws.id,
        connector=harness.connector,
        name="Under test",
        config=setup.config,
        credentials=setup.credentials,
        own_account_id=setup.own_account_id,
    )
    with TestClient(create_app(rt), raise_server_exceptions=False) as client:
        env = Env(rt=rt, client=client, channel_id=channel.id, agent=Actor.agent(agent.id))
        harness.bind(env)
        yield env
