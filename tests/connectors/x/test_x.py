"""X-specific behaviour: webhook security (CRC, signatures), Account Activity and v2 payloads (one test per
fixture), cursors (since_id, DM paging down to the last seen event, first sync), rate limits, in-doubt sends,
clear refusals, and the fake's answers validated against X's OpenAPI document."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from caredesk.actions import admin
from caredesk.actions import conversations as conv_actions
from caredesk.actions.base import Actor
from caredesk.api.app import create_app
from caredesk.connectors.base import ChannelContext
from caredesk.connectors.x import parse, signing
from caredesk.connectors.x.connector import XConnector
from caredesk.domain.clock import SystemClock
from caredesk.domain.errors import ConnectorError, InvalidInput, SignatureError
from caredesk.domain.types import Direction, OutboundReply, ReplyContext, Role
from caredesk.fakes.webhook_network import ServerThread
from caredesk.fakes.x import FakeX
from caredesk.pipeline.runner import Pipeline
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from caredesk.workers.poller import Poller
from caredesk.workers.sender import Sender

FIXTURES = Path(__file__).parent / "fixtures"
OPENAPI = Path(__file__).resolve().parents[3].parent / "shared" / "reference" / "x-api-openapi.json"
BRAND = "783214"
CRC_SECRET = "z3ZX4v7mAAUGykl3EcmkqbartmuW8VFOOzCloLx9Q45P0hLrFu"
CRC_TOKEN = "9b4507b3-9040-4669-9ca3-6b94edb50553"
CRC_ANSWER = "sha256=Cytd4Sq+NvEcV3MMrXxWJGJx5A+y/lXzzU2Maartkx8="


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


@pytest.fixture
def net() -> Iterator[tuple[FakeX, ServerThread]]:
    fake = FakeX(brand_id=BRAND, consumer_secret=CRC_SECRET)
    server = ServerThread(fake.app).start()
    yield fake, server
    server.stop()


def make_connector(fake: FakeX, server: ServerThread, http: httpx.Client, **credentials: str) -> XConnector:
    creds = {
        "bearer_token": fake.bearer_token,
        "user_token": fake.user_token,
        "consumer_secret": fake.consumer_secret,
        **credentials,
    }
    context = ChannelContext(
        id=1, own_account_id=BRAND, config={"base_url": server.url, "user_id": BRAND}, credentials=creds
    )
    return XConnector(context, http=http, clock=SystemClock())


@pytest.fixture
def x(net: tuple[FakeX, ServerThread]) -> Iterator[tuple[FakeX, XConnector]]:
    fake, server = net
    with httpx.Client(timeout=httpx.Timeout(1.0)) as http:
        yield fake, make_connector(fake, server, http)


def reply_to(tweet_id: str | None, text: str, *, public: bool = True, **extra: Any) -> OutboundReply:
    return OutboundReply(
        idempotency_key="k-" + text[:10],
        text=text,
        public=public,
        in_reply_to=tweet_id,
        thread=extra.pop("thread", None),
        recipient=extra.pop("recipient", None),
        options=extra.pop("options", {}),
    )


def prepared(connector: XConnector, reply: OutboundReply, *, target_public: bool = True) -> OutboundReply:
    now = datetime.now(UTC)
    context = ReplyContext(
        now=now,
        target_public=target_public,
        target_created_at=now,
        last_inbound_at=now,
        private_replies_to_target=0,
        human_agent=False,
    )
    return connector.prepare(reply, context)


# --- webhook security ------------------------------------------------------------------------------


def test_crc_answer_matches_x_test_vector() -> None:
    assert signing.crc_response(CRC_SECRET, CRC_TOKEN) == CRC_ANSWER


def test_signature_accepts_the_right_one_and_refuses_forged_or_missing() -> None:
    body = b'{"for_user_id":"783214","favorite_events":[]}'
    signing.verify(CRC_SECRET, signing.sign(CRC_SECRET, body), body)
    with pytest.raises(SignatureError, match="does not match"):
        signing.verify(CRC_SECRET, signing.sign("another secret", body), body)
    with pytest.raises(SignatureError, match="does not match"):
        signing.verify(CRC_SECRET, signing.sign(CRC_SECRET, body), body + b" ")
    with pytest.raises(SignatureError, match="missing"):
        signing.verify(CRC_SECRET, None, body)
    with pytest.raises(SignatureError, match="sha256="):
        signing.verify(CRC_SECRET, "md5=abc", body)


@dataclass
class Desk:
    rt: Runtime
    client: TestClient
    channel_id: int
    agent: Actor


@pytest.fixture
def desk(rt: Runtime, net: tuple[FakeX, ServerThread]) -> Iterator[Desk]:
    fake, server = net
    system = Actor.system()
    ws = admin.create_workspace(rt, system, slug="acme", name="Acme")
    agent = admin.create_agent(rt, system, email="agent@acme.example", name="Agent", password=None)
    admin.add_member(rt, system, workspace_id=ws.id, agent_id=agent.id, role=Role.AGENT)
    channel = admin.create_channel(
        rt,
        system,
        workspace_id=ws.id,
        connector="x",
        name="@acme",
        config={"base_url": server.url, "user_id": BRAND},
        credentials={
            "bearer_token": fake.bearer_token,
            "user_token": fake.user_token,
            "consumer_secret": fake.consumer_secret,
        },
        own_account_id=BRAND,
    )
    rt.http.timeout = httpx.Timeout(1.0)
    with TestClient(create_app(rt), raise_server_exceptions=False) as client:
        yield Desk(rt, client, channel.id, Actor.agent(agent.id))


def counts(rt: Runtime) -> tuple[int, int]:
    with rt.db.read() as s:
        return (
            int(s.scalar(sa.select(sa.func.count()).select_from(m.SpoolEvent)) or 0),
            int(s.scalar(sa.select(sa.func.count()).select_from(m.Message)) or 0),
        )


def post_hook(
    desk: Desk, payload: object, *, secret: str | None = CRC_SECRET, raw: bytes | None = None
) -> Any:
    body = raw if raw is not None else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[signing.HEADER] = signing.sign(secret, body)
    return desk.client.post(f"/hooks/{desk.channel_id}", content=body, headers=headers)


def test_crc_challenge_through_the_hooks_route(desk: Desk, net: tuple[FakeX, ServerThread]) -> None:
    r = desk.client.get(f"/hooks/{desk.channel_id}", params={"crc_token": CRC_TOKEN})
    assert r.status_code == 200
    assert r.json() == {"response_token": CRC_ANSWER}
    missing = desk.client.get(f"/hooks/{desk.channel_id}")
    assert missing.status_code == 422 and "crc_token" in missing.json()["detail"]
    fake, _ = net
    assert fake.crc_check(f"/hooks/{desk.channel_id}", http=desk.client)  # what X does hourly


@pytest.mark.parametrize(
    ("case", "status"),
    [("good", 202), ("forged", 401), ("missing", 401), ("unknown", 422), ("bad_json", 422), ("other", 422)],
)
def test_webhook_deliveries_are_checked_before_anything_is_stored(desk: Desk, case: str, status: int) -> None:
    mention = fixture("aaa_tweet_create_mention.json")
    if case == "good":
        r = post_hook(desk, mention)
    elif case == "forged":
        r = post_hook(desk, mention, secret="not-the-consumer-secret")
    elif case == "missing":
        r = post_hook(desk, mention, secret=None)
    elif case == "unknown":
        r = post_hook(desk, fixture("aaa_unknown.json"))
    elif case == "bad_json":
        r = post_hook(desk, None, raw=b'{"for_user_id": "783214", ')
    else:
        r = post_hook(desk, {**mention, "for_user_id": "999"})
    assert r.status_code == status, r.text
    assert counts(desk.rt) == ((1, 0) if case == "good" else (0, 0))
    if case == "unknown":
        assert "space_started_events" in r.json()["detail"]


def test_pushed_mention_and_dm_become_messages_and_own_post_is_recognised(desk: Desk) -> None:
    assert post_hook(desk, fixture("aaa_tweet_create_mention.json")).status_code == 202
    assert post_hook(desk, fixture("aaa_direct_message.json")).status_code == 202
    assert post_hook(desk, fixture("aaa_tweet_create_own.json")).status_code == 202
    favorite = post_hook(desk, fixture("aaa_favorite.json"))
    assert favorite.status_code == 202 and favorite.json() == {"accepted": 0, "duplicates": 0}
    Pipeline(desk.rt).drain()
    with desk.rt.db.read() as s:
        rows = list(s.scalars(sa.select(m.Message).order_by(m.Message.created_at)))
    by_id = {r.external_id: r for r in rows}
    assert by_id["1234858592"].direction == "in" and not by_id["1234858592"].is_public
    assert by_id["1234858592"].thread == "783214-3805104374"
    own = by_id["1790000000000000030"]
    assert own.direction == "out" and own.text == "Sorry about that! We have sent you a DM."
    # The brand's own reply (posted from the X app) lands in the customer's conversation.
    assert own.conversation_id == by_id["1790000000000000020"].conversation_id


# --- payloads, one test per fixture ------------------------------------------------------------------


def test_aaa_mention_fixture() -> None:
    (event,) = parse.aaa_events(fixture("aaa_tweet_create_mention.json"), BRAND)
    assert event.external_id == "1790000000000000020"
    assert event.text.startswith("I ordered a blue kettle") and event.text.endswith(
        "Can you check & tell me?"
    )
    assert (
        event.author.id == "2244994945" and event.author.handle == "@jane" and event.author.followers == 120
    )
    assert event.in_reply_to == "1790000000000000019" and event.public and event.direction == Direction.IN
    assert event.created_at == datetime(2024, 5, 13, 10, 0, tzinfo=UTC)


def test_aaa_own_post_fixture() -> None:
    (event,) = parse.aaa_events(fixture("aaa_tweet_create_own.json"), BRAND)
    assert event.direction == Direction.OUT and event.author.id == BRAND
    assert event.recipient is not None and event.recipient.id == "2244994945"


def test_aaa_direct_message_fixture() -> None:
    (event,) = parse.aaa_events(fixture("aaa_direct_message.json"), BRAND)
    assert (event.external_id, event.text, event.author.handle) == ("1234858592", "Blue Bird", "@jane")
    assert not event.public and event.thread == "783214-3805104374"
    assert event.created_at == datetime.fromtimestamp(1392078023.603, tz=UTC)
    # The same delivery made to the sender's account: their own DM, going out to 783214.
    (mine,) = parse.aaa_events(
        {**fixture("aaa_direct_message.json"), "for_user_id": "3805104374"}, "3805104374"
    )
    assert mine.direction == Direction.OUT and mine.recipient is not None and mine.recipient.id == BRAND
    assert mine.thread == event.thread


def test_aaa_brand_announcement_is_not_a_conversation() -> None:
    fake = FakeX(brand_id=BRAND)
    announcement = fake.brand_post("Our stores close early on Friday")
    assert parse.aaa_events(fake.activity(announcement.id), BRAND) == []
    answer = fake.post(
        BRAND, "We open at 9 tomorrow", reply_to=fake.post("ann", "when?", reply_to=announcement.id).id
    )
    (event,) = parse.aaa_events(fake.activity(answer.id), BRAND)
    assert event.direction == Direction.OUT and event.text == "We open at 9 tomorrow"


def test_a_long_pushed_post_is_read_from_extended_tweet() -> None:
    fake = FakeX(brand_id=BRAND)
    root = fake.brand_post("Tell us")
    long_text = "My router keeps dropping the connection every evening around eight, " * 3
    tweet = fake.post("ann", long_text.strip(), reply_to=root.id)
    payload = fake.activity(tweet.id)
    assert payload["tweet_create_events"][0]["truncated"] is True
    (event,) = parse.aaa_events(payload, BRAND)
    assert event.text == long_text.strip()


def test_an_unreadable_item_is_skipped_not_blocking(x: tuple[FakeX, XConnector]) -> None:
    page = fixture("mentions_page.json")
    del page["data"][1]["author_id"]
    empty_dms = {"meta": {"result_count": 0}}

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=page if request.url.path.endswith("/mentions") else empty_dms)

    _fake, connector = x
    connector.http = httpx.Client(transport=httpx.MockTransport(answer))
    got = connector.fetch({})
    assert [e.external_id for e in got.events] == ["1790000000000000003"]
    assert got.cursor["mentions"]["since_id"] == "1790000000000000003"


def test_aaa_mention_from_a_blocked_user_is_dropped() -> None:
    assert (
        parse.aaa_events({**fixture("aaa_tweet_create_mention.json"), "user_has_blocked": True}, BRAND) == []
    )


def test_aaa_favorite_and_unknown_fixtures() -> None:
    assert parse.aaa_events(fixture("aaa_favorite.json"), BRAND) == []
    with pytest.raises(InvalidInput, match="unknown X Account Activity payload"):
        parse.aaa_events(fixture("aaa_unknown.json"), BRAND)
    with pytest.raises(InvalidInput, match="for_user_id"):
        parse.aaa_events({"tweet_create_events": []}, BRAND)


def test_mentions_page_fixture() -> None:
    page = fixture("mentions_page.json")
    users = parse.users_by_id(page["includes"])
    events = [parse.post_event(p, users, BRAND) for p in page["data"] if not parse.is_repost(p)]
    assert [e.external_id for e in events] == ["1790000000000000003", "1790000000000000002"]
    reply, first = events
    assert reply.text == "Still waiting & no reply from support <sigh>"  # prefix dropped, unescaped
    assert reply.in_reply_to == "1790000000000000002" and reply.references == []
    assert first.text == "@acme my order #123 never arrived"  # a typed mention stays
    assert first.author.handle == "@jane" and first.author.followers == 120 and first.language == "en"


def test_naming_drift_post_fields_are_read() -> None:
    page = fixture("mentions_page_post_naming.json")
    (event,) = [parse.post_event(p, parse.users_by_id(page["includes"]), BRAND) for p in page["data"]]
    assert event.in_reply_to == "1790000000000000011"
    assert event.references == ["1790000000000000010"]
    assert event.text == "the app logs me out every hour"
    assert event.author.handle == "@kimb" and event.author.followers == 45


def test_dm_events_page_fixture() -> None:
    page = fixture("dm_events_page.json")
    users = parse.users_by_id(page["includes"])
    own, theirs = (parse.dm_event(e, users, BRAND) for e in page["data"])
    assert theirs.direction == Direction.IN and theirs.author.handle == "@ola_n"
    assert theirs.thread == own.thread == "783214-944480690"
    assert own.direction == Direction.OUT and own.recipient is not None and own.recipient.id == "944480690"


# --- polling: cursors --------------------------------------------------------------------------------


def _mentions_requests(fake: FakeX) -> list[dict[str, str]]:
    return [q for method, path, q in fake.requests if path.endswith("/mentions")]


def _dm_requests(fake: FakeX) -> list[dict[str, str]]:
    return [q for method, path, q in fake.requests if path == "/2/dm_events"]


def test_since_id_resume(x: tuple[FakeX, XConnector]) -> None:
    fake, connector = x
    root = fake.brand_post("Our spring sale starts today")
    first = [fake.post(f"cust{i}", f"question {i}", reply_to=root.id) for i in range(3)]
    got = connector.fetch({})
    assert [e.text for e in got.events] == ["question 0", "question 1", "question 2"]
    cursor = json.loads(json.dumps(got.cursor))  # stored as JSON
    assert cursor["mentions"]["since_id"] == first[-1].id
    later = fake.post("cust9", "one more", reply_to=root.id)
    again = connector.fetch(cursor)
    assert [e.external_id for e in again.events] == [later.id]
    assert _mentions_requests(fake)[-1]["since_id"] == first[-1].id
    assert connector.fetch(again.cursor).events == []


def test_mentions_sweep_cut_short_resumes_below_what_it_read(x: tuple[FakeX, XConnector]) -> None:
    fake, connector = x
    connector.max_pages, fake.page_cap = 1, 5
    root = fake.brand_post("Tell us how we did")
    ids = [fake.post(f"u{i}", f"m{i}", reply_to=root.id).id for i in range(12)]
    first = connector.fetch({})
    assert [e.external_id for e in first.events] == ids[7:] and first.more
    assert first.cursor["mentions"]["sweep"] == {"newest": ids[-1], "until_id": ids[7], "start_time": ANY}
    late = fake.post("late", "arrived in the middle of the sweep", reply_to=root.id).id
    second = connector.fetch(json.loads(json.dumps(first.cursor)))
    assert [e.external_id for e in second.events] == ids[2:7] and second.more
    assert _mentions_requests(fake)[-1]["until_id"] == ids[7]
    third = connector.fetch(second.cursor)
    assert [e.external_id for e in third.events] == ids[:2] and not third.more
    assert third.cursor["mentions"] == {"since_id": ids[-1], "sweep": None}
    fourth = connector.fetch(third.cursor)
    assert [e.external_id for e in fourth.events] == [late]


def test_dm_paging_stops_at_the_last_seen_event(x: tuple[FakeX, XConnector]) -> None:
    fake, connector = x
    fake.page_cap = 2
    for i in range(5):
        fake.dm("ola", f"old {i}")
    first = connector.fetch({})
    assert [e.text for e in first.events] == [f"old {i}" for i in range(5)]
    pages_before = len(_dm_requests(fake))
    for i in range(3):
        fake.dm("ola", f"new {i}")
    got = connector.fetch(first.cursor)
    assert [e.text for e in got.events] == ["new 0", "new 1", "new 2"]
    # newest page [new 2, new 1], then [new 0, old 4]: old 4 is the last seen, so no third page
    assert len(_dm_requests(fake)) - pages_before == 2
    assert got.cursor["dms"] == {"last_id": got.events[-1].external_id, "sweep": None}


def test_dm_sweep_cut_short_keeps_its_token(x: tuple[FakeX, XConnector]) -> None:
    fake, connector = x
    connector.max_pages, fake.page_cap = 1, 2
    sent = [fake.dm("ola", f"dm {i}").id for i in range(5)]
    seen: list[str] = []
    got = connector.fetch({})
    seen += [e.external_id for e in got.events if not e.public]
    assert got.more and got.cursor["dms"]["sweep"]["token"]
    while got.more:
        got = connector.fetch(got.cursor)
        seen += [e.external_id for e in got.events if not e.public]
    assert sorted(seen) == sorted(sent)
    assert got.cursor["dms"]["last_id"] == sent[-1]
    # A token X no longer accepts: the sweep starts again from the top, losing nothing.
    fake.dm("ola", "after")
    broken = {**got.cursor, "dms": {"last_id": sent[-1], "sweep": {"newest": sent[-1], "token": "0" * 20}}}
    again = connector.fetch(broken)
    assert [e.text for e in again.events] == ["after"]


def test_first_sync_goes_back_one_day_only(x: tuple[FakeX, XConnector]) -> None:
    fake, connector = x
    long_ago = datetime.now(UTC) - timedelta(days=3)
    root = fake.brand_post("Old announcement", at=long_ago - timedelta(hours=1))
    fake.post("ann", "old mention", reply_to=root.id, at=long_ago)
    fake.dm("ann", "old dm", at=long_ago)
    fake.post("ann", "fresh mention", reply_to=root.id)
    fake.dm("ann", "fresh dm")
    got = connector.fetch({})
    assert sorted(e.text for e in got.events) == ["fresh dm", "fresh mention"]
    assert "start_time" in _mentions_requests(fake)[0]


def test_own_dms_in_the_log_are_outbound(x: tuple[FakeX, XConnector]) -> None:
    fake, connector = x
    fake.dm("ola", "hello?")
    fake.dm(BRAND, "Hi Ola, how can we help?", to="ola")  # sent from the X app, not from caredesk
    events = connector.fetch({}).events
    assert [(e.text, e.direction) for e in events] == [
        ("hello?", Direction.IN),
        ("Hi Ola, how can we help?", Direction.OUT),
    ]
    assert events[1].recipient is not None and events[1].recipient.id == fake.user("ola").id
    assert events[0].thread == events[1].thread


def test_naming_drift_end_to_end(x: tuple[FakeX, XConnector]) -> None:
    fake, connector = x
    fake.naming = "post"
    root = fake.brand_post("New app version out")
    tweet = fake.post("kim", "it crashes on start", reply_to=root.id)
    (event,) = connector.fetch({}).events
    assert event.raw.get("referenced_posts") and "referenced_tweets" not in event.raw
    assert event.in_reply_to == root.id and event.external_id == tweet.id


# --- errors and rate limits ----------------------------------------------------------------------------


def test_429_headers_give_retry_after(x: tuple[FakeX, XConnector]) -> None:
    fake, connector = x
    fake.reset_in = 120
    fake.fail_next(429, on="read")
    with pytest.raises(ConnectorError) as caught:
        connector.fetch({})
    assert caught.value.retryable and "rate limit" in caught.value.message
    assert caught.value.retry_after is not None and 118 <= caught.value.retry_after <= 122
    fake.fail_next(429, on="write")
    root = fake.brand_post("hello")
    tweet = fake.post("sam", "hi", reply_to=root.id)
    with pytest.raises(ConnectorError) as sent:
        connector.send(prepared(connector, reply_to(tweet.id, "Hi Sam")))
    assert sent.value.retryable and sent.value.retry_after is not None and sent.value.retry_after > 100


def test_a_spent_window_is_a_429_with_x_headers(net: tuple[FakeX, ServerThread]) -> None:
    fake, server = net
    with httpx.Client() as http:
        headers = {"Authorization": f"Bearer {fake.user_token}"}
        first = http.get(f"{server.url}/2/users/me", headers=headers)
        assert first.headers["x-rate-limit-limit"] == "75" and first.headers["x-rate-limit-remaining"] == "74"
        for _ in range(74):
            http.get(f"{server.url}/2/users/me", headers=headers)
        over = http.get(f"{server.url}/2/users/me", headers=headers)
    assert over.status_code == 429 and "retry-after" not in over.headers
    assert over.headers["x-rate-limit-remaining"] == "0"
    assert int(over.headers["x-rate-limit-reset"]) > time.time()


def test_5xx_and_timeouts_are_retryable(x: tuple[FakeX, XConnector]) -> None:
    fake, connector = x
    for code, words in ((500, "failing"), (0, "timed out")):
        fake.fail_next(code, on="read")
        with pytest.raises(ConnectorError, match=words) as caught:
            connector.fetch({})
        assert caught.value.retryable


def test_refusals_are_clear_and_hold_no_secret(net: tuple[FakeX, ServerThread]) -> None:
    fake, server = net
    with httpx.Client(timeout=5) as http:
        wrong = make_connector(fake, server, http, bearer_token="revoked-app-token-123")
        with pytest.raises(ConnectorError) as caught:
            wrong.fetch({})
        assert not caught.value.retryable and "HTTP 401" in caught.value.message
        assert "reconnect" in caught.value.message and "revoked-app-token-123" not in caught.value.message
        connector = make_connector(fake, server, http)
        quiet = fake.user("quiet")
        quiet.accepts_dms = False
        with pytest.raises(ConnectorError, match="reply publicly") as dm:
            connector.send(prepared(connector, reply_to(None, "Hello", public=False, recipient=quiet.id)))
        assert not dm.value.retryable and "HTTP 403" in dm.value.message
        with pytest.raises(ConnectorError, match="deleted") as gone:
            connector.send(prepared(connector, reply_to("1790000000000009999", "Hello")))
        assert not gone.value.retryable
        swapped = make_connector(
            fake, server, http, bearer_token=fake.user_token, user_token=fake.bearer_token
        )
        with pytest.raises(ConnectorError, match="Application-Only") as kind:
            swapped.fetch({})
        assert not kind.value.retryable


def test_verify_checks_the_token_belongs_to_the_brand(net: tuple[FakeX, ServerThread]) -> None:
    fake, server = net
    with httpx.Client(timeout=5) as http:
        make_connector(fake, server, http).verify()
        context = ChannelContext(
            id=1,
            own_account_id="42",
            config={"base_url": server.url, "user_id": "42"},
            credentials={"bearer_token": fake.bearer_token, "user_token": fake.user_token},
        )
        with pytest.raises(ConnectorError, match="belongs to @acme"):
            XConnector(context, http=http, clock=SystemClock()).verify()
        mixed = ChannelContext(
            id=1, own_account_id="42", config={"base_url": server.url, "user_id": BRAND}, credentials={}
        )
        with pytest.raises(ConnectorError, match="own account id"):
            XConnector(mixed, http=http, clock=SystemClock()).verify()


def test_prepare_refuses_what_x_would_refuse(x: tuple[FakeX, XConnector]) -> None:
    _fake, connector = x
    with pytest.raises(InvalidInput, match="send a DM instead"):
        prepared(connector, reply_to("1790000000000000002", "hi"), target_public=False)
    with pytest.raises(InvalidInput, match="no X post"):
        prepared(connector, reply_to(None, "hi"))
    with pytest.raises(InvalidInput, match="reply publicly"):
        prepared(connector, reply_to(None, "hi", public=False))
    ok = prepared(connector, reply_to(None, "hi", public=False, thread=f"{BRAND}-944480690"))
    assert "queued_at" in ok.options and connector._participant(ok) == "944480690"


# --- sending: once, even when in doubt --------------------------------------------------------------


def test_public_reply_and_dm_shapes(x: tuple[FakeX, XConnector]) -> None:
    fake, connector = x
    root = fake.brand_post("Shipping update")
    tweet = fake.post("jane", "where is my parcel?", reply_to=root.id)
    result = connector.send(prepared(connector, reply_to(tweet.id, "Checking now, Jane")))
    (post,) = fake.published()
    assert result.external_id == post["id"] and post["in_reply_to"] == tweet.id
    assert post["text"] == "@jane Checking now, Jane"  # X puts the reply mentions in front
    dm = connector.send(
        prepared(connector, reply_to(None, "Details here", public=False, recipient=tweet.author_id))
    )
    last = fake.published()[-1]
    assert last["kind"] == "dm" and dm.external_id == last["id"] and last["recipient"] == tweet.author_id


def test_find_published_sees_a_reply_that_landed(x: tuple[FakeX, XConnector]) -> None:
    fake, connector = x
    root = fake.brand_post("We are here to help")
    tweet = fake.post("jane", "help & advice?", reply_to=root.id)
    reply = prepared(connector, reply_to(tweet.id, "Sure & happy to help <3 https://acme.example/help"))
    assert connector.find_published(reply) is None
    sent = connector.send(reply)
    found = connector.find_published(reply)
    assert found is not None and found.external_id == sent.external_id
    other = prepared(connector, reply_to(root.id, reply.text))  # same text, another post: not it
    assert connector.find_published(other) is None
    dm = prepared(connector, reply_to(None, "In a DM", public=False, recipient=tweet.author_id))
    assert connector.find_published(dm) is None
    dm_sent = connector.send(dm)
    found_dm = connector.find_published(dm)
    assert found_dm is not None and found_dm.external_id == dm_sent.external_id


def test_lost_answer_is_not_a_second_post(x: tuple[FakeX, XConnector]) -> None:
    fake, connector = x
    root = fake.brand_post("Ask us")
    tweet = fake.post("jane", "hello?", reply_to=root.id)
    fake.fail_next(-1, on="write")  # X publishes, the answer never reaches us
    reply = prepared(connector, reply_to(tweet.id, "Hello Jane"))
    result = connector.send(reply)
    (post,) = fake.published()
    assert result.external_id == post["id"]
    # and a resend of the same text is refused by X as duplicate content: found, not failed
    assert connector.send(reply).external_id == post["id"]
    assert len(fake.published()) == 1


def test_in_doubt_send_after_a_crash_is_not_duplicated(desk: Desk, net: tuple[FakeX, ServerThread]) -> None:
    fake, _server = net
    root = fake.brand_post("Ask us anything")
    fake.post("jane", "my order never arrived", reply_to=root.id)
    fake.dm("kim", "private question")
    Poller(desk.rt).run_once()
    Pipeline(desk.rt).drain()
    with desk.rt.db.read() as s:
        convs = {msg.text: msg.conversation_id for msg in s.scalars(sa.select(m.Message))}
    conv_actions.reply(desk.rt, desk.agent, convs["my order never arrived"], "We are on it", public=True)
    conv_actions.reply(desk.rt, desk.agent, convs["private question"], "Answer in private", public=False)
    sender = Sender(desk.rt)
    for item in sender._claim():  # the process publishes both...
        sender._deliver(item)
    with desk.rt.db.write() as s:  # ...but dies before writing the outcomes back
        for box in s.scalars(sa.select(m.Outbox)):
            box.status, box.claimed_until = "sending", datetime.now(UTC) - timedelta(seconds=1)
    assert sender.drain() == 2  # in doubt: find_published is asked before any resend
    assert len(fake.published()) == 2
    with desk.rt.db.read() as s:
        outs = {msg.text: msg for msg in s.scalars(sa.select(m.Message).where(m.Message.direction == "out"))}
    published = {p["kind"]: p["id"] for p in fake.published()}
    assert outs["We are on it"].external_id == published["post"] and outs["We are on it"].delivery == "sent"
    assert outs["Answer in private"].external_id == published["dm"]


# --- the fake against X's OpenAPI document ---------------------------------------------------------


def _openapi() -> dict[str, Any]:
    if not OPENAPI.is_file():
        pytest.skip(f"{OPENAPI} is not on this machine (../shared/reference holds X's OpenAPI document)")
    data: dict[str, Any] = json.loads(OPENAPI.read_text(encoding="utf-8"))
    return data


def _validate(spec: dict[str, Any], path: str, method: str, response: httpx.Response) -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema validates the fake against X's spec")
    responses = spec["paths"][path][method]["responses"]
    answer = responses.get(str(response.status_code)) or responses["default"]
    media = response.headers["content-type"].split(";")[0]
    schema = answer["content"][media]["schema"]
    wrapped = {**schema, "components": spec["components"]}  # "#/components/..." refs resolve in place
    jsonschema.Draft7Validator(wrapped).validate(response.json())


@pytest.mark.parametrize("naming", ["tweet", "post"])
def test_fake_answers_validate_against_x_openapi(net: tuple[FakeX, ServerThread], naming: str) -> None:
    spec = _openapi()
    fake, server = net
    fake.naming, fake.page_cap = naming, 2
    root = fake.brand_post("Hello from Acme")
    tweet = fake.post("jane", "my order never arrived", reply_to=root.id)
    fake.post("kim", "me too", reply_to=root.id)
    fake.post("lee", "same here", reply_to=root.id)
    fake.dm("kim", "hello in private")
    fake.dm("lee", "another one")
    fake.dm("jane", "and a third")
    user = {"Authorization": f"Bearer {fake.user_token}"}
    app = {"Authorization": f"Bearer {fake.bearer_token}"}
    fields = "username,name" if naming == "tweet" else parse.USER_FIELDS  # v2.167 counts post_count
    with httpx.Client(base_url=server.url) as http:
        mentions = http.get(
            f"/2/users/{BRAND}/mentions",
            params={
                "max_results": "5",
                "tweet.fields": parse.TWEET_FIELDS,
                "expansions": "author_id,referenced_tweets.id",
                "user.fields": fields,
            },
            headers=app,
        )
        assert mentions.status_code == 200 and mentions.json()["meta"]["next_token"]
        _validate(spec, "/2/users/{id}/mentions", "get", mentions)
        dms = http.get(
            "/2/dm_events",
            params={
                "max_results": "2",
                "dm_event.fields": parse.DM_FIELDS,
                "expansions": "sender_id",
                "event_types": "MessageCreate",
            },
            headers=user,
        )
        assert dms.status_code == 200 and len(dms.json()["data"]) == 2
        _validate(spec, "/2/dm_events", "get", dms)
        created = http.post(
            "/2/tweets",
            json={"text": "Sorry Jane!", "reply": {"in_reply_to_tweet_id": tweet.id}},
            headers=user,
        )
        assert created.status_code == 201
        _validate(spec, "/2/tweets", "post", created)
        dm = http.post(
            f"/2/dm_conversations/with/{tweet.author_id}/messages", json={"text": "Hi"}, headers=user
        )
        assert dm.status_code == 201
        _validate(spec, "/2/dm_conversations/with/{participant_id}/messages", "post", dm)
        me = http.get("/2/users/me", headers=user)
        _validate(spec, "/2/users/me", "get", me)
        bad = http.get(f"/2/users/{BRAND}/mentions", params={"max_results": "500"}, headers=app)
        assert bad.status_code == 400 and bad.headers["content-type"].startswith("application/problem+json")
        _validate(spec, "/2/users/{id}/mentions", "get", bad)
        fake.fail_next(500, on="read")
        failing = http.get(f"/2/users/{BRAND}/mentions", headers=app)
        assert failing.status_code == 500
        _validate(spec, "/2/users/{id}/mentions", "get", failing)
        unknown = http.get(f"/2/users/{BRAND}/mentions", params={"foo": "1"}, headers=app)
        assert unknown.status_code == 400
        _validate(spec, "/2/users/{id}/mentions", "get", unknown)
        invalid_body = http.post("/2/tweets", json={"text": "x", "colour": "red"}, headers=user)
        assert invalid_body.status_code == 400
        _validate(spec, "/2/tweets", "post", invalid_body)
        for response in (mentions, dms, created, dm, me, bad, failing):
            assert {"x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset"} <= set(
                response.headers
            )
