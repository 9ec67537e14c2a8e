"""Mastodon listening: hashtag timelines and statuses search driven by watch rules, through the poller
and the pipeline, against the fake instance."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from caredesk.actions import admin
from caredesk.actions.base import Actor
from caredesk.connectors.base import ChannelContext
from caredesk.connectors.mastodon.connector import MastodonConnector
from caredesk.connectors.mastodon.listen import cursor_key, hashtag_of, listen_event, queries_of
from caredesk.domain.clock import SystemClock
from caredesk.domain.errors import ConnectorError
from caredesk.domain.watch import WatchSpec, matches
from caredesk.fakes.mastodon import FakeMastodon
from caredesk.fakes.webhook_network import ServerThread
from caredesk.pipeline.runner import Pipeline
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from caredesk.workers.poller import LISTEN_KEY, Poller

FIXTURES = Path(__file__).parent / "fixtures"
BRAND_ID = "109000000000000001"
DOMAIN = "social.example"


@dataclass
class Listening:
    rt: Runtime
    net: FakeMastodon
    url: str
    brand: dict[str, Any]
    token: str
    channel_id: int
    workspace_id: int

    def customer(self, name: str, **kwargs: Any) -> str:
        return str(self.net.add_account(name, domain=DOMAIN, **kwargs)["id"])

    def poll(self) -> None:
        with self.rt.db.write() as s:
            s.execute(sa.update(m.Channel).where(m.Channel.id == self.channel_id).values(next_poll_at=None))
        assert Poller(self.rt).run_once() == 1
        Pipeline(self.rt).drain()

    def channel(self) -> m.Channel:
        with self.rt.db.read() as s:
            channel = s.get(m.Channel, self.channel_id)
            assert channel is not None
            return channel

    def heard(self) -> list[m.Message]:
        with self.rt.db.read() as s:
            return list(
                s.scalars(sa.select(m.Message).where(m.Message.listening).order_by(m.Message.external_id))
            )


@pytest.fixture
def listening(rt: Runtime) -> Iterator[Listening]:
    net = FakeMastodon(page_size=80)
    server = ServerThread(net.app).start()
    brand = net.add_account("acme", display_name="Acme Support")
    token = net.issue_token(brand["id"])
    rt.http.timeout = httpx.Timeout(1.0)  # the fake's "timeout" hangs for 3 s
    system = Actor.system()
    ws = admin.create_workspace(rt, system, slug="listen", name="Listen")
    channel = admin.create_channel(
        rt,
        system,
        workspace_id=ws.id,
        connector="mastodon",
        name="Mastodon",
        config={"base_url": server.url, "account_id": brand["id"], "acct": "acme"},
        credentials={"access_token": token},
        own_account_id=brand["id"],
    )
    admin.create_watch_rule(
        rt,
        system,
        workspace_id=ws.id,
        name="nordlys",
        keywords=["nordlys", "#nordlys"],
        phrases=["app is down"],
        exclusions=["aurora"],
        languages=["en", "da"],
    )
    try:
        yield Listening(rt, net, server.url, brand, token, channel.id, ws.id)
    finally:
        server.stop()


def test_listening_keeps_only_matching_public_posts_and_resumes(listening: Listening) -> None:
    net = listening.net
    lina, ole, kim = listening.customer("lina"), listening.customer("ole"), listening.customer("kim")
    old = net.post(lina, "nordlys broke last year too")["id"]
    listening.poll()  # the first watch only notes where each query stands: no history flood
    assert listening.heard() == []
    first_cursor = listening.channel().cursor[LISTEN_KEY]["queries"]
    assert set(first_cursor) == {"search:nordlys", "tag:nordlys", 'search:"app is down"'}
    assert first_cursor["search:nordlys"] == old

    wanted = [
        net.post(lina, "Nordlys has been down all morning")["id"],
        net.post(ole, "loving the new #nordlys widget")["id"],  # hashtag timeline (and search)
        net.post(kim, "the app is down again, no idea why", language="da")["id"],  # phrase search
    ]
    net.post(ole, "What a nordlys tonight, aurora everywhere")  # excluded word
    net.post(kim, "Nordlys est en panne", language="fr")  # language not watched
    net.post(lina, "nothing to see here")  # no term
    net.post(listening.brand["id"], "nordlys status: all good")  # the brand itself
    net.post(kim, "nordlys quietly broke", visibility="unlisted")  # not public
    net.post(lina, "nordlys #nordlys followers only", visibility="private")
    listening.poll()

    heard = listening.heard()
    assert sorted(x.external_id for x in heard) == sorted(wanted)
    assert all(x.listening for x in heard)
    with listening.rt.db.read() as s:
        convs = list(s.scalars(sa.select(m.Conversation)))
    assert convs and all(c.is_direct is False for c in convs)
    assert listening.channel().last_error is None
    # Search: one request per query and watch. Tag timeline: the newest page at first, then the walk back
    # (a page, then the empty page its Link header leads to).
    assert len(net.calls("GET", "/api/v2/search")) == 4
    assert len(net.calls("GET", "/api/v1/timelines/tag/nordlys")) == 3
    tag_query = dict(net.calls("GET", "/api/v1/timelines/tag/nordlys")[1]["query"])
    assert tag_query["since_id"] == first_cursor["tag:nordlys"]
    search_query = dict(net.calls("GET", "/api/v2/search")[-1]["query"])
    assert search_query["type"] == "statuses" and search_query["resolve"] == "false"

    later = net.post(ole, "nordlys is back, thanks")["id"]
    listening.poll()
    assert sorted(x.external_id for x in listening.heard()) == sorted([*wanted, later])


def test_a_mention_found_by_search_stays_a_direct_conversation(listening: Listening) -> None:
    lina = listening.customer("lina")
    listening.poll()
    status = listening.net.post(lina, "@acme nordlys will not start")["id"]
    listening.poll()
    with listening.rt.db.read() as s:
        msgs = list(s.scalars(sa.select(m.Message)))
        convs = list(s.scalars(sa.select(m.Conversation)))
    assert [(x.external_id, x.listening) for x in msgs] == [(status, False)]
    assert [c.is_direct for c in convs] == [True]


@pytest.mark.parametrize("failure", ["429", "500"])
def test_search_failures_back_off_with_the_error_on_the_channel(listening: Listening, failure: str) -> None:
    listening.poll()
    cursor = listening.channel().cursor
    lina = listening.customer("lina")
    post = listening.net.post(lina, "nordlys is down")["id"]
    listening.net.fail_next("search", failure)
    listening.poll()
    channel = listening.channel()
    assert channel.last_error is not None
    assert ("rate limit" in channel.last_error) == (failure == "429")
    assert channel.next_poll_at is not None and channel.poll_failures == 1
    assert channel.cursor == cursor  # nothing stored, nothing lost
    assert listening.heard() == []
    listening.poll()
    assert [x.external_id for x in listening.heard()] == [post]
    assert listening.channel().last_error is None


def test_rate_limit_on_search_waits_until_the_reset(listening: Listening) -> None:
    listening.poll()
    listening.net.fail_next("search", "429")
    channel = MastodonConnector(
        ChannelContext(
            id=listening.channel_id,
            own_account_id=listening.brand["id"],
            config={"base_url": listening.url, "account_id": listening.brand["id"]},
            credentials={"access_token": listening.token},
        ),
        http=listening.rt.http,
        clock=SystemClock(),
    )
    with pytest.raises(ConnectorError) as caught:
        channel.watch([WatchSpec(keywords=("nordlys",))], {})
    assert caught.value.retryable and caught.value.retry_after is not None
    assert 0 < caught.value.retry_after <= 300


def test_hashtag_timeline_pages_through_the_link_header(listening: Listening) -> None:
    connector = _connector(listening)
    rule = WatchSpec(keywords=("#Nordlys",))
    lina = listening.customer("lina")
    first = connector.watch([rule], {})
    assert first.events == [] and first.cursor == {"queries": {"tag:nordlys": "0"}}
    ids = [listening.net.post(lina, f"#nordlys post {i}")["id"] for i in range(95)]
    result = connector.watch([rule], first.cursor)
    assert [e.external_id for e in result.events] == ids  # oldest first, all three pages
    assert result.cursor == {"queries": {"tag:nordlys": ids[-1]}}
    assert all(e.listening and e.public and e.language == "en" for e in result.events)
    calls = listening.net.calls("GET", "/api/v1/timelines/tag/Nordlys")
    assert [dict(c["query"]).get("limit") for c in calls] == ["40"] * len(calls)
    assert len(calls) == 1 + 4  # first watch; then 40 + 40 + 15 and the empty page that ends the walk
    again = connector.watch([rule], result.cursor)
    assert again.events == [] and again.cursor == result.cursor


def test_search_walks_back_to_the_cursor_and_skips_what_is_not_searchable(listening: Listening) -> None:
    connector = _connector(listening)
    rule = WatchSpec(phrases=("app is down",))
    lina = listening.customer("lina")
    hidden = listening.customer("hidden", indexable=False)
    listening.net.post(lina, "the app is down, old news")
    first = connector.watch([rule], {})
    assert first.events == []
    ids = [listening.net.post(lina, f"the app is down ({i})")["id"] for i in range(50)]
    listening.net.post(hidden, "the app is down for me too")  # not opted in to search: never found
    listening.net.post(lina, "the app is fine, not down")  # not the phrase
    result = connector.watch([rule], first.cursor)
    assert [e.external_id for e in result.events] == ids
    assert result.cursor == {"queries": {'search:"app is down"': ids[-1]}}
    calls = listening.net.calls("GET", "/api/v2/search")
    assert dict(calls[-1]["query"])["max_id"] == ids[10]  # second page: older than the first page's oldest
    assert len(calls) == 3


def test_queries_and_their_cursor_keys() -> None:
    rules = [WatchSpec(keywords=("Acme", "#acme")), WatchSpec(keywords=("acme",), phrases=("acme app",))]
    assert queries_of(rules) == {
        "search:Acme": "Acme",
        "tag:acme": "#acme",
        "search:acme": "acme",
        'search:"acme app"': '"acme app"',
    }
    assert hashtag_of("#acme") == "acme" and hashtag_of("#acme corp") is None and hashtag_of("acme") is None
    assert cursor_key("#ACME") == "tag:acme"


def test_listen_event_from_the_search_fixture() -> None:
    body = json.loads((FIXTURES / "search_statuses.json").read_text())
    events = [listen_event(s, BRAND_ID) for s in body["statuses"]]
    customer, own, boost, unlisted = events
    assert own is None and boost is None and unlisted is None  # brand, reblog, not public
    assert customer is not None
    assert customer.listening and customer.public and customer.language == "en"
    assert customer.external_id == "113502718846013520" and customer.author.id == "109000000000000042"
    assert customer.text == "Is #Nordlys down for anyone else? The app & the site both time out."
    assert customer.created_at.tzinfo is not None
    assert matches(WatchSpec(keywords=("#nordlys",)), customer.text, customer.language)


def _connector(listening: Listening) -> MastodonConnector:
    return MastodonConnector(
        ChannelContext(
            id=listening.channel_id,
            own_account_id=listening.brand["id"],
            config={"base_url": listening.url, "account_id": listening.brand["id"]},
            credentials={"access_token": listening.token},
        ),
        http=listening.rt.http,
        clock=SystemClock(),
    )
