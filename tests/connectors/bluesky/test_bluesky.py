"""Bluesky-specific behaviour: recorded payloads, paging and resume, sessions, rate limits, errors, reply
references, facets, direct messages, updateSeen after storing, and find_published after a crash."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from caredesk.actions import admin
from caredesk.actions import conversations as conv_actions
from caredesk.actions.base import Actor
from caredesk.connectors.base import ChannelContext
from caredesk.connectors.bluesky import walk as walk_module
from caredesk.connectors.bluesky.connector import BlueskyConnector
from caredesk.connectors.bluesky.parse import log_event, notification_event, own_reply_event
from caredesk.connectors.bluesky.richtext import detect_facets
from caredesk.connectors.bluesky.xrpc import SESSIONS, jwt_claims, rate_limit_wait, xrpc_error
from caredesk.domain.clock import FrozenClock, SystemClock
from caredesk.domain.errors import ConnectorError, InvalidInput
from caredesk.domain.types import Direction, OutboundReply, ReplyContext, Role
from caredesk.pipeline.runner import Pipeline
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from caredesk.workers.poller import Poller
from caredesk.workers.sender import Sender
from tests.connectors.bluesky.harness import APP_PASSWORD, FETCH, BlueskyHarness

FIXTURES = Path(__file__).parent / "fixtures"
BRAND = "did:plc:acme4brandx7k2m9q3w5e8r1t"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


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


def connector(
    h: BlueskyHarness, http: httpx.Client, clock: Any = None, password: str = APP_PASSWORD, **config: Any
) -> BlueskyConnector:
    settings = {"base_url": h.server.url, "handle": h.net.brand.handle, "did": h.brand, **config}
    context = ChannelContext(
        id=1, own_account_id=h.brand, config=settings, credentials={"app_password": password}
    )
    return BlueskyConnector(context, http=http, clock=clock or SystemClock())


def reply(text: str, *, public: bool = True, **kwargs: Any) -> OutboundReply:
    values: dict[str, Any] = {"in_reply_to": None, "thread": None, "recipient": None, **kwargs}
    return OutboundReply(idempotency_key="k-" + text[:8], text=text, public=public, **values)


# --- recorded payloads -----------------------------------------------------------------------------------


def test_notifications_fixture_becomes_mention_reply_and_quote() -> None:
    data = fixture("list_notifications.json")
    events = [notification_event(n, BRAND) for n in data["notifications"]]
    quote, reply_event, mention = events
    assert mention is not None and reply_event is not None and quote is not None

    assert mention.external_id == "at://did:plc:t3hn4xqy6rzm2vsd5kja7lpe/app.bsky.feed.post/3lbq2fhd5tk2u"
    assert mention.author.id == "did:plc:t3hn4xqy6rzm2vsd5kja7lpe"
    assert mention.author.handle == "jonas-h.bsky.social" and mention.author.name == "Jonas"
    assert mention.text.startswith("@acme.bsky.social mit mobilnet")
    assert mention.in_reply_to is None and mention.references == [] and mention.public
    assert mention.created_at == datetime(2024, 11, 23, 9, 58, 2, tzinfo=UTC)
    assert mention.language == "da" and mention.direction == Direction.IN
    assert mention.raw["cid"] == data["notifications"][2]["cid"]

    # A reply to a reply: parent is the brand's post, the root (the first mention) is kept as a reference.
    assert (
        reply_event.in_reply_to == "at://did:plc:acme4brandx7k2m9q3w5e8r1t/app.bsky.feed.post/3lbq2kq4wcs2f"
    )
    assert reply_event.references == [mention.external_id]
    assert reply_event.raw["record"]["reply"]["root"]["cid"].startswith("bafyrei")

    assert quote.in_reply_to is None
    assert quote.references == ["at://did:plc:acme4brandx7k2m9q3w5e8r1t/app.bsky.feed.post/3lbpz7xw2ka2c"]
    assert quote.created_at.tzinfo is not None


def test_backdated_or_future_created_at_falls_back_to_indexed_at() -> None:
    notification = fixture("list_notifications.json")["notifications"][2]
    notification["record"]["createdAt"] = "2019-01-01T00:00:00Z"  # an imported, backdated post
    event = notification_event(notification, BRAND)
    assert event is not None and event.created_at == datetime(2024, 11, 23, 9, 58, 2, 771000, tzinfo=UTC)
    notification["record"]["createdAt"] = "2031-01-01T00:00:00.123456789Z"
    event = notification_event(notification, BRAND)
    assert event is not None and event.created_at.year == 2024


def test_chat_log_fixture_keeps_messages_and_marks_the_brands_own() -> None:
    logs = fixture("get_log.json")["logs"]
    events = [e for e in (log_event(entry, BRAND) for entry in logs) if e is not None]
    assert [e.external_id for e in events] == [
        "3lbq3b2k5kk2c",
        "3lbq3c6h7cs2g",
    ]  # deleted and non-messages skipped
    customer, own = events
    assert not customer.public and customer.thread == "3lbq3b2k4ws2z"
    assert (
        customer.author.id == "did:plc:q7vwsb3kd5htmnbyq2e5ojrb"
        and customer.author.handle == "mira.bsky.social"
    )
    assert customer.direction == Direction.IN
    assert own.direction == Direction.OUT and own.author.id == BRAND and own.thread == customer.thread


def test_author_feed_fixture_keeps_replies_to_people_only() -> None:
    feed = fixture("get_author_feed.json")["feed"]
    events = [own_reply_event(item, BRAND) for item in feed]
    answer, repost, self_thread = events
    assert repost is None  # a repost is not the brand writing
    assert self_thread is None  # "2/2" under the brand's own post is not customer care
    assert answer is not None and answer.direction == Direction.OUT
    assert answer.in_reply_to == "at://did:plc:t3hn4xqy6rzm2vsd5kja7lpe/app.bsky.feed.post/3lbq2mfyx2s2k"
    assert answer.recipient is not None and answer.recipient.id == "did:plc:t3hn4xqy6rzm2vsd5kja7lpe"


# --- facets ----------------------------------------------------------------------------------------------


def _bytes(text: str, sub: str) -> tuple[int, int]:
    start = text.encode().index(sub.encode())
    return start, start + len(sub.encode())


def test_facets_use_utf8_byte_offsets_with_emoji_and_urls() -> None:
    text = "Tak 🙏🏽 @jane.bsky.social! Se https://acme.example/hjælp?id=7. #roaming 👍 (https://x.example/a)"
    facets = detect_facets(text, {"jane.bsky.social": "did:plc:jane"}.get)
    by_type = {f["features"][0]["$type"].split("#")[1]: f for f in facets}
    assert [f["features"][0]["$type"].split("#")[1] for f in facets] == ["mention", "link", "tag", "link"]
    mention = by_type["mention"]
    assert (mention["index"]["byteStart"], mention["index"]["byteEnd"]) == _bytes(text, "@jane.bsky.social")
    assert mention["features"][0]["did"] == "did:plc:jane"
    link = facets[1]
    assert link["features"][0]["uri"] == "https://acme.example/hjælp?id=7"  # the sentence's dot is not in it
    assert (link["index"]["byteStart"], link["index"]["byteEnd"]) == _bytes(
        text, "https://acme.example/hjælp?id=7"
    )
    assert by_type["tag"]["features"][0]["tag"] == "roaming"
    assert (by_type["tag"]["index"]["byteStart"], by_type["tag"]["index"]["byteEnd"]) == _bytes(
        text, "#roaming"
    )
    assert facets[3]["features"][0]["uri"] == "https://x.example/a"  # the closing bracket is not in it
    # The emoji before the mention is 8 bytes in UTF-8 (4 + 4): character offsets would be wrong.
    assert mention["index"]["byteStart"] != text.index("@")


def test_unknown_handles_and_emails_get_no_facet() -> None:
    facets = detect_facets("write to help@acme.example or @nobody.bsky.social", lambda handle: None)
    assert facets == []


# --- rate limits and errors ------------------------------------------------------------------------------


def test_rate_limit_reset_as_epoch_or_delay() -> None:
    now = 1_732_000_000.0
    assert rate_limit_wait(httpx.Headers({"RateLimit-Reset": str(int(now) + 120)}), now) == 120
    assert rate_limit_wait(httpx.Headers({"RateLimit-Reset": "45"}), now) == 45
    assert rate_limit_wait(httpx.Headers({"RateLimit": "limit=30, remaining=0, reset=17"}), now) == 17
    assert rate_limit_wait(httpx.Headers({"Retry-After": "9", "RateLimit-Reset": "3"}), now) == 9
    assert rate_limit_wait(httpx.Headers({"RateLimit-Reset": str(int(now) - 5)}), now) == 1.0  # already past
    assert rate_limit_wait(httpx.Headers({}), now) is None


@pytest.mark.parametrize(
    ("error", "words"),
    [
        ("ConvoLocked", "locked"),
        ("MessagesDisabled", "does not accept direct messages"),
        ("NotFollowedBySender", "do not follow the brand"),
        ("InvalidConvo", "no longer exists"),
    ],
)
def test_chat_errors_are_explained_and_final(error: str, words: str) -> None:
    response = httpx.Response(400, json={"error": error, "message": "x"})
    exc = xrpc_error("chat.bsky.convo.sendMessage", response, 0.0)
    assert not exc.retryable and words in exc.message and error in exc.message


def test_server_errors_and_rate_limits_are_retryable() -> None:
    exc = xrpc_error("x", httpx.Response(502, json={"error": "UpstreamFailure", "message": "bad"}), 0.0)
    assert exc.retryable and exc.retry_after is None
    limited = httpx.Response(429, json={"error": "RateLimitExceeded"}, headers={"RateLimit-Reset": "30"})
    exc = xrpc_error("x", limited, 0.0)
    assert exc.retryable and exc.retry_after == 30 and "rate limit" in exc.message


@pytest.mark.parametrize("style", ["epoch", "delta"])
def test_fetch_429_maps_the_fakes_headers_to_retry_after(
    h: BlueskyHarness, http: httpx.Client, style: str
) -> None:
    h.net.reset_style = style
    h.net.rate_limit_wait = 5
    h.net.fail_next(429, methods=["app.bsky.notification.listNotifications"])
    with pytest.raises(ConnectorError) as caught:
        connector(h, http).fetch({})
    assert caught.value.retryable and caught.value.retry_after is not None
    assert 3 <= caught.value.retry_after <= 6
    assert connector(h, http).fetch({}).cursor  # the next try goes through


# --- paging and resume -----------------------------------------------------------------------------------


def test_paging_newest_first_and_resume_after_max_pages(
    h: BlueskyHarness, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(BlueskyConnector, "max_pages", 2)
    posted = [h.inject(f"question {i}", author=f"c{i % 5}") for i in range(45)]
    bsky = connector(h, http, own_replies=False, dms=False)

    first = bsky.fetch({})
    assert first.more and "resume" in first.cursor["notifications"]
    texts = [e.text for e in first.events]
    assert texts == [f"question {i}" for i in range(5, 45)]  # the newest 40, oldest first
    assert h.net.count("app.bsky.notification.updateSeen") == 0

    second = bsky.fetch(first.cursor)  # continues below where the first stopped
    assert not second.more and "resume" not in second.cursor["notifications"]
    assert [e.text for e in second.events] == [f"question {i}" for i in range(5)]

    assert bsky.fetch(second.cursor).events == []
    newer = h.inject("one more", author="c1")
    third = bsky.fetch(second.cursor)
    assert [e.external_id for e in third.events] == [newer]
    all_ids = [e.external_id for e in first.events + second.events]
    assert sorted(all_ids) == sorted(posted)


def test_walk_skips_processed_items_that_sort_out_of_order() -> None:
    # The AppView sorts by the earlier of createdAt and indexedAt: an item indexed late can be listed after
    # one already processed. The walk skips processed URIs instead of stopping at the first one.
    base = datetime(2024, 11, 23, 10, 0, tzinfo=UTC)

    def item(uri: str, seconds: int) -> dict[str, Any]:
        return {"uri": uri, "indexedAt": (base + timedelta(seconds=seconds)).isoformat()}

    def key(i: dict[str, Any]) -> tuple[str, str]:
        return i["indexedAt"], i["uri"]

    first = walk_module.walk(lambda c: ([item("b", 3)], None), key, {}, floor=None, max_pages=5)
    listed = [item("c", 9), item("b", 3), item("a", 5), item("old", -3600)]
    again = walk_module.walk(lambda c: (listed, None), key, first.state, floor=None, max_pages=5)
    assert [i["uri"] for i in again.items] == ["c", "a"]
    assert {uri for _, uri in again.state["recent"]} == {"a", "b", "c"}


def test_first_sync_goes_back_only_backfill_days(h: BlueskyHarness, http: httpx.Client) -> None:
    old = h.inject("from two weeks ago", author="r1")
    h.net.posts[old].indexed_at = (datetime.now(UTC) - timedelta(days=14)).isoformat(timespec="milliseconds")
    h.inject("recent", author="r2")
    first = connector(h, http).fetch({})  # 7 days by default
    assert [e.text for e in first.events] == ["recent"]
    assert connector(h, http).fetch(first.cursor).events == []  # the old one does not come later either
    longer = connector(h, http, backfill_days="30").fetch({})
    assert [e.text for e in longer.events] == ["from two weeks ago", "recent"]


# --- sessions --------------------------------------------------------------------------------------------


def test_session_is_reused_across_instances_and_refreshed_before_exp(
    h: BlueskyHarness, http: httpx.Client
) -> None:
    clock = FrozenClock(datetime.now(UTC))
    connector(h, http, clock).fetch({})
    connector(h, http, clock).fetch({})  # a new instance, as the poller builds one per poll
    assert h.net.count("com.atproto.server.createSession") == 1
    assert h.net.count("com.atproto.server.refreshSession") == 0
    session = SESSIONS.get(connector(h, http, clock)._client().key)
    assert session is not None
    claims = jwt_claims(session.access_jwt)
    assert claims["exp"] - claims["iat"] == 7200
    assert session.refresh_after == clock.now().timestamp() + 7200 - 900

    clock.advance(seconds=7200 - 900 + 1)  # inside the last 15 minutes
    connector(h, http, clock).fetch({})
    assert h.net.count("com.atproto.server.refreshSession") == 1
    assert h.net.count("com.atproto.server.createSession") == 1
    renewed = SESSIONS.get(connector(h, http, clock)._client().key)
    assert renewed is not None and renewed.access_jwt != session.access_jwt


def test_expired_token_answer_renews_the_session_once(h: BlueskyHarness, http: httpx.Client) -> None:
    import time

    clock = FrozenClock(datetime.now(UTC) - timedelta(seconds=10))  # caredesk's clock says it is fine...
    h.net.access_ttl = 2.0
    connector(h, http, clock).fetch({})
    time.sleep(2.1)  # ...but the PDS says the access token expired
    h.inject("after expiry", author="x1")
    assert [e.text for e in connector(h, http, clock).fetch({}).events] == ["after expiry"]
    assert h.net.count("com.atproto.server.refreshSession") == 1
    assert h.net.count("com.atproto.server.createSession") == 1


def test_create_session_limit_is_a_retryable_error_with_the_reset(
    h: BlueskyHarness, http: httpx.Client
) -> None:
    for _ in range(30):
        connector(h, http).verify()  # verify logs in afresh each time
    with pytest.raises(ConnectorError) as caught:
        connector(h, http).verify()
    assert caught.value.retryable and "rate limit" in caught.value.message
    assert caught.value.retry_after is not None and 290 <= caught.value.retry_after <= 300


def test_verify_checks_the_password_the_did_and_dm_access(h: BlueskyHarness, http: httpx.Client) -> None:
    connector(h, http).verify()
    with pytest.raises(ConnectorError) as caught:
        connector(h, http, password="wrong-pass-word-xxxx").verify()
    assert "app password" in caught.value.message and not caught.value.retryable
    assert "wrong-pass" not in caught.value.message
    other = h.net.account("someone-else")
    with pytest.raises(ConnectorError) as caught:
        connector(h, http, did=other.did).verify()
    assert h.brand in caught.value.message and other.did in caught.value.message
    h.net.brand.app_passwords["nodm-nodm-nodm-nodm"] = False
    with pytest.raises(ConnectorError) as caught:
        connector(h, http, password="nodm-nodm-nodm-nodm").verify()
    assert "direct messages" in caught.value.message and "dms=false" in caught.value.message
    connector(h, http, password="nodm-nodm-nodm-nodm", dms="false").verify()


def test_chat_calls_need_the_proxy_header(h: BlueskyHarness, http: httpx.Client) -> None:
    bsky = connector(h, http)
    session = bsky._client().session()
    url = f"{h.server.url}/xrpc/chat.bsky.convo.getLog"
    headers = {"Authorization": f"Bearer {session.access_jwt}"}
    refused = http.get(url, headers=headers)
    assert refused.status_code == 400 and "atproto-proxy" in refused.json()["message"]
    accepted = http.get(url, headers={**headers, "atproto-proxy": "did:web:api.bsky.chat#bsky_chat"})
    assert accepted.status_code == 200 and "logs" in accepted.json()
    assert accepted.headers["RateLimit-Policy"] == "3000;w=300"


# --- public replies --------------------------------------------------------------------------------------


def test_reply_to_a_reply_names_the_parent_and_the_threads_root(
    h: BlueskyHarness, http: httpx.Client
) -> None:
    first = h.net.post("jane", f"@{h.net.brand.handle} my router keeps rebooting")
    ours = h.net.post(h.brand, "Sorry Jane! Which model is it?", reply_to=first.uri)
    second = h.net.post("jane", "It's the X200", reply_to=ours.uri)
    result = connector(h, http).send(reply("Thanks, a fix is on its way", in_reply_to=second.uri))
    (published,) = h.net.published
    record = published["record"]
    assert result.external_id == published["uri"]
    assert record["reply"]["parent"] == {"uri": second.uri, "cid": second.cid}
    assert record["reply"]["root"] == {"uri": first.uri, "cid": first.cid}
    assert record["$type"] == "app.bsky.feed.post" and record["createdAt"].endswith("Z")

    connector(h, http).send(reply("And for the first post", in_reply_to=first.uri))
    record = h.net.published[1]["record"]
    assert record["reply"]["parent"] == record["reply"]["root"] == {"uri": first.uri, "cid": first.cid}


def test_published_post_carries_facets_for_mentions_and_links(h: BlueskyHarness, http: httpx.Client) -> None:
    jane = h.net.account("jane")
    post = h.net.post("jane", f"@{h.net.brand.handle} help")
    text = f"🎉 Fixed! @{jane.handle} see https://status.acme.example/incidents/42."
    connector(h, http).send(reply(text, in_reply_to=post.uri, options={"langs": ["en"]}))
    record = h.net.published[0]["record"]
    mention, link = record["facets"]
    assert mention["features"][0] == {"$type": "app.bsky.richtext.facet#mention", "did": jane.did}
    assert (mention["index"]["byteStart"], mention["index"]["byteEnd"]) == _bytes(text, f"@{jane.handle}")
    url = "https://status.acme.example/incidents/42"
    assert link["features"][0]["uri"] == url
    assert (link["index"]["byteStart"], link["index"]["byteEnd"]) == _bytes(text, url)
    assert record["langs"] == ["en"]


def test_reply_refused_when_the_post_is_gone_or_replies_are_limited(
    h: BlueskyHarness, http: httpx.Client
) -> None:
    gone = h.net.post("jane", "x")
    h.net.delete_post(gone.uri)
    with pytest.raises(ConnectorError) as caught:
        connector(h, http).send(reply("hello", in_reply_to=gone.uri))
    assert not caught.value.retryable and "no longer exists" in caught.value.message
    gated = h.net.post("jane", "y")
    h.net.limit_replies(gated.uri)
    with pytest.raises(ConnectorError) as caught:
        connector(h, http).send(reply("hello", in_reply_to=gated.uri))
    assert "limited who can reply" in caught.value.message and "privately" in caught.value.message
    assert h.net.published == []


def test_prepare_refuses_what_bluesky_cannot_send(h: BlueskyHarness, http: httpx.Client) -> None:
    context = ReplyContext(
        now=datetime.now(UTC),
        target_public=False,
        target_created_at=None,
        last_inbound_at=None,
        private_replies_to_target=0,
        human_agent=False,
    )
    bsky = connector(h, http)
    with pytest.raises(InvalidInput, match="direct message, not a post"):
        bsky.prepare(reply("hi", in_reply_to="3lbq3b2k5kk2c"), context)
    with pytest.raises(InvalidInput, match="no customer post"):
        bsky.prepare(reply("hi"), context)
    with pytest.raises(InvalidInput, match="dms=false"):
        connector(h, http, dms=False).prepare(reply("hi", public=False, recipient="did:plc:x"), context)
    with pytest.raises(InvalidInput, match="no Bluesky account"):
        bsky.prepare(reply("hi", public=False, recipient="jane"), context)
    ok = reply("hi", public=False, recipient="did:plc:x")
    assert bsky.prepare(ok, context) is ok


# --- direct messages -------------------------------------------------------------------------------------


def test_private_reply_to_a_public_mention_opens_the_conversation(
    h: BlueskyHarness, http: httpx.Client
) -> None:
    jane = h.net.account("jane")
    post = h.net.post("jane", f"@{h.net.brand.handle} billing question")
    bsky = connector(h, http)
    result = bsky.send(
        reply("Let's sort this privately", public=False, in_reply_to=post.uri, recipient=jane.did)
    )
    assert h.net.count("chat.bsky.convo.getConvoForMembers") == 1
    assert h.net.count("chat.bsky.convo.sendMessage") == 1
    (dm,) = h.net.published
    assert dm["kind"] == "dm" and dm["recipient"] == jane.did and dm["id"] == result.external_id
    assert result.raw["convoId"] == dm["convoId"]
    # The brand's own DM shows in its chat log, and is recognised as its own.
    events = bsky.fetch({}).events
    own = [e for e in events if not e.public]
    assert [(e.external_id, e.direction, e.thread) for e in own] == [
        (result.external_id, Direction.OUT, dm["convoId"])
    ]


@pytest.mark.parametrize(
    ("setting", "follows", "error"),
    [("none", False, "MessagesDisabled"), ("following", False, "NotFollowedBySender")],
)
def test_customers_chat_settings_are_explained(
    h: BlueskyHarness, http: httpx.Client, setting: str, follows: bool, error: str
) -> None:
    kim = h.net.add_account("kim", allow_incoming=setting, follows_brand=follows)
    with pytest.raises(ConnectorError) as caught:
        connector(h, http).send(reply("Hi Kim", public=False, recipient=kim.did))
    assert not caught.value.retryable and error in caught.value.message
    assert "reply publicly" in caught.value.message
    h.net.add_account("lee", allow_incoming="following", follows_brand=True)
    connector(h, http).send(reply("Hi Lee", public=False, recipient=h.net.account("lee").did))
    assert [p["text"] for p in h.net.published] == ["Hi Lee"]


def test_locked_conversation_is_explained(h: BlueskyHarness, http: httpx.Client) -> None:
    message = h.net.dm("kim", "hello?")
    h.net.lock_convo(message["convoId"])
    with pytest.raises(ConnectorError) as caught:
        connector(h, http).send(reply("Hi", public=False, recipient=h.customer_id("kim")))
    assert "ConvoLocked" in caught.value.message and "locked" in caught.value.message
    assert not caught.value.retryable


def test_dm_access_missing_is_explained_at_fetch(http: httpx.Client) -> None:
    harness = BlueskyHarness(dm_access=False)
    harness.start()
    try:
        with pytest.raises(ConnectorError) as caught:
            connector(harness, http).fetch({})
        assert "no access to direct messages" in caught.value.message
        assert connector(harness, http, dms=False).fetch({}).cursor.get("chat") is None
    finally:
        harness.stop()


# --- own replies written outside caredesk ----------------------------------------------------------------


def test_brands_reply_written_in_the_app_comes_in_as_outbound(h: BlueskyHarness, http: httpx.Client) -> None:
    bsky = connector(h, http)
    cursor = bsky.fetch({}).cursor
    question = h.net.post("jane", "is the outage over?", reply_to=h.anchor)
    answer = h.net.post(h.brand, "Yes, since 10:40.", reply_to=question.uri)
    result = bsky.fetch(cursor)
    by_id = {e.external_id: e for e in result.events}
    assert by_id[question.uri].direction == Direction.IN
    own = by_id[answer.uri]
    assert own.direction == Direction.OUT and own.in_reply_to == question.uri
    assert own.recipient is not None and own.recipient.id == h.customer_id("jane")
    assert [e.external_id for e in result.events] == [question.uri, answer.uri]  # chronological
    assert bsky.fetch(result.cursor).events == []


# --- with caredesk's storage: updateSeen after storing, in-doubt sends ------------------------------------


def _channel(rt: Runtime, h: BlueskyHarness) -> tuple[int, Actor]:
    system = Actor.system()
    ws = admin.create_workspace(rt, system, slug="bsky", name="Bsky")
    agent = admin.create_agent(rt, system, email="agent@bsky.example", name="Agent", password=None)
    admin.add_member(rt, system, workspace_id=ws.id, agent_id=agent.id, role=Role.AGENT)
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
    rt.http.timeout = httpx.Timeout(1.0)
    return channel.id, Actor.agent(agent.id)


def _messages(rt: Runtime) -> list[m.Message]:
    with rt.db.read() as s:
        return list(s.scalars(sa.select(m.Message).order_by(m.Message.id)))


def test_update_seen_only_after_the_events_are_stored(rt: Runtime, h: BlueskyHarness) -> None:
    channel_id, _ = _channel(rt, h)
    h.inject("first", author="ann")
    last = h.inject("second", author="bob")
    # A poll that dies between fetching and storing: the network is not told anything was seen.
    with rt.db.read() as s:
        channel = s.get(m.Channel, channel_id)
        assert channel is not None
    from caredesk.workers.sender import connector_for

    fetched = connector_for(rt, channel).fetch({})
    assert len(fetched.events) == 2
    assert h.net.seen_at is None and h.net.count("app.bsky.notification.updateSeen") == 0

    Poller(rt).poll(channel_id)  # a fresh poll from the stored (empty) cursor
    Pipeline(rt).drain()
    assert [x.text for x in _messages(rt)] == ["first", "second"]
    assert h.net.seen_at == h.net.posts[last].indexed_at
    assert h.net.count("app.bsky.notification.updateSeen") == 1
    assert all(h.net._notification_view(n)["isRead"] for n in h.net.notifications)  # as the apps show it

    Poller(rt).poll(channel_id)
    Pipeline(rt).drain()
    assert len(_messages(rt)) == 2
    assert h.net.count("app.bsky.notification.updateSeen") == 1  # nothing new to mark


def _crash_mid_send(rt: Runtime) -> OutboundReply:
    """The sender claims a reply and publishes it, then dies before writing the outcome back."""
    sender = Sender(rt)
    (claimed,) = sender._claim()
    with rt.db.read() as s:
        channel = s.get(m.Channel, claimed.channel_id)
        assert channel is not None
    from caredesk.workers.sender import connector_for

    connector_for(rt, channel).send(claimed.request)
    with rt.db.write() as s:  # the lease runs out
        s.execute(sa.update(m.Outbox).values(claimed_until=datetime.now(UTC) - timedelta(seconds=1)))
    return claimed.request


@pytest.mark.parametrize("public", [True, False])
def test_find_published_prevents_a_duplicate_after_an_in_doubt_send(
    rt: Runtime, h: BlueskyHarness, public: bool
) -> None:
    channel_id, agent = _channel(rt, h)
    # Decoys: the brand said the same words before, elsewhere (public) or earlier in the same chat (DM).
    if public:
        h.net.post(h.brand, "Thanks!", reply_to=h.anchor)
    else:
        opened = h.net.dm("dora", "hi")
        h.net._add_message(h.net.convos[opened["convoId"]], h.brand, "Thanks!")
    answered = h.inject("Thanks!", author="dora", public=public)
    Poller(rt).poll(channel_id)
    Pipeline(rt).drain()
    inbound = next(x for x in _messages(rt) if x.external_id == answered)
    conv_actions.reply(rt, agent, inbound.conversation_id, "Thanks!", public=public)
    request = _crash_mid_send(rt)
    assert request.in_reply_to == answered
    kind = "post" if public else "dm"
    assert len([p for p in h.net.published if p["kind"] == kind]) == 1

    assert Sender(rt).run_once() == 1  # in doubt: find_published finds the copy, nothing is sent again
    published = [p for p in h.net.published if p["kind"] == kind]
    assert len(published) == 1
    with rt.db.read() as s:
        box = s.scalar(sa.select(m.Outbox))
        out = s.scalar(sa.select(m.Message).where(m.Message.client_ref.is_not(None)))
    assert box is not None and box.status == "sent"
    assert out is not None and out.external_id == (published[0]["uri"] if public else published[0]["id"])
    assert len(_messages(rt)) == (2 if public else 4)  # no decoy was taken for our reply and deleted


def test_in_doubt_send_that_never_reached_bluesky_is_sent_once(rt: Runtime, h: BlueskyHarness) -> None:
    channel_id, agent = _channel(rt, h)
    h.inject("hello?", author="eli")
    Poller(rt).poll(channel_id)
    Pipeline(rt).drain()
    (inbound,) = _messages(rt)
    conv_actions.reply(rt, agent, inbound.conversation_id, "Hi Eli", public=True)
    Sender(rt)._claim()  # claimed, then the process died before calling Bluesky
    with rt.db.write() as s:
        s.execute(sa.update(m.Outbox).values(claimed_until=datetime.now(UTC) - timedelta(seconds=1)))
    assert Sender(rt).run_once() == 1
    assert [p["record"]["text"] for p in h.net.published] == ["Hi Eli"]


@pytest.mark.parametrize("public", [True, False])
def test_echo_of_own_reply_is_fetched_and_recognised(rt: Runtime, h: BlueskyHarness, public: bool) -> None:
    channel_id, agent = _channel(rt, h)
    h.inject("hello brand", author="fay", public=public)
    Poller(rt).poll(channel_id)
    Pipeline(rt).drain()
    (inbound,) = _messages(rt)
    conv_actions.reply(rt, agent, inbound.conversation_id, "Hello Fay", public=public)
    Sender(rt).run_once()
    (sent,) = h.published()
    with rt.db.read() as s:
        channel = s.get(m.Channel, channel_id)
        assert channel is not None
    from caredesk.workers.sender import connector_for

    # The network shows the brand's post in its author feed, and its DM in its chat log.
    (echo,) = connector_for(rt, channel).fetch(dict(channel.cursor or {})).events
    assert echo.external_id == sent.id and echo.direction == Direction.OUT and echo.public == public
    Poller(rt).poll(channel_id)
    Pipeline(rt).drain()
    messages = _messages(rt)
    assert [(x.direction, x.text) for x in messages] == [("in", "hello brand"), ("out", "Hello Fay")]
    assert messages[1].external_id == sent.id


def test_fake_admin_endpoints_drive_the_network(h: BlueskyHarness, http: httpx.Client) -> None:
    base = h.server.url
    made = http.post(f"{base}/_fake/accounts", json={"handle": "olga", "allow_incoming": "none"}).json()
    assert made["handle"] == "olga.bsky.social" and made["did"].startswith("did:plc:")
    text = f"@{h.net.brand.handle} my eSIM never activated"
    post = http.post(f"{base}/_fake/posts", json={"author": "olga", "text": text}).json()
    dm = http.post(f"{base}/_fake/dms", json={"author": "piet", "text": "private question"}).json()
    assert http.post(f"{base}/_fake/fail", json={"statuses": [500], "methods": FETCH}).status_code == 200
    bsky = connector(h, http)
    with pytest.raises(ConnectorError) as caught:
        bsky.fetch({})
    assert caught.value.retryable and "HTTP 500" in caught.value.message
    events = bsky.fetch({}).events
    assert {(e.external_id, e.public) for e in events} == {(post["uri"], True), (dm["id"], False)}
    mention = next(e for e in events if e.public)
    assert mention.raw["reason"] == "mention" and mention.author.id == made["did"]
    bsky.send(reply("We are on it", in_reply_to=post["uri"]))
    (published,) = http.get(f"{base}/_fake/published").json()
    assert published["record"]["text"] == "We are on it"
    state = http.get(f"{base}/_fake/state").json()
    assert state["calls"]["com.atproto.repo.createRecord"] == 1 and state["published"] == 1
    assert http.post(f"{base}/_fake/settings", json={"reset_style": "delta"}).status_code == 200
    assert h.net.reset_style == "delta"
    page = http.get(f"{base}/").text
    assert "We are on it" in page
