"""Mastodon-specific behaviour: Link-header paging, since_id resume, HTML to text, DMs and filtered DMs,
replies (mentions, visibility, Idempotency-Key), rate-limit resets and error mapping."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from caredesk.actions import admin
from caredesk.actions.base import Actor
from caredesk.connectors.base import ChannelContext, FetchResult
from caredesk.connectors.mastodon.api import parse_reset, rate_limit, retry_after
from caredesk.connectors.mastodon.connector import MastodonConnector, mentions, with_mentions
from caredesk.connectors.mastodon.content import html_to_text, status_text
from caredesk.connectors.mastodon.events import mention_event, own_status_event
from caredesk.connectors.mastodon.stream import Frame, parse_sse
from caredesk.domain.clock import FrozenClock, SystemClock
from caredesk.domain.errors import ConnectorError, InvalidInput, NotConfigured
from caredesk.domain.types import Direction, OutboundReply, ReplyContext
from caredesk.fakes.mastodon import FakeMastodon
from caredesk.fakes.webhook_network import ServerThread
from caredesk.pipeline.runner import Pipeline
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from caredesk.workers.poller import Poller

FIXTURES = Path(__file__).parent / "fixtures"
BRAND_ID = "109000000000000001"


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


@dataclass
class Instance:
    net: FakeMastodon
    url: str
    brand: dict[str, Any]
    token: str
    http: httpx.Client

    def connector(self, *, clock: Any = None, **config: Any) -> MastodonConnector:
        context = ChannelContext(
            id=1,
            own_account_id=self.brand["id"],
            config={"base_url": self.url, "account_id": self.brand["id"], "acct": "acme", **config},
            credentials={"access_token": self.token},
        )
        return MastodonConnector(context, http=self.http, clock=clock or SystemClock())

    def customer(self, name: str, domain: str | None = "social.example") -> str:
        return str(self.net.add_account(name, domain=domain)["id"])

    def mention(self, author: str, text: str, **kwargs: Any) -> dict[str, Any]:
        return self.net.post(author, f"@acme {text}", **kwargs)


@pytest.fixture
def inst() -> Iterator[Instance]:
    net = FakeMastodon(page_size=20)
    server = ServerThread(net.app).start()
    brand = net.add_account("acme", display_name="Acme Support")
    token = net.issue_token(brand["id"])
    with httpx.Client(timeout=httpx.Timeout(2.0)) as http:
        yield Instance(net, server.url, brand, token, http)
    server.stop()


def reply(**kwargs: Any) -> OutboundReply:
    values: dict[str, Any] = {
        "idempotency_key": "k-1",
        "text": "Thanks, we are on it",
        "public": True,
        "in_reply_to": None,
        "thread": None,
        "recipient": None,
    }
    values.update(kwargs)
    return OutboundReply(**values)


def context(*, target_public: bool | None = True) -> ReplyContext:
    now = datetime.now(UTC)
    return ReplyContext(
        now=now,
        target_public=target_public,
        target_created_at=now,
        last_inbound_at=now,
        private_replies_to_target=0,
        human_agent=False,
    )


# --- paging and cursors -------------------------------------------------------------------------------


def test_one_fetch_follows_the_link_header_and_hands_over_oldest_first(inst: Instance) -> None:
    jane = inst.customer("jane")
    for i in range(45):
        inst.mention(jane, f"message {i}")
    result = inst.connector().fetch({})
    assert [e.text for e in result.events] == [f"message {i}" for i in range(45)]
    assert result.more is False
    calls = inst.net.calls("GET", "/api/v1/notifications")
    assert len(calls) == 4  # 20 + 20 + 5, then the empty page that ends the walk
    first = dict(calls[0]["query"])
    assert first["types[]"] == "mention" and first["include_filtered"] == "true" and first["limit"] == "80"
    # Each next page asks for what the previous page's Link rel="next" named: its oldest id.
    newest_first = sorted(inst.net.notifications, key=lambda v: (len(v), v), reverse=True)
    assert [dict(c["query"]).get("max_id") for c in calls] == [
        None,
        newest_first[19],
        newest_first[39],
        newest_first[44],
    ]
    assert result.cursor["since_id"] == newest_first[0]


def test_since_id_resumes_across_id_lengths(inst: Instance) -> None:
    kim = inst.customer("kim")
    for i in range(5):  # notification ids 990..994
        inst.mention(kim, f"early {i}")
    connector = inst.connector()
    first = connector.fetch({})
    assert first.cursor["since_id"] == "994"
    for i in range(12):  # 995..1006: the ids grow a digit; "1006" < "995" as text
        inst.mention(kim, f"late {i}")
    second = connector.fetch(first.cursor)
    assert [e.text for e in second.events] == [f"late {i}" for i in range(12)]
    assert second.cursor["since_id"] == "1006"
    assert dict(inst.net.calls("GET", "/api/v1/notifications")[-1]["query"])["since_id"] == "994"
    third = connector.fetch(second.cursor)
    assert third.events == [] and third.cursor == second.cursor


def test_a_backlog_longer_than_one_fetch_is_read_forward_without_gaps(inst: Instance) -> None:
    ann = inst.customer("ann")
    connector = inst.connector()
    cursor = connector.fetch({}).cursor
    for i in range(70):
        inst.mention(ann, f"backlog {i}")
    connector.max_pages = 2  # 40 items per walk back: too few for 70
    texts: list[str] = []
    rounds = 0
    while True:
        rounds += 1
        result = connector.fetch(cursor)
        texts += [e.text for e in result.events]
        cursor = result.cursor
        if not result.more:
            break
    assert texts == [f"backlog {i}" for i in range(70)]
    assert rounds >= 2
    forward = [c for c in inst.net.calls("GET", "/api/v1/notifications") if "min_id" in dict(c["query"])]
    assert forward, "the backlog is paged forward with min_id"


# --- content ------------------------------------------------------------------------------------------


def test_public_mention_fixture() -> None:
    event = mention_event(fixture("notification_public_reply.json"), BRAND_ID)
    assert event is not None
    assert event.text == (
        'order #A1234 still hasn\'t arrived & tracking says "delivered".\n'
        "Photo of my doorstep: https://photos.example/d/2026/11/20/doorstep-no-parcel.jpg\n\n"
        "cc @sam@other.example"
    )
    assert event.external_id == "113517604421093512"
    assert event.in_reply_to == "113517550017650211"
    assert event.author.id == "109412587321448190" and event.author.handle == "@jane@social.example"
    assert event.public and event.thread is None and event.direction == Direction.IN
    assert event.created_at == datetime(2026, 11, 20, 9, 14, 2, 981000, tzinfo=UTC)
    assert '<span class="h-card"' in event.raw["status"]["content"]  # the HTML is kept as received


def test_direct_fixture_is_private() -> None:
    event = mention_event(fixture("notification_direct.json"), BRAND_ID)
    assert event is not None
    assert not event.public
    assert event.thread == "dm:109412587321448190"
    assert event.text == (
        "CW: address inside\n\nmy address is 12 Example Road.\n\nPlease call before 5.\n\n"
        "[image: shipping label]"
    )


def test_hostile_remote_html_stays_inert_text() -> None:
    status = fixture("status_hostile_remote.json")
    text = status_text(status, own_id=BRAND_ID)
    assert text == "try this <script>alert('x')</script> bold click &amp; 😀"
    for gone in ("document.cookie", "onerror", "display:none", "steal", "javascript:", "frame text", "<b"):
        assert gone not in text
    event = mention_event({"id": "1", "type": "mention", "status": status}, BRAND_ID)
    assert (
        event is not None and event.author.name == "<img src=x onerror=alert(3)>"
    )  # text, escaped on display


def test_own_reply_fixture_is_outbound_to_the_customer() -> None:
    event = own_status_event(fixture("status_own_reply.json"), BRAND_ID)
    assert event is not None and event.direction == Direction.OUT
    assert event.author.id == BRAND_ID
    assert event.recipient is not None and event.recipient.id == "109412587321448190"
    assert event.in_reply_to == "113517604421093512"
    assert event.text.startswith("@jane@social.example Sorry about that")


@pytest.mark.parametrize(
    ("content", "text"),
    [
        ("<p>one<br>two<br/>three</p>", "one\ntwo\nthree"),
        ("<p>a</p><p>b</p>", "a\n\nb"),
        ("<p>x &lt;b&gt;y&lt;/b&gt; &amp;&amp; &quot;z&quot;</p>", 'x <b>y</b> && "z"'),
        ("<p>  lots   of\n spaces </p>", "lots of spaces"),
        ("<blockquote><p>quoted</p></blockquote><p>answer</p>", "quoted\n\nanswer"),
        ("<ul><li>one</li><li>two</li></ul>", "one\ntwo"),
        ("<p>unclosed <b>bold", "unclosed bold"),
    ],
)
def test_html_to_text(content: str, text: str) -> None:
    assert html_to_text(content) == text


def test_text_typed_by_a_customer_comes_back_exactly(inst: Instance) -> None:
    jane = inst.customer("jane")
    typed = 'Tom & Jerry <b>not bold</b> "quoted"\nsecond line https://example.com/a?b=1&c=2 #help'
    inst.mention(jane, typed)
    (event,) = inst.connector().fetch({}).events
    assert event.text == typed
    assert "&amp;" in event.raw["status"]["content"]


# --- private mentions ---------------------------------------------------------------------------------


def test_a_direct_status_is_a_private_message(inst: Instance) -> None:
    kim = inst.customer("kim")
    inst.net.follow(inst.brand["id"], kim)  # followed: not filtered
    dm = inst.mention(kim, "my card number ends 4242", visibility="direct")
    (event,) = inst.connector().fetch({}).events
    assert event.external_id == dm["id"] and not event.public and event.thread == f"dm:{kim}"
    assert event.raw["status"]["visibility"] == "direct"


def test_a_filtered_dm_from_a_stranger_is_fetched(inst: Instance) -> None:
    stranger = inst.customer("stranger", domain="far.example")
    inst.mention(stranger, "psst, private question", visibility="direct")
    # Mastodon 4.3's default policy filters it: not in the plain notification list, only in a request.
    plain = inst.http.get(
        f"{inst.url}/api/v1/notifications", headers={"Authorization": f"Bearer {inst.token}"}
    )
    assert plain.status_code == 200 and plain.json() == []
    (request,) = inst.net.notification_requests(inst.brand["id"])
    assert request["account"]["id"] == stranger and request["notifications_count"] == "1"
    (event,) = inst.connector().fetch({}).events
    assert event.text == "psst, private question" and not event.public and event.author.id == stranger


def test_verify_refuses_a_policy_that_drops_private_mentions(inst: Instance) -> None:
    connector = inst.connector()
    connector.verify()
    inst.net.set_policy(inst.brand["id"], for_private_mentions="drop")
    with pytest.raises(ConnectorError) as err:
        connector.verify()
    assert not err.value.retryable and "for_private_mentions=drop" in err.value.message


def test_verify_checks_the_token_belongs_to_the_account(inst: Instance) -> None:
    other = inst.customer("imposter", domain=None)
    inst.token = inst.net.issue_token(other)
    with pytest.raises(ConnectorError) as err:
        inst.connector().verify()
    assert "not to the configured account_id" in err.value.message and not err.value.retryable
    inst.token = inst.net.issue_token(inst.brand["id"])
    with pytest.raises(ConnectorError) as err:
        inst.connector(acct="someoneelse").verify()
    assert "@someoneelse" in err.value.message


# --- replies ------------------------------------------------------------------------------------------


def test_private_reply_mentions_the_acct_and_is_direct(inst: Instance) -> None:
    kim = inst.customer("kim")
    dm = inst.mention(kim, "help please", visibility="direct")
    connector = inst.connector()
    out = reply(public=False, in_reply_to=dm["id"], thread=f"dm:{kim}", recipient=kim, text="Hi Kim, on it")
    result = connector.send(connector.prepare(out, context(target_public=False)))
    (status,) = inst.net.published(inst.brand["id"])
    assert status["id"] == result.external_id
    assert status["visibility"] == "direct" and status["in_reply_to_id"] == dm["id"]
    assert inst.net.statuses[status["id"]].text == "@kim@social.example Hi Kim, on it"
    assert [m["id"] for m in status["mentions"]] == [kim]
    (post,) = inst.net.calls("POST", "/api/v1/statuses")
    assert post["idempotency_key"] == "k-1"


def test_private_reply_that_already_mentions_is_not_doubled(inst: Instance) -> None:
    kim = inst.customer("kim")
    dm = inst.mention(kim, "hello", visibility="direct")
    text = "Thanks @Kim@social.example, done."
    inst.connector().send(
        reply(public=False, in_reply_to=dm["id"], thread=f"dm:{kim}", recipient=kim, text=text)
    )
    (status,) = inst.net.published(inst.brand["id"])
    assert inst.net.statuses[status["id"]].text == text


def test_private_reply_about_a_public_status_starts_a_new_dm(inst: Instance) -> None:
    lee = inst.customer("lee", domain=None)  # a local account: acct without a domain
    post = inst.mention(lee, "public complaint")
    inst.connector().send(reply(public=False, in_reply_to=post["id"], recipient=lee, text="Let's talk here"))
    (status,) = inst.net.published(inst.brand["id"])
    assert status["visibility"] == "direct" and status["in_reply_to_id"] is None
    assert inst.net.statuses[status["id"]].text == "@lee Let's talk here"


def test_public_reply_keeps_an_unlisted_visibility_and_mentions_the_author(inst: Instance) -> None:
    jane = inst.customer("jane")
    loud = inst.mention(jane, "public one")
    quiet = inst.mention(jane, "unlisted one", visibility="unlisted")
    connector = inst.connector()
    connector.send(reply(in_reply_to=loud["id"], recipient=jane, idempotency_key="a"))
    connector.send(reply(in_reply_to=quiet["id"], recipient=jane, idempotency_key="b"))
    first, second = inst.net.published(inst.brand["id"])
    assert (first["visibility"], first["in_reply_to_id"]) == ("public", loud["id"])
    assert (second["visibility"], second["in_reply_to_id"]) == ("unlisted", quiet["id"])
    assert inst.net.statuses[first["id"]].text == "@jane@social.example Thanks, we are on it"


def test_replying_to_a_deleted_status_is_a_clear_final_error(inst: Instance) -> None:
    with pytest.raises(ConnectorError) as err:
        inst.connector().send(reply(in_reply_to="113000000000000000"))
    assert not err.value.retryable and "no longer exists" in err.value.message
    assert inst.net.calls("POST", "/api/v1/statuses") == []


def test_prepare_refuses_what_mastodon_cannot_send() -> None:
    connector = MastodonConnector(
        ChannelContext(id=1, own_account_id="1", config={}, credentials={}),
        http=httpx.Client(),
        clock=SystemClock(),
    )
    with pytest.raises(InvalidInput, match="reply privately"):
        connector.prepare(reply(in_reply_to="5", public=True), context(target_public=False))
    with pytest.raises(InvalidInput, match="no Mastodon account"):
        connector.prepare(reply(public=False, recipient=None), context())
    with pytest.raises(InvalidInput, match="answers one of the customer's statuses"):
        connector.prepare(reply(in_reply_to=None), context(target_public=None))


def test_the_mention_counts_towards_the_length(inst: Instance) -> None:
    jane = inst.customer("jane")
    post = inst.mention(jane, "hi")
    with pytest.raises(ConnectorError) as err:
        inst.connector().send(reply(in_reply_to=post["id"], text="x" * 495))  # + "@jane " = 501
    assert not err.value.retryable and "shorten it by 1" in err.value.message
    assert inst.net.calls("POST", "/api/v1/statuses") == []


def test_mention_matching() -> None:
    assert mentions("hi @jane@social.example!", "jane@social.example")
    assert not mentions("hi @jane@other.example", "jane@social.example")
    assert mentions("@JANE thanks", "jane") and not mentions("@janet thanks", "jane")
    assert not mentions("mail jane@social.example", "jane@social.example")
    assert with_mentions("hello", ["a", "b@x.example", "a"]) == "@a @b@x.example hello"


def test_the_idempotency_key_makes_a_resend_return_the_same_status(inst: Instance) -> None:
    jane = inst.customer("jane")
    post = inst.mention(jane, "are you there")
    connector = inst.connector()
    out = reply(in_reply_to=post["id"], recipient=jane, idempotency_key="same-key")
    first = connector.send(out)
    again = connector.send(out)  # e.g. after a timeout whose answer was lost
    assert again.external_id == first.external_id
    assert len(inst.net.published(inst.brand["id"])) == 1
    other = connector.send(reply(in_reply_to=post["id"], recipient=jane, idempotency_key="other-key"))
    assert other.external_id != first.external_id
    inst.net.idempotency_ttl = 0  # an hour later Mastodon has forgotten the key
    later = connector.send(reply(in_reply_to=post["id"], recipient=jane, idempotency_key="fresh"))
    assert connector.send(reply(in_reply_to=post["id"], recipient=jane, idempotency_key="fresh")) != later
    assert len(inst.net.published(inst.brand["id"])) == 4


def test_a_send_that_timed_out_is_resent_once(inst: Instance) -> None:
    jane = inst.customer("jane")
    post = inst.mention(jane, "hello?")
    inst.net.fail_next("send", "timeout")
    connector = inst.connector()
    inst.http.timeout = httpx.Timeout(0.5)
    out = reply(in_reply_to=post["id"], recipient=jane)
    with pytest.raises(ConnectorError) as err:
        connector.send(out)
    assert err.value.retryable and "timed out" in err.value.message
    assert connector.send(out).external_id == inst.net.published(inst.brand["id"])[0]["id"]
    assert len(inst.net.published(inst.brand["id"])) == 1


# --- rate limits and errors ---------------------------------------------------------------------------


def test_reset_parsing_iso_and_epoch() -> None:
    iso = parse_reset("2026-11-20T09:05:00.064485Z")
    assert iso == datetime(2026, 11, 20, 9, 5, 0, 64485, tzinfo=UTC)
    assert parse_reset("1795165500") == datetime.fromtimestamp(1795165500, UTC)
    assert parse_reset("1795165500.5") == datetime.fromtimestamp(1795165500.5, UTC)
    assert parse_reset("soon") is None and parse_reset(None) is None and parse_reset("nan") is None
    now = datetime(2026, 11, 20, 9, 4, 0, tzinfo=UTC)
    assert retry_after({"x-ratelimit-reset": "2026-11-20T09:05:00.000000Z"}, now) == 60.0
    assert (
        retry_after({"x-ratelimit-reset": str(int((now + timedelta(seconds=90)).timestamp()))}, now) == 90.0
    )
    assert retry_after({"x-ratelimit-reset": "2026-11-20T09:00:00Z"}, now) == 1.0  # past: soon, not never
    assert retry_after({"retry-after": "7"}, now) == 7.0
    limits = rate_limit({"x-ratelimit-limit": "300", "x-ratelimit-remaining": "12"})
    assert (limits.limit, limits.remaining, limits.reset) == (300, 12, None)


@pytest.mark.parametrize("reset_format", ["iso", "epoch"])
def test_429_backs_off_until_the_reset(inst: Instance, reset_format: str) -> None:
    inst.net.reset_format = reset_format
    inst.net.fail_next("fetch", "429")
    clock = FrozenClock(datetime.now(UTC))
    with pytest.raises(ConnectorError) as err:
        inst.connector(clock=clock).fetch({})
    window_end = (int(clock.now().timestamp()) // 300 + 1) * 300
    expected = window_end - clock.now().timestamp()
    assert err.value.retryable and "rate limit" in err.value.message
    assert err.value.retry_after is not None and abs(err.value.retry_after - max(1.0, expected)) < 1.0


def test_the_real_limit_answers_429_with_the_headers(inst: Instance) -> None:
    inst.net.rate_limit = 3
    connector = inst.connector()
    connector.fetch({})  # notifications (+ the empty page) and the brand's statuses: 2 requests
    response = inst.http.get(
        f"{inst.url}/api/v1/notifications", headers={"Authorization": f"Bearer {inst.token}"}
    )
    assert response.headers["X-RateLimit-Remaining"] == "0"
    with pytest.raises(ConnectorError) as err:
        connector.fetch({})
    assert err.value.retryable and err.value.retry_after is not None and err.value.retry_after > 0


def test_an_invalid_token_is_a_clear_final_error_without_the_token(inst: Instance) -> None:
    inst.token = "not-a-real-token-abc123"
    with pytest.raises(ConnectorError) as err:
        inst.connector().fetch({})
    assert not err.value.retryable
    assert "The access token is invalid" in err.value.message and "credentials" in err.value.message
    assert "abc123" not in err.value.message


def test_a_token_without_write_scope_is_named(inst: Instance) -> None:
    jane = inst.customer("jane")
    post = inst.mention(jane, "hi")
    inst.token = inst.net.issue_token(inst.brand["id"], scopes=["read"])
    with pytest.raises(ConnectorError) as err:
        inst.connector().send(reply(in_reply_to=post["id"]))
    assert not err.value.retryable and "outside the authorized scopes" in err.value.message
    assert "write:statuses" in err.value.message


@pytest.mark.parametrize(
    ("failure", "retryable"), [("500", True), ("503", True), ("422", False), ("404", False)]
)
def test_error_classes(inst: Instance, failure: str, retryable: bool) -> None:
    inst.net.fail_next("fetch", failure)
    with pytest.raises(ConnectorError) as err:
        inst.connector().fetch({})
    assert err.value.retryable is retryable and f"HTTP {failure}" in err.value.message


def test_a_hanging_fetch_is_a_retryable_timeout(inst: Instance) -> None:
    inst.net.hang_seconds = 1.5
    inst.net.fail_next("fetch", "timeout")
    inst.http.timeout = httpx.Timeout(0.3)
    with pytest.raises(ConnectorError) as err:
        inst.connector().fetch({})
    assert err.value.retryable and "timed out" in err.value.message


def test_the_instance_refusing_a_long_status_is_final(inst: Instance) -> None:
    jane = inst.customer("jane")
    post = inst.mention(jane, "hi")
    # The channel believes in 1000 characters; this instance allows 500.
    with pytest.raises(ConnectorError) as err:
        inst.connector(max_characters=1000).send(reply(in_reply_to=post["id"], text="y" * 600))
    assert not err.value.retryable and "character limit of 500 exceeded" in err.value.message


def test_missing_configuration_is_named() -> None:
    def make(config: dict[str, Any], credentials: dict[str, Any]) -> MastodonConnector:
        return MastodonConnector(
            ChannelContext(id=1, own_account_id="1", config=config, credentials=credentials),
            http=httpx.Client(),
            clock=SystemClock(),
        )

    with pytest.raises(NotConfigured, match="base_url"):
        make({"base_url": "mastodon.social"}, {"access_token": "t"}).fetch({})
    with pytest.raises(NotConfigured, match="access_token"):
        make({"base_url": "https://mastodon.social"}, {}).fetch({})


# --- the brand's own statuses -------------------------------------------------------------------------


def test_own_replies_written_elsewhere_come_in_as_outbound(inst: Instance) -> None:
    jane = inst.customer("jane")
    brand = inst.brand["id"]
    old = inst.mention(jane, "old question")
    inst.net.post(brand, "@jane@social.example an old answer", in_reply_to_id=old["id"])
    connector = inst.connector()
    first = connector.fetch({})
    assert [e.direction for e in first.events] == [Direction.IN]  # the brand's history is not imported
    question = inst.mention(jane, "new question")
    inst.net.post(brand, "@jane@social.example answered from the phone app", in_reply_to_id=question["id"])
    inst.net.post(brand, "Big sale today! Thanks @jane@social.example")  # a broadcast: not care work
    second = connector.fetch(first.cursor)
    inbound, outbound = second.events
    assert inbound.text == "new question" and inbound.direction == Direction.IN
    assert outbound.direction == Direction.OUT and outbound.author.id == brand
    assert outbound.in_reply_to == question["id"]
    assert outbound.recipient is not None and outbound.recipient.id == jane
    assert connector.fetch(second.cursor).events == []


def test_poller_threads_dm_and_own_answer_into_one_conversation(rt: Runtime, inst: Instance) -> None:
    system = Actor.system()
    ws = admin.create_workspace(rt, system, slug="m", name="M")
    channel = admin.create_channel(
        rt,
        system,
        workspace_id=ws.id,
        connector="mastodon",
        name="Mastodon",
        config={"base_url": inst.url, "account_id": inst.brand["id"]},
        credentials={"access_token": inst.token},
        own_account_id=inst.brand["id"],
    )
    kim = inst.customer("kim")
    poller = Poller(rt)

    def poll() -> None:
        with rt.db.write() as s:
            s.execute(sa.update(m.Channel).where(m.Channel.id == channel.id).values(next_poll_at=None))
        poller.run_once()
        Pipeline(rt).drain()

    poll()
    dm = inst.mention(kim, "where is my parcel?", visibility="direct")
    poll()
    inst.net.post(
        inst.brand["id"], "@kim@social.example it left today", visibility="direct", in_reply_to_id=dm["id"]
    )
    inst.mention(kim, "thanks!", visibility="direct")
    poll()
    with rt.db.read() as s:
        rows = list(s.scalars(sa.select(m.Message).order_by(m.Message.created_at)))
    assert [(r.direction, r.text, r.is_public) for r in rows] == [
        ("in", "where is my parcel?", False),
        ("out", "@kim@social.example it left today", False),
        ("in", "thanks!", False),
    ]
    assert len({r.conversation_id for r in rows}) == 1
    assert {r.thread for r in rows} == {f"dm:{kim}"}


# --- streaming ----------------------------------------------------------------------------------------


def test_parse_sse() -> None:
    lines = [":)", "event: notification", 'data: {"id": "1"}', "", ":thump", "data: a", "data: b", ""]
    assert list(parse_sse(lines)) == [
        None,
        Frame("notification", '{"id": "1"}'),
        None,
        Frame("message", "a\nb"),
    ]


@dataclass
class StreamRun:
    thread: threading.Thread
    stop: threading.Event
    results: list[FetchResult]
    errors: list[BaseException]

    def texts(self) -> list[str]:
        return [e.text for r in self.results for e in r.events]

    def wait_for(self, text: str, seconds: float = 5.0) -> None:
        deadline = time.monotonic() + seconds
        while text not in self.texts():
            assert not self.errors, self.errors
            assert time.monotonic() < deadline, f"{text!r} not delivered; got {self.texts()}"
            time.sleep(0.05)


@pytest.fixture
def streaming(inst: Instance) -> Iterator[Any]:
    runs: list[StreamRun] = []
    inst.net.heartbeat_seconds = 0.2

    def start(poll_seconds: float) -> StreamRun:
        run = StreamRun(threading.Thread(daemon=True), threading.Event(), [], [])
        connector = inst.connector()

        def target() -> None:
            try:
                connector.stream({}, run.results.append, run.stop, poll_seconds=poll_seconds, read_timeout=2)
            except BaseException as exc:
                run.errors.append(exc)

        run.thread = threading.Thread(target=target, daemon=True)
        run.thread.start()
        runs.append(run)
        return run

    yield start
    for run in runs:
        run.stop.set()
    inst.net.close_streams()
    for run in runs:
        run.thread.join(5)
        assert not run.thread.is_alive()


def test_the_stream_wakes_a_fetch_at_once(inst: Instance, streaming: Any) -> None:
    friend = inst.customer("friend")
    inst.net.follow(inst.brand["id"], friend)
    run = streaming(poll_seconds=60)  # no timed fetch during the test: only the stream can bring it
    deadline = time.monotonic() + 5
    while inst.net.streams == 0:
        assert time.monotonic() < deadline and not run.errors, run.errors
        time.sleep(0.05)
    before = len(inst.net.calls("GET", "/api/v1/notifications"))
    inst.mention(friend, "hello over the stream")
    run.wait_for("hello over the stream")
    assert len(inst.net.calls("GET", "/api/v1/notifications")) > before
    assert run.results[-1].cursor["since_id"] == max(inst.net.notifications, key=lambda v: (len(v), v))


def test_filtered_dms_are_not_streamed_but_still_fetched(inst: Instance, streaming: Any) -> None:
    run = streaming(poll_seconds=0.5)
    stranger = inst.customer("stranger")
    inst.mention(stranger, "a private word", visibility="direct")
    run.wait_for("a private word")


def test_a_failing_stream_falls_back_to_polling(inst: Instance, streaming: Any) -> None:
    inst.net.fail_next("GET /api/v1/streaming/user/notification", "500", "500", "500")
    run = streaming(poll_seconds=0.2)
    jane = inst.customer("jane")
    inst.mention(jane, "anyone home?")
    run.wait_for("anyone home?")
    assert inst.net.streams == 0
    assert len(inst.net.calls("GET", "/api/v1/streaming/user/notification")) == 1


def test_a_refused_token_ends_the_stream_with_the_error(inst: Instance) -> None:
    inst.token = "revoked"
    with pytest.raises(ConnectorError) as err:
        inst.connector().stream({}, lambda r: None, threading.Event(), poll_seconds=0.1)
    assert not err.value.retryable and "access token" in err.value.message


def test_a_malformed_notification_is_skipped_not_blocking() -> None:
    good = fixture("notification_public_reply.json")
    broken = json.loads(json.dumps(good))
    broken["id"], broken["status"]["id"] = "41207", "113517604421093999"
    del broken["status"]["created_at"]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/notifications" and "max_id" not in request.url.params:
            link = '<https://mastodon.example/api/v1/notifications?max_id=41206>; rel="next"'
            return httpx.Response(200, json=[broken, good], headers={"Link": link})
        return httpx.Response(200, json=[])

    connector = MastodonConnector(
        ChannelContext(
            id=1,
            own_account_id=BRAND_ID,
            config={"base_url": "https://mastodon.example", "account_id": BRAND_ID},
            credentials={"access_token": "t"},
        ),
        http=httpx.Client(transport=httpx.MockTransport(handler)),
        clock=SystemClock(),
    )
    result = connector.fetch({"since_id": "41000", "own_since_id": "0"})
    assert [e.external_id for e in result.events] == [good["status"]["id"]]
    assert result.cursor["since_id"] == "41207"  # the broken one is passed, not fetched forever
