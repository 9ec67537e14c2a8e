"""Instagram specifics: comment replies, DMs (own messages recognised by sender), one private reply per
comment, the 24-hour window, signatures and the handshake, and one test per recorded payload."""

from __future__ import annotations

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
from caredesk.connectors.instagram.connector import InstagramConnector
from caredesk.domain.clock import FrozenClock
from caredesk.domain.errors import ConnectorError, InvalidInput, NotConfigured
from caredesk.domain.types import Capability, Direction, OutboundReply
from caredesk.fakes.meta import FakeMetaGraph
from caredesk.pipeline.runner import Pipeline
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from tests.connectors.contract import Env
from tests.connectors.facebook.harness import caredesk_env
from tests.connectors.instagram.harness import (
    APP_SECRET,
    IG_ID,
    PAGE_ID,
    TOKEN,
    VERIFY_TOKEN,
    InstagramHarness,
)

FIXTURES = Path(__file__).parent / "fixtures"
IGSID = "5300000000000042"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def signed(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Hub-Signature-256": graph.sign(secret, body)}


def make_connector(*, graph_url: str = "http://graph.invalid", own: str | None = IG_ID) -> InstagramConnector:
    context = ChannelContext(
        id=1,
        own_account_id=own,
        config={"graph_url": graph_url, "page_id": PAGE_ID, "verify_token": VERIFY_TOKEN},
        credentials={"page_access_token": TOKEN, "app_secret": APP_SECRET},
    )
    return InstagramConnector(context, http=httpx.Client(timeout=5), clock=FrozenClock(datetime.now(UTC)))


def parse(name: str) -> list[Any]:
    body = fixture(name)
    headers = {k.lower(): v for k, v in signed(body).items()}
    return make_connector().parse_webhook(headers, body).events


def reply(text: str = "Thanks", **kwargs: Any) -> OutboundReply:
    values: dict[str, Any] = {
        "idempotency_key": "i" * 32,
        "text": text,
        "public": False,
        "in_reply_to": None,
        "thread": IGSID,
        "recipient": IGSID,
    }
    values.update(kwargs)
    return OutboundReply(**values)


@pytest.fixture
def harness() -> Iterator[InstagramHarness]:
    h = InstagramHarness()
    h.start()
    yield h
    h.stop()


@pytest.fixture
def env(rt: Runtime, harness: InstagramHarness) -> Iterator[Env]:
    with caredesk_env(rt, harness) as e:
        yield e


def sync(env: Env, harness: InstagramHarness) -> None:
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


def live_connector(harness: InstagramHarness) -> InstagramConnector:
    return make_connector(graph_url=harness.server.url)


def test_instagram_is_webhook_only() -> None:
    spec = InstagramConnector.spec
    assert Capability.WEBHOOK in spec.capabilities and Capability.POLL not in spec.capabilities
    assert spec.network == "instagram" and not spec.idempotent_send
    assert spec.length_rule.public == "instagram" and spec.length_rule.private == "instagram"


# --- comments ----------------------------------------------------------------------------------------------


def test_comment_reply_is_published_under_the_comment_and_its_echo_is_ours(
    env: Env, harness: InstagramHarness
) -> None:
    comment = harness.inject("Wrong size delivered, who can help?", author="jane.k")
    sync(env, harness)
    conv = conversation_of(env, "Wrong size delivered, who can help?")
    conv_actions.reply(env.rt, env.agent, conv, "So sorry! We will swap it", public=True)
    assert env.send() == 1
    (published,) = harness.net.published
    assert published["kind"] == "ig_reply" and published["in_reply_to"] == comment and published["public"]
    assert harness.net.comments[published["id"]].parent_id == comment
    sync(env, harness)  # Meta posts our own reply back on the `comments` field
    assert [x.text for x in messages(env, "in")] == ["Wrong size delivered, who can help?"]
    (out,) = messages(env, "out")
    assert out.external_id == published["id"] and out.conversation_id == conv


def test_replies_to_a_reply_thread_under_the_top_comment(env: Env, harness: InstagramHarness) -> None:
    top = harness.inject("Is this vegan leather?", author="ana")
    harness.inject("@ana I think so", author="ben", reply_to=top)
    sync(env, harness)
    assert conversation_of(env, "@ana I think so") == conversation_of(env, "Is this vegan leather?")


# --- DMs ---------------------------------------------------------------------------------------------------


def test_dm_reply_and_own_messages_recognised_by_sender(env: Env, harness: InstagramHarness) -> None:
    harness.inject("My parcel is damaged", author="kim", public=False)
    sync(env, harness)
    conv = conversation_of(env, "My parcel is damaged")
    conv_actions.reply(env.rt, env.agent, conv, "Please send a photo", public=False)
    assert env.send() == 1
    (published,) = harness.net.published
    assert published["kind"] == "message" and published["recipient"] == harness.customer_id("kim")
    assert published["tag"] is None
    (entry,) = harness.net.pending_entries(PAGE_ID, "instagram")  # own sends arrive on `messages`
    own = entry["messaging"][0]
    assert own["sender"]["id"] == IG_ID and "is_echo" not in own["message"]
    sync(env, harness)
    assert [x.text for x in messages(env, "in")] == ["My parcel is damaged"]
    (out,) = messages(env, "out")
    assert out.external_id == published["id"]


def test_dm_after_24_hours_needs_human_agent(env: Env, harness: InstagramHarness) -> None:
    harness.net.add_message(
        PAGE_ID, IGSID, "hello?", platform="instagram", created=datetime.now(UTC) - timedelta(hours=26)
    )
    sync(env, harness)
    conv = conversation_of(env, "hello?")
    received = len(harness.net.requests)
    with pytest.raises(InvalidInput, match="outside Instagram's 24-hour window: use a HUMAN_AGENT reply"):
        conv_actions.reply(env.rt, env.agent, conv, "Sorry!", public=False)
    assert len(harness.net.requests) == received
    conv_actions.reply(env.rt, env.agent, conv, "Sorry!", public=False, human_agent=True)
    assert env.send() == 1
    (published,) = harness.net.published
    assert published["messaging_type"] == "MESSAGE_TAG" and published["tag"] == "HUMAN_AGENT"


def test_the_fake_refuses_an_untagged_dm_outside_the_window(harness: InstagramHarness) -> None:
    harness.net.add_message(
        PAGE_ID, IGSID, "old", platform="instagram", created=datetime.now(UTC) - timedelta(hours=30)
    )
    with pytest.raises(ConnectorError) as caught:
        live_connector(harness).send(reply())
    assert (
        caught.value.message.startswith("outside Instagram's 24-hour window") and not caught.value.retryable
    )


# --- private replies ---------------------------------------------------------------------------------------


def test_private_reply_to_a_comment_once(env: Env, harness: InstagramHarness) -> None:
    comment = harness.inject("Price? DM me", author="lea")
    sync(env, harness)
    conv = conversation_of(env, "Price? DM me")
    conv_actions.reply(env.rt, env.agent, conv, "Sent you the price list", public=False)
    assert env.send() == 1
    (first,) = harness.net.published
    assert first["kind"] == "private_reply" and first["in_reply_to"] == comment
    assert first["recipient"] == harness.customer_id("lea")
    received, before = len(harness.net.requests), counts(env.rt)
    with pytest.raises(InvalidInput, match="this comment already had its one private reply"):
        conv_actions.reply(env.rt, env.agent, conv, "And a coupon", public=False)
    assert len(harness.net.requests) == received and counts(env.rt) == before
    connector = live_connector(harness)  # the fake refuses it too, when asked directly
    with pytest.raises(ConnectorError, match="already had its one private reply"):
        connector.send(reply(thread=None, in_reply_to=comment, options={"private_reply_to": comment}))
    assert len(harness.net.published) == 1


# --- signatures, objects, handshake ------------------------------------------------------------------------


def test_hooks_check_signature_and_object(env: Env, harness: InstagramHarness) -> None:
    body = fixture("ig_comment.json")
    start = counts(env.rt)
    post = env.client.post
    assert post(env.hook_path, content=body, headers={"Content-Type": "application/json"}).status_code == 401
    assert post(env.hook_path, content=body, headers=signed(body, "wrong")).status_code == 401
    page_body = b'{"object":"page","entry":[]}'  # a Page webhook is not for an Instagram channel
    refused = post(env.hook_path, content=page_body, headers=signed(page_body))
    assert refused.status_code == 422 and "expected 'instagram'" in refused.json()["detail"]
    assert counts(env.rt) == start
    accepted = post(env.hook_path, content=body, headers=signed(body))
    assert accepted.status_code == 200
    assert post(env.hook_path, content=body, headers=signed(body)).status_code == 409
    fake_signed = harness.net.signed(PAGE_ID, body)
    assert fake_signed["X-Hub-Signature-256"] == graph.sign(APP_SECRET, body)


def test_handshake(env: Env, harness: InstagramHarness) -> None:
    assert harness.net.handshake(PAGE_ID, "instagram", http=env.client).ok
    wrong = harness.net.handshake(PAGE_ID, "instagram", http=env.client, verify_token="nope")
    assert not wrong.ok and wrong.status == 403


# --- verify, find_published -----------------------------------------------------------------------------


def test_verify_checks_the_linked_account(harness: InstagramHarness) -> None:
    live_connector(harness).verify()
    with pytest.raises(ConnectorError, match="not linked to this channel's Instagram account"):
        make_connector(graph_url=harness.server.url, own="17841400000000999").verify()
    with pytest.raises(NotConfigured, match="own_account_id"):
        make_connector(graph_url=harness.server.url, own=None).verify()


def test_find_published(harness: InstagramHarness) -> None:
    connector = live_connector(harness)
    harness.new_media()
    top = harness.inject("Restock date?", author="mo")
    nested = harness.inject("+1", author="no", reply_to=top)
    harness.net.add_message(PAGE_ID, IGSID, "hi", platform="instagram")
    public = reply("Next Friday!", public=True, in_reply_to=top, thread=None)
    assert connector.find_published(public) is None
    sent = connector.send(public)
    found = connector.find_published(public)
    assert found is not None and found.external_id == sent.external_id
    on_nested = reply("Friday for you too", public=True, in_reply_to=nested, thread=None)
    sent_nested = connector.send(on_nested)
    found_nested = connector.find_published(on_nested)
    assert found_nested is not None and found_nested.external_id == sent_nested.external_id
    dm = reply("Here you go")
    assert connector.find_published(dm) is None
    sent_dm = connector.send(dm)
    found_dm = connector.find_published(dm)
    assert found_dm is not None and found_dm.external_id == sent_dm.external_id
    private = reply("psst", thread=None, in_reply_to=top, options={"private_reply_to": top})
    connector.send(private)
    assert connector.find_published(private) is None  # documented: not looked up


# --- recorded payloads -----------------------------------------------------------------------------------


def test_fixture_comment() -> None:
    (event,) = parse("ig_comment.json")
    assert event.external_id == "18000000000000201" and event.public and event.direction == Direction.IN
    assert event.author.id == IGSID and event.author.handle == "jane.k"
    assert event.in_reply_to == "17900000000000101"  # the media
    assert event.text == "Wrong size delivered 😕 who can help?"
    assert event.created_at == datetime(2026, 11, 25, 9, 20, tzinfo=UTC)


def test_fixture_comment_reply() -> None:
    (event,) = parse("ig_comment_reply.json")
    assert event.in_reply_to == "18000000000000201" and event.author.handle == "omar_n"


def test_fixture_own_comment_is_outbound() -> None:
    (event,) = parse("ig_own_comment.json")
    assert event.direction == Direction.OUT and event.author.id == IG_ID


def test_fixture_message_with_attachment() -> None:
    (event,) = parse("ig_message.json")
    assert not event.public and event.thread == IGSID and event.author.id == IGSID
    assert event.text == (
        "Here is my order number: 4521\n[image: https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=123]"
    )


def test_fixture_own_message_is_outbound_without_is_echo() -> None:
    (event,) = parse("ig_own_message.json")
    assert event.direction == Direction.OUT and event.author.id == IG_ID
    assert event.recipient is not None and event.recipient.id == IGSID and event.thread == IGSID


def test_fixture_story_reply() -> None:
    (event,) = parse("ig_story_reply.json")
    assert event.text == "[reply to a story]\nIs this still in stock?" and event.in_reply_to is None


def test_fake_pushes_escaped_unicode() -> None:
    net = FakeMetaGraph()
    net.add_page(PAGE_ID, token=TOKEN, app_secret=APP_SECRET, ig_id=IG_ID)
    net.add_message(PAGE_ID, IGSID, "ça va? 🙂", platform="instagram")
    (entry,) = net.pending_entries(PAGE_ID, "instagram")
    body = net.body("instagram", [entry])
    assert body.isascii() and b"\\u00e7a va? \\ud83d\\ude42" in body


def test_own_top_level_comment_is_not_a_conversation() -> None:
    body = fixture("ig_own_comment.json").replace(b',"parent_id":"18000000000000201"', b"")
    headers = {k.lower(): v for k, v in signed(body).items()}
    assert b"parent_id" not in body
    assert make_connector().parse_webhook(headers, body).events == []
