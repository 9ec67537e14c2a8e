"""Facebook Page specifics: windows, private replies, signatures, the hub handshake, echoes, feed polling,
Graph error mapping, and one test per recorded payload in fixtures/."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from caredesk.actions import conversations as conv_actions
from caredesk.connectors.base import ChannelContext
from caredesk.connectors.facebook import graph
from caredesk.connectors.facebook.connector import FacebookConnector
from caredesk.domain.clock import FrozenClock
from caredesk.domain.errors import ConnectorError, Forbidden, InvalidInput, NotConfigured, SignatureError
from caredesk.domain.types import Direction, OutboundReply, ReplyContext
from caredesk.fakes.meta import FakeMetaGraph
from caredesk.pipeline.runner import Pipeline
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from tests.connectors.contract import Env
from tests.connectors.facebook.harness import (
    APP_SECRET,
    PAGE_ID,
    TOKEN,
    VERIFY_TOKEN,
    FacebookHarness,
    caredesk_env,
)

FIXTURES = Path(__file__).parent / "fixtures"
PSID = "6100000000000042"
VECTOR_BODY = b'{"object":"page","entry":[]}'
VECTOR_SIGNATURE = "sha256=0e9e0080a310f376450c46d999aa4d49ed772bfe43c13205f38a3a6e6611ed2b"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def signed(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Hub-Signature-256": graph.sign(secret, body)}


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def make_connector(
    *,
    graph_url: str = "http://graph.invalid",
    http: httpx.Client | None = None,
    clock: FrozenClock | None = None,
    config: dict[str, Any] | None = None,
    credentials: dict[str, Any] | None = None,
) -> FacebookConnector:
    context = ChannelContext(
        id=1,
        own_account_id=PAGE_ID,
        config=config
        if config is not None
        else {"graph_url": graph_url, "page_id": PAGE_ID, "verify_token": VERIFY_TOKEN},
        credentials=credentials
        if credentials is not None
        else {"page_access_token": TOKEN, "app_secret": APP_SECRET},
    )
    return FacebookConnector(
        context, http=http or httpx.Client(timeout=5), clock=clock or FrozenClock(datetime.now(UTC))
    )


def parse(name_or_body: str | bytes) -> list[Any]:
    body = fixture(name_or_body) if isinstance(name_or_body, str) else name_or_body
    return make_connector().parse_webhook(lower(signed(body)), body).events


def reply(text: str = "Thanks", **kwargs: Any) -> OutboundReply:
    values: dict[str, Any] = {
        "idempotency_key": "k" * 32,
        "text": text,
        "public": False,
        "in_reply_to": None,
        "thread": PSID,
        "recipient": PSID,
    }
    values.update(kwargs)
    return OutboundReply(**values)


def context(now: datetime, **kwargs: Any) -> ReplyContext:
    values: dict[str, Any] = {
        "now": now,
        "target_public": False,
        "target_created_at": now,
        "last_inbound_at": now,
        "private_replies_to_target": 0,
        "human_agent": False,
    }
    values.update(kwargs)
    return ReplyContext(**values)


# --- caredesk around a running fake ---------------------------------------------------------------------


@pytest.fixture
def harness() -> Iterator[FacebookHarness]:
    h = FacebookHarness(feed_webhooks=True)
    h.start()
    yield h
    h.stop()


@pytest.fixture
def env(rt: Runtime, harness: FacebookHarness) -> Iterator[Env]:
    with caredesk_env(rt, harness) as e:
        yield e


def sync(env: Env, harness: FacebookHarness) -> None:
    harness.deliver()
    Pipeline(env.rt).drain()


def conversation_of(env: Env, text: str) -> int:
    with env.rt.db.read() as s:
        cid = s.scalar(sa.select(m.Message.conversation_id).where(m.Message.text == text))
    assert cid is not None, text
    return int(cid)


def messages(env: Env, direction: str) -> list[m.Message]:
    with env.rt.db.read() as s:
        return list(
            s.scalars(sa.select(m.Message).where(m.Message.direction == direction).order_by(m.Message.id))
        )


def counts(rt: Runtime) -> dict[str, int]:
    with rt.db.read() as s:
        return {
            model.__name__: int(s.scalar(sa.select(sa.func.count()).select_from(model)) or 0)
            for model in (m.SpoolEvent, m.WebhookDelivery, m.Message, m.Conversation, m.Outbox)
        }


def graph_posts(harness: FacebookHarness) -> list[dict[str, Any]]:
    return [r for r in harness.net.requests if r["method"] == "POST"]


def live_connector(harness: FacebookHarness) -> FacebookConnector:
    return make_connector(graph_url=harness.server.url)


# --- (1) Messenger's 24-hour window ---------------------------------------------------------------------


def test_messenger_reply_after_24_hours_needs_the_human_agent_tag(env: Env, harness: FacebookHarness) -> None:
    now = datetime.now(UTC)
    harness.net.add_message(PAGE_ID, PSID, "Where is my refund?", created=now - timedelta(hours=25))
    sync(env, harness)
    conv = conversation_of(env, "Where is my refund?")
    before, network_before = counts(env.rt), len(harness.net.requests)

    with pytest.raises(InvalidInput) as refused:
        conv_actions.reply(env.rt, env.agent, conv, "Sorry for the wait", public=False)
    assert refused.value.message == (
        "outside Messenger's 24-hour window: use a HUMAN_AGENT reply (within 7 days) or ask the customer "
        "to write again"
    )
    assert counts(env.rt) == before  # nothing queued
    assert len(harness.net.requests) == network_before  # refused before the network

    conv_actions.reply(env.rt, env.agent, conv, "Sorry for the wait", public=False, human_agent=True)
    with env.rt.db.read() as s:
        box = s.scalar(sa.select(m.Outbox))
        assert box is not None and box.request["options"] == {"tag": "HUMAN_AGENT"}
    assert env.send() == 1
    (published,) = harness.net.published
    assert published["kind"] == "message" and published["recipient"] == PSID
    assert published["messaging_type"] == "MESSAGE_TAG" and published["tag"] == "HUMAN_AGENT"
    (out,) = messages(env, "out")
    assert out.delivery == "sent" and out.external_id == published["id"]


def test_messenger_reply_after_7_days_is_refused_even_as_human_agent(
    env: Env, harness: FacebookHarness
) -> None:
    harness.net.add_message(PAGE_ID, PSID, "Anyone there?", created=datetime.now(UTC) - timedelta(days=8))
    sync(env, harness)
    conv = conversation_of(env, "Anyone there?")
    with pytest.raises(InvalidInput, match=r"more than 7 days .* not even a HUMAN_AGENT one"):
        conv_actions.reply(env.rt, env.agent, conv, "Late answer", public=False, human_agent=True)
    assert graph_posts(harness) == [] and harness.net.published == []


def test_messenger_reply_within_24_hours_is_a_plain_response(env: Env, harness: FacebookHarness) -> None:
    harness.net.add_message(PAGE_ID, PSID, "Quick question", created=datetime.now(UTC) - timedelta(hours=23))
    sync(env, harness)
    conv_actions.reply(
        env.rt, env.agent, conversation_of(env, "Quick question"), "Quick answer", public=False
    )
    assert env.send() == 1
    (published,) = harness.net.published
    assert published["messaging_type"] == "RESPONSE" and published["tag"] is None


def test_the_fake_enforces_the_window_and_the_error_is_mapped(harness: FacebookHarness) -> None:
    now = datetime.now(UTC)
    harness.net.add_message(PAGE_ID, PSID, "old message", created=now - timedelta(hours=30))
    harness.net.add_message(PAGE_ID, "6100000000000099", "very old", created=now - timedelta(days=9))
    connector = live_connector(harness)
    with pytest.raises(ConnectorError) as untagged:
        connector.send(reply())  # prepare() bypassed: the network itself refuses
    assert untagged.value.message.startswith("outside Messenger's 24-hour window: use a HUMAN_AGENT reply")
    assert not untagged.value.retryable
    with pytest.raises(ConnectorError, match="24-hour window"):
        connector.send(reply(thread="6100000000000099", options={"tag": "HUMAN_AGENT"}))
    assert harness.net.published == []
    sent = connector.send(reply(options={"tag": "HUMAN_AGENT"}))
    assert sent.external_id.startswith("m_") and harness.net.published[0]["tag"] == "HUMAN_AGENT"


# --- (2) one private reply per comment ------------------------------------------------------------------


def test_a_second_private_reply_to_a_comment_is_refused_before_the_network(
    env: Env, harness: FacebookHarness
) -> None:
    comment = harness.inject("Do you ship to Iceland? Please DM me", author="bjork")
    sync(env, harness)
    conv = conversation_of(env, "Do you ship to Iceland? Please DM me")
    conv_actions.reply(env.rt, env.agent, conv, "Yes! Details in your inbox", public=False)
    assert env.send() == 1
    (first,) = harness.net.published
    assert first["kind"] == "private_reply" and first["in_reply_to"] == comment and not first["public"]
    assert first["recipient"]  # the commenter's PSID, as Meta answers it

    received, before = len(harness.net.requests), counts(env.rt)
    with pytest.raises(InvalidInput, match="this comment already had its one private reply"):
        conv_actions.reply(env.rt, env.agent, conv, "One more thing", public=False)
    assert len(harness.net.requests) == received  # the fake received nothing the second time
    assert counts(env.rt) == before
    assert len(harness.net.published) == 1


def test_the_fake_refuses_a_second_private_reply_itself(harness: FacebookHarness) -> None:
    harness.new_post()
    comment = harness.inject("DM me the price", author="ole")
    connector = live_connector(harness)
    request = reply(thread=None, recipient=None, in_reply_to=comment, options={"private_reply_to": comment})
    connector.send(request)
    with pytest.raises(ConnectorError) as second:
        connector.send(request)
    assert second.value.message.startswith("this comment already had its one private reply")
    assert not second.value.retryable
    assert len(harness.net.published) == 1


def test_a_private_reply_to_a_comment_older_than_7_days_is_refused(
    env: Env, harness: FacebookHarness
) -> None:
    post = harness.new_post()
    harness.net.add_comment(
        PAGE_ID,
        post,
        "Old complaint",
        author_id=harness.commenter_id("old"),
        created=datetime.now(UTC) - timedelta(days=8),
    )
    sync(env, harness)
    conv = conversation_of(env, "Old complaint")
    with pytest.raises(InvalidInput, match="more than 7 days old, too old for a private reply"):
        conv_actions.reply(env.rt, env.agent, conv, "Sorry!", public=False)
    conv_actions.reply(env.rt, env.agent, conv, "Sorry, we missed this!", public=True)  # public still works
    assert env.send() == 1


def test_prepare_rules() -> None:
    now = datetime(2026, 11, 25, 12, tzinfo=UTC)
    connector = make_connector()
    public = reply(public=True, in_reply_to="9000001_5000042", thread=None)
    assert connector.prepare(public, context(now, target_public=True)) == public
    with pytest.raises(InvalidInput, match="answers a customer's comment or post"):
        connector.prepare(reply(public=True, in_reply_to=None), context(now))
    private = reply(in_reply_to="9000001_5000042", thread=None)
    prepared = connector.prepare(private, context(now, target_public=True))
    assert prepared.options == {"private_reply_to": "9000001_5000042"}
    assert prepared.text == private.text and private.options == {}  # a new reply, the old one untouched
    with pytest.raises(InvalidInput, match="has not written privately"):
        connector.prepare(reply(thread=None, recipient=None), context(now))
    with pytest.raises(InvalidInput, match="only after they wrote to it"):
        connector.prepare(reply(), context(now, last_inbound_at=None))
    edge = context(now, last_inbound_at=now - timedelta(hours=24))
    assert connector.prepare(reply(), edge).options == {}
    tagged = connector.prepare(
        reply(), context(now, last_inbound_at=now - timedelta(days=7), human_agent=True)
    )
    assert tagged.options == {"tag": "HUMAN_AGENT"}


# --- (3) signatures, unknown objects and replays through /hooks ------------------------------------------


def test_signature_test_vector() -> None:
    assert graph.sign("appsecret", VECTOR_BODY) == VECTOR_SIGNATURE
    graph.verify_signature("appsecret", VECTOR_SIGNATURE, VECTOR_BODY)
    graph.verify_signature("appsecret", VECTOR_SIGNATURE.upper().replace("SHA256", "sha256"), VECTOR_BODY)
    assert FakeMetaGraph.body("page", []) == VECTOR_BODY
    net = FakeMetaGraph()
    net.add_page("1", token="t", app_secret="appsecret")
    assert net.signed("1", VECTOR_BODY)["X-Hub-Signature-256"] == VECTOR_SIGNATURE
    for header in (None, "", "sha1=0e9e", "sha256=", VECTOR_SIGNATURE[:-1] + "0"):
        with pytest.raises(SignatureError):
            graph.verify_signature("appsecret", header, VECTOR_BODY)
    with pytest.raises(SignatureError, match="does not match"):
        graph.verify_signature("appsecret", VECTOR_SIGNATURE, VECTOR_BODY + b" ")


def test_fake_signs_escaped_unicode_as_meta_does(harness: FacebookHarness) -> None:
    harness.net.add_message(PAGE_ID, PSID, "blåbærgrød 😀")
    (entry,) = harness.net.pending_entries(PAGE_ID)
    body = FakeMetaGraph.body("page", [entry])
    assert b"bl\\u00e5b\\u00e6rgr\\u00f8d \\ud83d\\ude00" in body and body.isascii()
    events = make_connector().parse_webhook(lower(harness.net.signed(PAGE_ID, body)), body).events
    assert events[0].text == "blåbærgrød 😀"


def test_hooks_refuse_forged_missing_unknown_and_replayed_bodies(env: Env) -> None:
    body = fixture("feed_comment_add.json")
    start = counts(env.rt)

    def post(content: bytes, headers: dict[str, str]) -> httpx.Response:
        return env.client.post(env.hook_path, content=content, headers=headers)

    missing = post(body, {"Content-Type": "application/json"})
    assert missing.status_code == 401 and "missing X-Hub-Signature-256" in missing.json()["detail"]
    assert post(body, signed(body, secret="not-the-app-secret")).status_code == 401
    assert post(body.replace(b"never", b"always"), signed(body)).status_code == 401  # tampered body
    unknown = b'{"object":"user","entry":[]}'
    response = post(unknown, signed(unknown))
    assert response.status_code == 422 and "'user'" in response.json()["detail"]
    for malformed in (b'{"object":"page","entry":{}}', b"[1, 2]", b"{not json"):
        assert post(malformed, signed(malformed)).status_code == 422
    assert counts(env.rt) == start  # nothing stored by any refused request

    accepted = post(body, signed(body))
    assert accepted.status_code == 200 and accepted.json() == {"status": "EVENT_RECEIVED"}
    after = counts(env.rt)
    assert after["SpoolEvent"] == start["SpoolEvent"] + 1
    replay = post(body, signed(body))
    assert replay.status_code == 409
    assert counts(env.rt) == after


def test_missing_app_secret_is_a_configuration_error() -> None:
    connector = make_connector(credentials={"page_access_token": TOKEN})
    with pytest.raises(NotConfigured, match="app_secret"):
        connector.parse_webhook(lower(signed(VECTOR_BODY)), VECTOR_BODY)


# --- (4) the hub.challenge handshake --------------------------------------------------------------------


def test_hub_challenge_handshake(env: Env, harness: FacebookHarness) -> None:
    good = harness.net.handshake(PAGE_ID, http=env.client)
    assert good.ok and good.status == 200 and good.body == good.challenge
    bad = harness.net.handshake(PAGE_ID, http=env.client, verify_token="guessed")
    assert not bad.ok and bad.status == 403 and bad.challenge not in bad.body
    raw = env.client.get(
        env.hook_path,
        params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"},
    )
    assert raw.text == "1158201444" and raw.headers["content-type"].startswith("text/plain")
    wrong_mode = env.client.get(
        env.hook_path,
        params={"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
    )
    assert wrong_mode.status_code == 403


def test_challenge_without_a_configured_verify_token() -> None:
    connector = make_connector(config={"page_id": PAGE_ID})
    with pytest.raises(NotConfigured, match="verify_token"):
        connector.challenge({"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"})
    with pytest.raises(Forbidden):
        make_connector().challenge({"hub.mode": "subscribe", "hub.challenge": "1"})


# --- (5) echoes -----------------------------------------------------------------------------------------


def test_messenger_echo_is_not_ingested_as_a_customer_message(env: Env, harness: FacebookHarness) -> None:
    harness.net.subscribe(PAGE_ID, {"feed", "messages", "message_echoes"})
    harness.inject("Can I change my delivery address?", author="ines", public=False)
    sync(env, harness)
    conv = conversation_of(env, "Can I change my delivery address?")
    conv_actions.reply(env.rt, env.agent, conv, "Yes, send us the new one", public=False)
    assert env.send() == 1
    (entry,) = harness.net.pending_entries(PAGE_ID)  # Meta's echo of our message
    echo = entry["messaging"][0]["message"]
    assert echo["is_echo"] is True and echo["metadata"].startswith("caredesk:")
    sync(env, harness)
    assert [x.text for x in messages(env, "in")] == ["Can I change my delivery address?"]
    (out,) = messages(env, "out")
    assert out.external_id == harness.net.published[0]["id"]

    # A message the Page wrote in Meta Business Suite comes back as an echo too: the brand's, not the
    # customer's, and in the customer's conversation.
    psid = harness.customer_id("ines")
    body = FakeMetaGraph.body(
        "page",
        [
            {
                "id": PAGE_ID,
                "time": 1,
                "messaging": [
                    {
                        "sender": {"id": PAGE_ID},
                        "recipient": {"id": psid},
                        "timestamp": int(datetime.now(UTC).timestamp() * 1000),
                        "message": {"mid": "m_from_business_suite", "is_echo": True, "text": "Also: 10% off"},
                    }
                ],
            }
        ],
    )
    assert env.client.post(env.hook_path, content=body, headers=signed(body)).status_code == 200
    Pipeline(env.rt).drain()
    assert [x.text for x in messages(env, "in")] == ["Can I change my delivery address?"]
    outs = messages(env, "out")
    assert [o.text for o in outs] == ["Yes, send us the new one", "Also: 10% off"]
    assert {o.conversation_id for o in outs} == {conv}


def test_echo_fixture_is_outbound_with_our_reference() -> None:
    (event,) = parse("messenger_echo.json")
    assert event.direction == Direction.OUT and event.author.id == PAGE_ID
    assert event.recipient is not None and event.recipient.id == PSID and event.thread == PSID
    assert event.client_ref == "0123456789abcdef0123456789abcdef"
    assert event.external_id == "m_AbCdEfGhIjKlMnOpQrStUv-echo-1" and not event.public


# --- (6) feed polling: paging and resume ------------------------------------------------------------------


@pytest.fixture
def poll_harness() -> Iterator[FacebookHarness]:
    h = FacebookHarness(feed_webhooks=False, max_page_size=2)
    h.start()
    yield h
    h.stop()


def test_feed_polling_pages_resumes_and_skips_what_it_saw(rt: Runtime, poll_harness: FacebookHarness) -> None:
    h = poll_harness
    now = datetime.now(UTC)
    expected = []
    for p in range(5):
        post = h.new_post(f"post {p}", created=now - timedelta(hours=10 - p))
        first = None
        for c in range(3):
            text = f"post {p} comment {c}"
            cid = h.net.add_comment(
                PAGE_ID, post, text, author_id=h.commenter_id(f"u{c}"), created=now - timedelta(hours=9 - p)
            )
            first = first or cid
            expected.append(text)
        h.net.add_comment(PAGE_ID, post, f"post {p} reply", author_id="3000000000999", parent_id=first)
        expected.append(f"post {p} reply")
    with caredesk_env(rt, h) as env:
        env.poll()
        Pipeline(rt).drain()
        assert sorted(x.text for x in messages(env, "in")) == sorted(expected)
        feed_reads = [r for r in h.net.requests if r["path"].endswith("/feed")]
        assert len(feed_reads) == 3  # 5 posts, 2 a page: one page per fetch until no `next`
        assert any(r["path"].endswith("/comments") for r in h.net.requests)  # 4 comments a post, 2 a page
        with rt.db.read() as s:
            channel = s.get(m.Channel, env.channel_id)
            assert channel is not None
            cursor = dict(channel.cursor)
        assert "walk" not in cursor and isinstance(cursor["since"], int)
        # threading: a reply joins its parent's conversation
        assert conversation_of(env, "post 2 reply") == conversation_of(env, "post 2 comment 0")

        # New activity: a comment on an older post, a visitor's post, and the Page's own reply.
        h.net.add_comment(PAGE_ID, f"{h.post_id}", "late comment on the last post", author_id="3000000000777")
        old_post = next(p.id for p in h.net.posts.values() if p.text == "post 0")
        h.net.add_comment(PAGE_ID, old_post, "late comment on post 0", author_id="3000000000778")
        h.net.add_post(PAGE_ID, "Visitor asks: open on Sunday?", author_id="3000000000779", author_name="Vi")
        env.poll()
        Pipeline(rt).drain()
        new = sorted(x.text for x in messages(env, "in"))
        assert len(new) == len(expected) + 3 and len(set(new)) == len(new)
        assert "Visitor asks: open on Sunday?" in new and "late comment on post 0" in new


def test_feed_walk_interrupted_mid_way_resumes_from_its_cursor(poll_harness: FacebookHarness) -> None:
    h = poll_harness
    now = datetime.now(UTC)
    for p in range(5):
        post = h.new_post(f"p{p}", created=now - timedelta(hours=5 - p))
        h.net.add_comment(
            PAGE_ID, post, f"c{p}", author_id="3000000000001", created=now - timedelta(hours=4 - p)
        )
    first = live_connector(h).fetch({})
    assert first.more and first.cursor["walk"]["after"]
    cursor = json.loads(json.dumps(first.cursor))  # as stored
    seen = [e.external_id for e in first.events]
    result = first
    while result.more:  # "after a restart": a new connector instance, from the stored cursor only
        result = live_connector(h).fetch(cursor)
        seen.extend(e.external_id for e in result.events)
        cursor = json.loads(json.dumps(result.cursor))
    assert sorted(seen) == sorted(c.id for c in h.net.comments.values())
    assert len(seen) == len(set(seen))
    again = live_connector(h).fetch(cursor)
    while again.more:
        again = live_connector(h).fetch(again.cursor)
    assert again.events == []  # nothing new: the overlap re-read is filtered by the cursor's seen ids


def test_polling_does_not_reach_comments_on_posts_older_than_its_lookback(
    poll_harness: FacebookHarness,
) -> None:
    """Documented limit: comments on posts older than 7 days before the watermark come only by webhook."""
    h = poll_harness
    now = datetime.now(UTC)
    old = h.new_post("old post", created=now - timedelta(days=20))
    fresh = h.new_post("fresh post", created=now - timedelta(hours=1))
    h.net.add_comment(PAGE_ID, fresh, "on the fresh post", author_id="3000000000001")
    result = live_connector(h).fetch({})
    h.net.add_comment(PAGE_ID, old, "on the old post", author_id="3000000000002")
    later = live_connector(h).fetch(result.cursor)
    assert [e.text for e in result.events] == ["on the fresh post"] and later.events == []


def test_feed_page_fixture_is_read_as_graph_returns_it() -> None:
    page = json.loads(fixture("graph_feed_page.json"))
    calls: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json=page)

    clock = FrozenClock(datetime(2026, 11, 20, 12, tzinfo=UTC))
    result = make_connector(http=httpx.Client(transport=httpx.MockTransport(answer)), clock=clock).fetch({})
    assert not result.more  # no `next`: the end, whatever the page's size
    by_id = {e.external_id: e for e in result.events}
    assert set(by_id) == {"104000000000001_9000002", "9000001_5000042", "9000001_5000043", "9000001_5000050"}
    assert by_id["9000001_5000042"].in_reply_to == "104000000000001_9000001"
    assert by_id["9000001_5000043"].in_reply_to == "9000001_5000042"
    assert by_id["9000001_5000050"].direction == Direction.OUT  # the Page's own comment
    assert by_id["104000000000001_9000002"].in_reply_to is None  # a visitor's post
    assert by_id["9000001_5000042"].created_at == datetime(2026, 11, 20, 9, tzinfo=UTC)
    assert result.cursor["since"] == int(datetime(2026, 11, 20, 10, tzinfo=UTC).timestamp())
    (request,) = calls
    assert request.url.path == f"/v25.0/{PAGE_ID}/feed"
    assert request.url.params["fields"].startswith("id,message,created_time,from,comments.filter(stream)")
    assert request.headers["authorization"] == f"Bearer {TOKEN}" and TOKEN not in str(request.url)


# --- recorded webhook payloads ----------------------------------------------------------------------------


def test_fixture_comment_add() -> None:
    (event,) = parse("feed_comment_add.json")
    assert event.external_id == "9000001_5000042" and event.public and event.direction == Direction.IN
    assert event.in_reply_to == "104000000000001_9000001"
    assert event.author.id == "3000000000042" and event.author.name == "Jane Customer"
    assert event.text == "My order #4521 never arrived — can you check? 😞"
    assert event.created_at == datetime(2026, 11, 25, 9, 20, tzinfo=UTC)


def test_fixture_reply_to_a_comment() -> None:
    (event,) = parse("feed_comment_reply_add.json")
    assert event.in_reply_to == "9000001_5000042" and event.author.id == "3000000000043"


def test_fixture_comment_edited_keeps_the_id_and_is_not_reingested(env: Env) -> None:
    (event,) = parse("feed_comment_edited.json")
    assert event.external_id == "9000001_5000042" and "please" in event.text
    for name in ("feed_comment_add.json", "feed_comment_edited.json"):
        body = fixture(name)
        assert env.client.post(env.hook_path, content=body, headers=signed(body)).status_code == 200
    Pipeline(env.rt).drain()
    (stored,) = messages(env, "in")  # the core dedupes on the external id: the edit is not re-ingested
    assert stored.text.startswith("My order #4521 never arrived —")


def test_fixture_removed_comment_and_reaction_are_ignored() -> None:
    assert parse("feed_comment_remove.json") == []
    assert parse("feed_reaction.json") == []


def test_fixture_page_comment_is_outbound_and_page_post_is_skipped() -> None:
    (event,) = parse("feed_comment_by_page.json")
    assert event.direction == Direction.OUT and event.author.id == PAGE_ID
    assert event.in_reply_to == "9000001_5000042"
    assert parse("feed_page_post.json") == []


def test_fixture_visitor_post() -> None:
    (event,) = parse("feed_visitor_post.json")
    assert event.external_id == "104000000000001_9000002" and event.in_reply_to is None
    assert event.text == "Is the Copenhagen store open on Sunday?"


def test_fixture_messenger_message() -> None:
    (event,) = parse("messenger_message.json")
    assert event.external_id == "m_AbCdEfGhIjKlMnOpQrStUv-message-1" and not event.public
    assert event.author.id == PSID and event.thread == PSID and event.direction == Direction.IN
    assert event.in_reply_to == "m_AbCdEfGhIjKlMnOpQrStUv-page-earlier"
    assert event.text == "Hej! Min pakke er ikke kommet æøå"
    assert event.created_at == datetime.fromtimestamp(1795600000.123, tz=UTC)
    assert event.raw["message"]["mid"] == event.external_id


def test_fixture_messenger_attachments_are_noted() -> None:
    (event,) = parse("messenger_attachments.json")
    assert event.text.splitlines() == [
        "This is what arrived",
        "[image: https://scontent.xx.fbcdn.net/v/t1.15752-9/broken-parcel.jpg]",
        "[file: https://cdn.fbsbx.com/v/t59.2708-21/receipt.pdf]",
    ]
    assert event.raw["message"]["attachments"][0]["type"] == "image"


def test_fixture_deliveries_and_reads_are_not_messages() -> None:
    assert parse("messenger_delivery_read.json") == []


def test_entries_for_another_page_are_ignored() -> None:
    body = fixture("messenger_message.json").replace(PAGE_ID.encode(), b"104000000000999")
    assert parse(body) == []


# --- Graph errors -----------------------------------------------------------------------------------------


def answering(status: int, payload: bytes | str, headers: dict[str, str] | None = None) -> httpx.Client:
    def answer(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            status, content=payload, headers={"Content-Type": "application/json", **(headers or {})}
        )

    return httpx.Client(transport=httpx.MockTransport(answer))


def send_error(client: httpx.Client) -> ConnectorError:
    with pytest.raises(ConnectorError) as caught:
        make_connector(http=client).send(reply())
    return caught.value


def test_graph_errors_are_classified() -> None:
    window = send_error(answering(400, fixture("graph_error_window.json")))
    assert window.message.startswith("outside Messenger's 24-hour window") and not window.retryable

    usage = {PAGE_ID: [{"type": "messenger", "call_count": 100, "estimated_time_to_regain_access": 7}]}
    limited = send_error(
        answering(
            400, fixture("graph_error_rate_limit.json"), {"X-Business-Use-Case-Usage": json.dumps(usage)}
        )
    )
    assert limited.retryable and limited.retry_after == 420 and "rate limit" in limited.message
    no_header = send_error(answering(400, fixture("graph_error_rate_limit.json")))
    assert no_header.retryable and no_header.retry_after is None

    unavailable = send_error(answering(400, fixture("graph_error_unavailable.json")))
    assert "isn't available" in unavailable.message and not unavailable.retryable

    token = send_error(answering(400, fixture("graph_error_token.json")))
    assert "Page access token was refused" in token.message and not token.retryable
    assert TOKEN not in token.message and APP_SECRET not in token.message

    failing = send_error(answering(500, b'{"error":{"message":"boom","type":"OAuthException","code":1}}'))
    assert failing.retryable
    assert send_error(answering(502, "<html>bad gateway</html>")).retryable
    transient = send_error(answering(400, b'{"error":{"message":"x","code":99,"is_transient":true}}'))
    assert transient.retryable
    other = send_error(answering(400, b'{"error":{"message":"(#100) Invalid parameter","code":100}}'))
    assert not other.retryable and "Invalid parameter" in other.message


def test_timeouts_and_unreachable_networks_are_retryable() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    timed_out = send_error(httpx.Client(transport=httpx.MockTransport(hang)))
    assert timed_out.retryable and "timed out" in timed_out.message
    unreachable = send_error(httpx.Client(transport=httpx.MockTransport(refuse)))
    assert unreachable.retryable and "ConnectError" in unreachable.message


def test_fake_injected_failures_map_to_retryable_errors(harness: FacebookHarness) -> None:
    harness.net.add_message(PAGE_ID, PSID, "hello")
    connector = live_connector(harness)
    harness.net.fail_next(429, 500, on="write")
    with pytest.raises(ConnectorError) as limited:
        connector.send(reply())
    assert limited.value.retryable and limited.value.retry_after == 60
    with pytest.raises(ConnectorError) as failing:
        connector.send(reply())
    assert failing.value.retryable
    harness.net.fail_with(
        {"message": "(#551) This person isn't available right now.", "code": 551}, on="write"
    )
    with pytest.raises(ConnectorError, match="isn't available"):
        connector.send(reply())
    assert harness.net.published == []
    assert connector.send(reply()).external_id == harness.net.published[0]["id"]


# --- verify, settings, find_published -----------------------------------------------------------------------


def test_verify(harness: FacebookHarness) -> None:
    live_connector(harness).verify()
    other = make_connector(
        config={"graph_url": harness.server.url, "page_id": "104000000000999"},
    )
    with pytest.raises(ConnectorError, match="refused"):
        other.verify()
    bad_token = make_connector(
        config={"graph_url": harness.server.url, "page_id": PAGE_ID},
        credentials={"page_access_token": "EAAGexpiredTokenValue", "app_secret": APP_SECRET},
    )
    with pytest.raises(ConnectorError, match="Page access token was refused") as caught:
        bad_token.verify()
    assert "EAAGexpiredTokenValue" not in caught.value.message


def test_settings_defaults_and_missing_values() -> None:
    settings = graph.GraphSettings.of(
        ChannelContext(1, "42", {}, {"page_access_token": "t"}), "Facebook", page_id_fallback="42"
    )
    assert settings.base_url == "https://graph.facebook.com/v25.0" and settings.page_id == "42"
    with pytest.raises(NotConfigured, match="page_access_token"):
        make_connector(credentials={"app_secret": "x"}).verify()
    with pytest.raises(NotConfigured, match="page_id"):
        graph.GraphSettings.of(
            ChannelContext(1, None, {}, {"page_access_token": "t"}), "Facebook", page_id_fallback=None
        )


def test_find_published_finds_replies_and_only_ours(harness: FacebookHarness) -> None:
    connector = live_connector(harness)
    harness.new_post()
    top = harness.inject("Where is my order?", author="al")
    nested = harness.inject("Same question", author="bo", reply_to=top)
    harness.net.add_message(PAGE_ID, PSID, "hi")

    public = reply("We are checking", public=True, in_reply_to=top, thread=None)
    assert connector.find_published(public) is None
    sent = connector.send(public)
    assert connector.find_published(public) == sent.__class__(
        external_id=sent.external_id, raw={"found": True}
    )
    assert connector.find_published(reply("Other text", public=True, in_reply_to=top, thread=None)) is None

    under_reply = reply("Checking yours too", public=True, in_reply_to=nested, thread=None)
    sent_nested = connector.send(under_reply)  # lands under the top-level comment
    found_nested = connector.find_published(under_reply)
    assert found_nested is not None and found_nested.external_id == sent_nested.external_id

    dm = reply("Here is your tracking link")
    assert connector.find_published(dm) is None
    sent_dm = connector.send(dm)
    found_dm = connector.find_published(dm)
    assert found_dm is not None and found_dm.external_id == sent_dm.external_id

    private = reply(
        "Sent privately", thread=None, recipient=None, in_reply_to=top, options={"private_reply_to": top}
    )
    assert connector.find_published(private) is None
    sent_private = connector.send(private)
    found_private = connector.find_published(private)
    assert found_private is not None and found_private.external_id == sent_private.external_id


def test_an_in_doubt_send_is_looked_up_not_repeated(env: Env, harness: FacebookHarness) -> None:
    harness.inject("Is the blue one back in stock?", author="cy")
    sync(env, harness)
    conv = conversation_of(env, "Is the blue one back in stock?")
    conv_actions.reply(env.rt, env.agent, conv, "Yes, since this morning", public=True)
    with env.rt.db.write() as s:
        box = s.scalar(sa.select(m.Outbox))
        assert box is not None
        request = OutboundReply(**box.request)
        # The process died after the network published it, before the write-back.
        box.status, box.attempts = "sending", 1
        box.claimed_until = datetime.now(UTC) - timedelta(seconds=1)
    published = live_connector(harness).send(request)
    assert env.send() == 1
    assert len(harness.net.published) == 1
    (out,) = messages(env, "out")
    assert out.external_id == published.external_id and out.delivery == "sent"


def test_a_feed_cursor_graph_no_longer_accepts_restarts_the_walk(poll_harness: FacebookHarness) -> None:
    h = poll_harness
    post = h.new_post("post", created=datetime.now(UTC) - timedelta(hours=2))
    h.net.add_comment(PAGE_ID, post, "still found", author_id="3000000000001")
    since = int((datetime.now(UTC) - timedelta(days=1)).timestamp())
    stale = {"since": since, "seen": {}, "walk": {"after": "bm90LWEtY3Vyc29y", "since": since, "newest": 0}}
    result = live_connector(h).fetch(stale)
    assert [e.text for e in result.events] == ["still found"] and not result.more


# --- the fake's admin HTTP API, end to end over sockets ---------------------------------------------


def test_fake_admin_http_api_drives_caredesk_over_http(rt: Runtime) -> None:
    from caredesk.api.app import create_app
    from caredesk.fakes.webhook_network import ServerThread

    net = FakeMetaGraph()
    fake = ServerThread(net.app).start()
    admin = httpx.Client(base_url=fake.url, timeout=10)
    page = {"page_id": PAGE_ID, "token": TOKEN, "app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN}
    assert admin.post("/_fake/pages", json=page).status_code == 201
    h = FacebookHarness()
    h.net, h.server = net, fake  # point the channel at this fake
    try:
        with caredesk_env(rt, h) as env:
            desk = ServerThread(create_app(rt)).start()
            try:
                hook = {"object": "page", "url": f"{desk.url}{env.hook_path}"}
                assert admin.post(f"/_fake/pages/{PAGE_ID}/hooks", json=hook).status_code == 200
                handshake = admin.post(f"/_fake/pages/{PAGE_ID}/handshake").json()
                assert handshake["ok"] is True and handshake["status"] == 200
                bad = admin.post(f"/_fake/pages/{PAGE_ID}/handshake", params={"verify_token": "x"}).json()
                assert bad["ok"] is False and bad["status"] == 403
                post_id = admin.post(f"/_fake/pages/{PAGE_ID}/posts", json={"text": "New in"}).json()["id"]
                comment = {"post_id": post_id, "text": "Is it waterproof?", "author_id": "3000000000321"}
                comment_id = admin.post(f"/_fake/pages/{PAGE_ID}/comments", json=comment).json()["id"]
                assert admin.post(f"/_fake/pages/{PAGE_ID}/push").json() == {"deliveries": [200]}
                Pipeline(rt).drain()
                conv = conversation_of(env, "Is it waterproof?")
                admin.post("/_fake/fail", json={"statuses": [500], "on": "write"})
                conv_actions.reply(rt, env.agent, conv, "Yes, fully", public=True)
                env.send()
                (published,) = admin.get("/_fake/published", params={"page_id": PAGE_ID}).json()
                assert published["in_reply_to"] == comment_id and published["text"] == "Yes, fully"
                with rt.db.read() as s:
                    box = s.scalar(sa.select(m.Outbox))
                    assert box is not None and box.attempts == 2 and box.status == "sent"
            finally:
                desk.stop()
    finally:
        admin.close()
        fake.stop()


def test_private_reply_to_a_visitor_post_uses_post_id(env: Env, harness: FacebookHarness) -> None:
    post = harness.net.add_post(PAGE_ID, "Can someone call me about my invoice?", author_id="3000000000555")
    sync(env, harness)
    conv = conversation_of(env, "Can someone call me about my invoice?")
    conv_actions.reply(env.rt, env.agent, conv, "We will message you privately", public=False)
    assert env.send() == 1
    (published,) = harness.net.published
    assert published["kind"] == "private_reply" and published["in_reply_to"] == post
    (sent,) = [r for r in graph_posts(harness) if r["path"].endswith("/messages")]
    assert sent["params"]["recipient"] == {"post_id": post}


def test_the_pages_own_top_level_comment_is_not_a_conversation() -> None:
    body = fixture("feed_comment_by_page.json").replace(
        b'"parent_id":"9000001_5000042"', b'"parent_id":"104000000000001_9000001"'
    )
    assert b"104000000000001_9000001" in body and parse(body) == []
