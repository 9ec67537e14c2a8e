"""Bluesky listening: watch rules -> app.bsky.feed.searchPosts, with paging, resume, the brand's own posts
left out, and errors backing the channel off."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from caredesk.actions import admin
from caredesk.actions.base import Actor
from caredesk.connectors.base import ChannelContext
from caredesk.connectors.bluesky.connector import BlueskyConnector
from caredesk.connectors.bluesky.listen import plan, search_event, sort_key
from caredesk.domain.clock import SystemClock
from caredesk.domain.types import Capability
from caredesk.domain.watch import WatchSpec
from caredesk.pipeline.runner import Pipeline
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from caredesk.workers.poller import LISTEN_KEY, Poller
from tests.connectors.bluesky.harness import APP_PASSWORD, BlueskyHarness

FIXTURES = Path(__file__).parent / "fixtures"
BRAND = "did:plc:acme4brandx7k2m9q3w5e8r1t"
SEARCH = "app.bsky.feed.searchPosts"


@pytest.fixture
def h() -> Iterator[BlueskyHarness]:
    harness = BlueskyHarness()
    harness.start()
    yield harness
    harness.stop()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=httpx.Timeout(1.0)) as client:
        yield client


def connector(h: BlueskyHarness, http: httpx.Client) -> BlueskyConnector:
    settings = {"base_url": h.server.url, "handle": h.net.brand.handle, "did": h.brand}
    context = ChannelContext(
        id=1, own_account_id=h.brand, config=settings, credentials={"app_password": APP_PASSWORD}
    )
    return BlueskyConnector(context, http=http, clock=SystemClock())


def searches(h: BlueskyHarness) -> list[dict[str, list[str]]]:
    return [c.params for c in h.net.calls if c.nsid == SEARCH]


# --- recorded payload and query planning -----------------------------------------------------------------


def test_search_fixture_becomes_listening_events_without_the_brands_own() -> None:
    data = json.loads((FIXTURES / "search_posts.json").read_text(encoding="utf-8"))
    events = [search_event(p, BRAND) for p in data["posts"]]
    first, reply, own, anonymous = events
    assert own is None  # the brand's own outage post
    assert first is not None and reply is not None and anonymous is not None
    assert first.external_id == data["posts"][0]["uri"]
    assert first.text == "Nordlys app has been down all morning, anyone else?"
    assert first.author.id == "did:plc:cust7yq2n4k8w1v5x3z6p9ra"
    assert (first.author.handle, first.author.name) == ("kari.bsky.social", "Kari N.")
    assert first.listening and first.public and first.language == "en"
    assert first.created_at.isoformat() == "2026-11-20T08:14:02.118000+00:00"
    assert reply.language == "en" and reply.in_reply_to is not None
    assert reply.in_reply_to.endswith("/3lbx6zz1qwe2r")
    assert anonymous.author.handle is None and anonymous.language is None
    assert first.raw is data["posts"][0]


def test_sort_key_is_the_earlier_of_created_and_indexed() -> None:
    post = json.loads((FIXTURES / "search_posts.json").read_text(encoding="utf-8"))["posts"][0]
    assert sort_key(post) == ("2026-11-20T08:14:02.118Z", post["uri"])
    future = post | {"record": post["record"] | {"createdAt": "2030-01-01T00:00:00Z"}}
    assert sort_key(future) == (post["indexedAt"], post["uri"])


def test_plan_one_query_per_term_phrases_quoted_lang_only_for_single_language_rules() -> None:
    rules = [
        WatchSpec(keywords=("nordlys",), phrases=("app is down",), languages=("en",)),
        WatchSpec(keywords=("Nordlys", "acme"), exclusions=("aurora",), languages=("da", "en")),
        WatchSpec(keywords=("panne",), languages=("fr",)),
        WatchSpec(keywords=("panne",), languages=("de",)),
    ]
    assert plan(rules) == {
        '"app is down" lang:en': ('"app is down"', "en"),
        "acme": ("acme", None),
        "nordlys": ("nordlys", None),  # another rule wants it in all languages (any case): no lang filter
        "panne lang:de": ("panne", "de"),
        "panne lang:fr": ("panne", "fr"),
    }


def test_spec_listens() -> None:
    assert Capability.LISTEN in BlueskyConnector.spec.capabilities


# --- the fake's search ---------------------------------------------------------------------------------


def test_fake_search_matches_words_phrases_and_language(h: BlueskyHarness, http: httpx.Client) -> None:
    a = h.net.post("ann", "The NORDLYS app is down again", langs=["en"]).uri
    b = h.net.post("bob", "is the app down? nordlys", langs=["en"]).uri
    c = h.net.post("cara", "Nordlys est en panne", langs=["fr"]).uri
    h.net.post("dan", "Nordlysfest tonight", langs=["en"])
    token = http.post(
        f"{h.server.url}/xrpc/com.atproto.server.createSession",
        json={"identifier": h.net.brand.handle, "password": APP_PASSWORD},
    ).json()["accessJwt"]
    auth = {"Authorization": f"Bearer {token}"}

    def search(**params: Any) -> httpx.Response:
        return http.get(f"{h.server.url}/xrpc/{SEARCH}", params=params, headers=auth)

    found = search(q="nordlys", sort="latest").json()
    assert [p["uri"] for p in found["posts"]] == [c, b, a] and found["hitsTotal"] == 3
    assert [p["uri"] for p in search(q='"app is down"').json()["posts"]] == [a]
    assert [p["uri"] for p in search(q="nordlys", lang="fr").json()["posts"]] == [c]
    paged = search(q="nordlys", limit=2).json()
    assert len(paged["posts"]) == 2 and paged["cursor"] == "2"
    rest = search(q="nordlys", limit=2, cursor=paged["cursor"]).json()
    assert [p["uri"] for p in rest["posts"]] == [a] and "cursor" not in rest
    assert search(q="nordlys", since="2999-01-01").json()["posts"] == []
    response = search(q="nordlys", sort="oldest")
    assert response.status_code == 400 and response.json()["error"] == "InvalidRequest"
    assert search(sort="latest").status_code == 400  # q is required
    assert http.get(f"{h.server.url}/xrpc/{SEARCH}", params={"q": "x"}).status_code == 401
    assert search(q="x").headers["RateLimit-Policy"] == "3000;w=300"


# --- watch(): first page only, then everything new, paging and resume --------------------------------------


def test_first_watch_reads_the_newest_page_then_only_new_posts(h: BlueskyHarness, http: httpx.Client) -> None:
    rules = [WatchSpec(keywords=("nordlys",))]
    old = [h.net.post(f"old{i}", f"nordlys post {i}", langs=["en"]).uri for i in range(25)]
    c = connector(h, http)
    first = c.watch(rules, {})
    assert [e.external_id for e in first.events] == old[-20:]  # the newest page (20 in this fake) only
    assert first.more is False and len(searches(h)) == 1
    assert searches(h)[0]["sort"] == ["latest"] and searches(h)[0]["q"] == ["nordlys"]

    new = [h.net.post(f"new{i}", f"Nordlys again {i}").uri for i in range(45)]
    h.net.post(h.brand, "Nordlys status: all systems normal")  # the brand's own post is left out
    second = c.watch(rules, first.cursor)
    assert [e.external_id for e in second.events] == new
    assert all(e.listening and e.public for e in second.events)
    # 66 results since the first page's oldest post (46 new, 20 seen and skipped), 20 a page
    assert len(searches(h)) == 1 + 4 and searches(h)[-1]["cursor"] == ["60"]
    assert searches(h)[-1]["since"] == [first.cursor["queries"]["nordlys"]["floor"]]

    third = c.watch(rules, second.cursor)
    # Nothing new; posts of the last 10 minutes before the newest are read again (and skipped): the
    # search sorts by a time that can lag, so the walk only stops below newest - GRACE.
    assert third.events == [] and len(searches(h)) == 5 + 4


def test_long_backlog_resumes_without_loss_or_duplicate(
    h: BlueskyHarness, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = [WatchSpec(keywords=("nordlys",), languages=("en",))]
    c = connector(h, http)
    start = c.watch(rules, {})
    assert start.events == [] and start.cursor["queries"]["nordlys lang:en"]["newest"]
    posted = [h.net.post(f"p{i}", f"nordlys {i}", langs=["en"]).uri for i in range(50)]
    h.net.post("norsk", "nordlys på norsk", langs=["nb"])  # not asked for: lang=en is sent
    monkeypatch.setattr(BlueskyConnector, "watch_pages", 1)
    seen: list[str] = []
    cursor = start.cursor
    for _ in range(5):
        result = c.watch(rules, cursor)
        seen += [e.external_id for e in result.events]
        cursor = result.cursor
        if not result.more:
            break
    assert sorted(seen) == sorted(posted) and len(seen) == len(set(seen))
    assert all(p["lang"] == ["en"] for p in searches(h))


def test_queries_no_rule_asks_for_are_dropped_from_the_cursor(h: BlueskyHarness, http: httpx.Client) -> None:
    c = connector(h, http)
    both = c.watch([WatchSpec(keywords=("nordlys", "acme"))], {})
    assert set(both.cursor["queries"]) == {"acme", "nordlys"}
    one = c.watch([WatchSpec(keywords=("acme",))], both.cursor)
    assert set(one.cursor["queries"]) == {"acme"}


# --- with caredesk's storage: poller + pipeline -------------------------------------------------------------


def _setup(rt: Runtime, h: BlueskyHarness) -> int:
    system = Actor.system()
    ws = admin.create_workspace(rt, system, slug="bsky-listen", name="Bsky listen")
    setup = h.channel()
    channel = admin.create_channel(
        rt,
        system,
        workspace_id=ws.id,
        connector="bluesky",
        name="Bluesky",
        config=setup.config,
        credentials=setup.credentials,
        own_account_id=setup.own_account_id,
    )
    admin.create_watch_rule(
        rt,
        system,
        workspace_id=ws.id,
        name="outage",
        keywords=["nordlys"],
        phrases=["app is down"],
        exclusions=["aurora"],
        languages=["en", "da"],
    )
    rt.http.timeout = httpx.Timeout(1.0)
    return channel.id


def _poll(rt: Runtime, channel_id: int) -> m.Channel:
    with rt.db.write() as s:
        s.execute(sa.update(m.Channel).where(m.Channel.id == channel_id).values(next_poll_at=None))
    Poller(rt).poll(channel_id)
    Pipeline(rt).drain()
    with rt.db.read() as s:
        channel = s.get(m.Channel, channel_id)
        assert channel is not None
        return channel


def _stored(rt: Runtime) -> list[m.Message]:
    with rt.db.read() as s:
        return list(s.scalars(sa.select(m.Message).order_by(m.Message.id)))


def test_listening_stores_exactly_the_matching_posts_and_resumes(rt: Runtime, h: BlueskyHarness) -> None:
    channel_id = _setup(rt, h)
    keep = h.net.post("ann", "Nordlys has been down all morning", langs=["en"]).uri
    h.net.post("bob", "What a nordlys tonight, aurora everywhere", langs=["en"])  # excluded word
    h.net.post("cara", "Nordlys est en panne", langs=["fr"])  # language not watched
    h.net.post("dan", "unrelated post about lunch", langs=["en"])
    phrase = h.net.post("erik", "my banking app is down since noon", langs=["en"]).uri
    h.net.post(h.brand, "Nordlys status page: all fine", langs=["en"])  # the brand's own

    channel = _poll(rt, channel_id)
    assert channel.last_error is None
    assert {p["q"][0] for p in searches(h)} == {"nordlys", '"app is down"'}
    stored = _stored(rt)
    assert sorted(x.external_id for x in stored) == sorted([keep, phrase])
    assert all(x.listening for x in stored)
    with rt.db.read() as s:
        convs = list(s.scalars(sa.select(m.Conversation)))
    assert len(convs) == 2 and all(c.is_direct is False for c in convs)
    listen_cursor = (channel.cursor or {})[LISTEN_KEY]
    assert set(listen_cursor["queries"]) == {"nordlys", '"app is down"'}

    calls = len(searches(h))
    channel = _poll(rt, channel_id)
    assert len(_stored(rt)) == 2 and len(searches(h)) == calls + 2  # nothing new, no duplicate

    later = h.net.post("frida", "Nordlys mobil er nede", langs=["da"]).uri
    _poll(rt, channel_id)
    assert [x.external_id for x in _stored(rt)][2:] == [later]
    assert all("since" in p for p in searches(h))


@pytest.mark.parametrize(("status", "words"), [(429, "rate limit"), (500, "failing")])
def test_search_failure_backs_the_channel_off(
    rt: Runtime, h: BlueskyHarness, status: int, words: str
) -> None:
    channel_id = _setup(rt, h)
    h.net.post("ann", "Nordlys has been down all morning", langs=["en"])
    h.net.fail_next(status, methods=[SEARCH])
    channel = _poll(rt, channel_id)
    assert channel.last_error is not None and words in channel.last_error.lower()
    assert "searchPosts" in channel.last_error
    assert channel.next_poll_at is not None and channel.next_poll_at > rt.clock.now()
    assert LISTEN_KEY not in (channel.cursor or {}) and _stored(rt) == []

    channel = _poll(rt, channel_id)
    assert channel.last_error is None
    assert [x.text for x in _stored(rt)] == ["Nordlys has been down all morning"]
