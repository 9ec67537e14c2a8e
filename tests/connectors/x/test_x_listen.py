"""Listening on X: stream rules synced from the watch rules, the filtered stream read for a bounded time,
the fake's rule syntax and rule limits, the stream fixture, and the whole path through poller and pipeline."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from caredesk.actions import admin
from caredesk.actions.base import Actor
from caredesk.connectors.base import ChannelContext
from caredesk.connectors.x import listen
from caredesk.connectors.x.api import XApi
from caredesk.connectors.x.connector import XConnector
from caredesk.domain.clock import SystemClock
from caredesk.domain.errors import ConnectorError
from caredesk.domain.watch import WatchSpec, to_x_rule
from caredesk.fakes.webhook_network import ServerThread
from caredesk.fakes.x import FakeX, RuleError, compile_rule
from caredesk.pipeline.runner import Pipeline
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from caredesk.workers.poller import LISTEN_KEY, Poller

FIXTURES = Path(__file__).parent / "fixtures"
BRAND = "783214"
RULE = WatchSpec(keywords=("nordlys",), exclusions=("aurora",), languages=("da", "en"))


@pytest.fixture
def net() -> Iterator[tuple[FakeX, ServerThread]]:
    fake = FakeX(brand_id=BRAND)
    fake.stream_keepalive = 0.1
    server = ServerThread(fake.app).start()
    yield fake, server
    server.stop()


def connector_for(fake: FakeX, server: ServerThread, http: httpx.Client, seconds: float = 1.0) -> XConnector:
    context = ChannelContext(
        id=1,
        own_account_id=BRAND,
        config={"base_url": server.url, "user_id": BRAND, "stream_seconds": seconds},
        credentials={"bearer_token": fake.bearer_token, "user_token": fake.user_token},
    )
    return XConnector(context, http=http, clock=SystemClock())


@pytest.fixture
def x(net: tuple[FakeX, ServerThread]) -> Iterator[tuple[FakeX, XConnector]]:
    fake, server = net
    with httpx.Client(timeout=httpx.Timeout(1.0)) as http:
        yield fake, connector_for(fake, server, http)


# --- the fake's rule syntax -------------------------------------------------------------------------


def _matches(rule: str, fake: FakeX, text: str, *, lang: str = "en", author: str = "jane") -> bool:
    tweet = fake.post(author, text, lang=lang)
    return compile_rule(rule)(tweet, author)


def test_fake_rule_syntax_covers_what_to_x_rule_produces() -> None:
    fake = FakeX(brand_id=BRAND)
    spec = WatchSpec(
        keywords=("nordlys", "#nordlysdown"),
        phrases=("login broken",),
        exclusions=("aurora",),
        languages=("en",),
    )
    rule = to_x_rule(spec)
    assert rule == '(nordlys OR #nordlysdown OR "login broken") -aurora lang:en -is:retweet'
    assert _matches(rule, fake, "Nordlys is slow today")
    assert _matches(rule, fake, "my LOGIN   broken again")  # phrase, case and spacing
    assert _matches(rule, fake, "why #NordlysDown")
    assert not _matches(rule, fake, "nordlys and aurora")  # negated term
    assert not _matches(rule, fake, "nordlys er nede", lang="da")  # lang:
    assert not _matches(rule, fake, "nordlysville")  # whole words only
    assert not _matches(rule, fake, "login is broken")  # a phrase is exact
    original = fake.post("kim", "nordlys down")
    retweet = fake.retweet("lee", original.id)
    assert not compile_rule(rule)(retweet, "lee")  # -is:retweet
    assert compile_rule("nordlys from:kim")(original, "kim") and not compile_rule("nordlys from:kim")(
        retweet, "lee"
    )
    assert _matches("a b OR c", fake, "c") and not _matches("a b OR c", fake, "a")  # AND binds tighter
    assert _matches("-(a OR b) c", fake, "c") and not _matches("-(a OR b) c", fake, "c b")


@pytest.mark.parametrize(
    ("rule", "why"),
    [
        ("-nordlys", "non-negation"),
        ("(nordlys", "parenthesis"),
        ("nordlys OR", "OR"),
        ("nordlys lang:english", "language"),
        ("nordlys is:pizza", "operator"),
        ('nordlys "unclosed', "quotes"),
        ("a" * 1025, "too long"),
    ],
)
def test_fake_refuses_invalid_rules(rule: str, why: str) -> None:
    with pytest.raises(RuleError, match=why):
        compile_rule(rule)


# --- rules endpoints (fake) -------------------------------------------------------------------------


def test_rules_endpoints_add_delete_dry_run_and_limits(net: tuple[FakeX, ServerThread]) -> None:
    fake, server = net
    app = {"Authorization": f"Bearer {fake.bearer_token}"}
    path = f"{server.url}/2/tweets/search/stream/rules"
    with httpx.Client(headers=app) as http:
        empty = http.get(path)
        assert empty.status_code == 200 and empty.json()["meta"]["result_count"] == 0
        dry = http.post(path, params={"dry_run": "true"}, json={"add": [{"value": "acme", "tag": "t"}]})
        assert dry.json()["meta"]["summary"] == {"created": 0, "not_created": 1, "valid": 1, "invalid": 0}
        assert fake.stream_rules() == []
        added = http.post(path, json={"add": [{"value": "acme", "tag": "t"}, {"value": "nordlys"}]})
        assert added.status_code == 200
        assert added.json()["meta"]["summary"] == {"created": 2, "not_created": 0, "valid": 2, "invalid": 0}
        ids = [r["id"] for r in added.json()["data"]]
        dup = http.post(path, json={"add": [{"value": "acme", "tag": "other"}]})
        assert dup.json()["errors"][0]["title"] == "DuplicateRule" and dup.json()["errors"][0]["id"] == ids[0]
        bad = http.post(path, json={"add": [{"value": "x" * 1025}, {"value": "fine"}]})
        assert bad.status_code == 400 and bad.json()["meta"]["summary"]["invalid"] == 1
        assert len(fake.stream_rules()) == 2  # nothing created when one rule is invalid
        listed = http.get(path, params={"ids": ids[1]})
        assert [r["value"] for r in listed.json()["data"]] == ["nordlys"]
        paged = http.get(path, params={"max_results": "1"})
        assert len(paged.json()["data"]) == 1 and len(paged.json()["meta"]["next_token"]) == 16
        second = http.get(
            path, params={"max_results": "1", "pagination_token": paged.json()["meta"]["next_token"]}
        )
        assert second.json()["data"][0]["id"] == ids[1]
        gone = http.post(path, json={"delete": {"ids": [ids[0], "1"]}})
        assert gone.json()["meta"]["summary"] == {"deleted": 1, "not_deleted": 1}
        assert [r["value"] for r in fake.stream_rules()] == ["nordlys"]
        neither = http.post(path, json={"add": [{"value": "a"}], "delete": {"ids": ids}})
        assert neither.status_code == 400
        user = http.get(path, headers={"Authorization": f"Bearer {fake.user_token}"})
        assert user.status_code == 403  # app-only
        many = [{"value": f"word{i}"} for i in range(1000)]
        capped = http.post(path, json={"add": many})
        assert capped.status_code == 403 and "1000" in capped.json()["detail"]
        cleared = http.post(path, params={"delete_all": "true"})
        assert cleared.json()["meta"]["summary"]["deleted"] == 1 and fake.stream_rules() == []
        assert (
            int(added.headers["x-rate-limit-limit"]) == 100
            and int(empty.headers["x-rate-limit-limit"]) == 450
        )


# --- the connector: rules sync ----------------------------------------------------------------------


def test_watch_syncs_only_caredesk_rules_of_this_channel(x: tuple[FakeX, XConnector]) -> None:
    fake, connector = x
    with fake._lock:  # another tool's rule and another channel's rule on the same app
        fake.rules["1"] = _rule(fake, "1", "competitor -is:retweet", "marketing")
        fake.rules["2"] = _rule(fake, "2", "other", "caredesk:999:0123456789abcdef")
    connector.watch([RULE], {})
    rules = {r["value"]: r.get("tag") for r in fake.stream_rules()}
    value = to_x_rule(RULE)
    assert rules == {
        "competitor -is:retweet": "marketing",
        "other": "caredesk:999:0123456789abcdef",
        value: listen.rule_tag(BRAND, value),
    }
    posts_before = len([r for r in fake.requests if r[0] == "POST"])
    connector.watch([RULE], {})  # already in sync: no write
    assert len([r for r in fake.requests if r[0] == "POST"]) == posts_before
    newer = WatchSpec(keywords=("acme",))
    connector.watch([newer], {})
    assert {r["value"] for r in fake.stream_rules()} == {"competitor -is:retweet", "other", to_x_rule(newer)}


def _rule(fake: FakeX, rule_id: str, value: str, tag: str) -> Any:
    from caredesk.fakes.x import StreamRule

    return StreamRule(rule_id, value, tag, compile_rule(value))


def test_a_rule_identical_to_another_tools_rule_still_listens(x: tuple[FakeX, XConnector]) -> None:
    fake, connector = x
    value = to_x_rule(RULE)
    with fake._lock:
        fake.rules["5"] = _rule(fake, "5", value, "someone-else")
    fake.post_on_connect("jane", "nordlys is down", lang="en")
    result = connector.watch([RULE], {})
    assert [e.text for e in result.events] == ["nordlys is down"]
    assert fake.stream_rules() == [{"id": "5", "value": value, "tag": "someone-else"}]


# --- the connector: reading the stream --------------------------------------------------------------


def test_stream_reads_new_posts_and_skips_own_retweets_and_mentions(x: tuple[FakeX, XConnector]) -> None:
    fake, connector = x
    before = fake.post("kim", "nordlys posted before anyone connected")  # X never sends it
    fake.post_on_connect("jane", "Nordlys has been down all morning", lang="en")
    fake.post_on_connect("lee", "nordlys er nede", lang="da")
    fake.post_on_connect(BRAND, "Nordlys: we are on it")  # the brand's own post
    fake.post_on_connect("sam", "@acme nordlys login fails")  # a mention: fetch() reads it
    fake.post_on_connect("ann", "a post about nothing")
    started = time.monotonic()
    result = connector.watch([RULE], {})
    assert time.monotonic() - started < 4  # bounded
    assert [(e.text, e.language) for e in result.events] == [
        ("Nordlys has been down all morning", "en"),
        ("nordlys er nede", "da"),
    ]
    event = result.events[0]
    assert event.listening and event.public and event.author.handle == "@jane"
    assert event.author.id == fake.user("jane").id and event.external_id in result.cursor["seen"]
    assert before.id not in result.cursor["seen"]
    assert _closed(fake)  # the connection was closed
    retweet = fake.retweet("kim", result.events[0].external_id)
    fake.post_on_connect("zoe", "nordlys again")
    fake.post_on_connect("kim", "RT again", lang="en")
    second = connector.watch([RULE], result.cursor)
    assert [e.text for e in second.events] == ["nordlys again"]
    assert retweet.id not in [e.external_id for e in second.events]
    assert set(result.cursor["seen"]) <= set(second.cursor["seen"])


def _closed(fake: FakeX) -> bool:
    for _ in range(100):
        if fake.stream_connections == 0:
            return True
        time.sleep(0.02)
    return False


def test_stream_fixture_and_repeats_across_reconnects_are_dropped() -> None:
    raw = (FIXTURES / "search_stream.jsonl").read_bytes()
    assert b"\r\n\r\n" in raw  # keep-alives

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == listen.STREAM_PATH
        assert "author_id" in request.url.params["expansions"]
        return httpx.Response(200, content=raw)

    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        api = XApi(http, "https://api.x.test", {"bearer_token": "t"})
        ours = {"1861230000000000001"}
        first = listen.read_stream(api, BRAND, ours, [], seconds=1, max_posts=100, now=SystemClock().now())
        again = listen.read_stream(
            api, BRAND, ours, first.seen, seconds=1, max_posts=100, now=SystemClock().now()
        )
        cut = listen.read_stream(api, BRAND, ours, [], seconds=1, max_posts=1, now=SystemClock().now())
    # repost, brand's own, another channel's rule and a mention of the brand are not listened to
    assert [(e.external_id, e.language, e.text) for e in first.events] == [
        ("1861234567890123401", "en", "Nordlys app has been down all morning, anyone else?"),
        ("1861234567890123406", "da", "Nordlys er nede igen & ingen svar"),
    ]
    assert first.events[0].author.handle == "@jane_doe_demo" and first.events[0].author.followers == 310
    assert all(e.listening and e.public for e in first.events)
    assert again.events == []  # the same posts delivered again after a reconnect
    assert cut.more and len(cut.events) == 1


def test_stream_errors_map_as_x_documents(x: tuple[FakeX, XConnector]) -> None:
    fake, connector = x
    fake.fail_next(429, on="stream")
    with pytest.raises(ConnectorError, match="too many connections") as limited:
        connector.watch([RULE], {})
    assert (
        limited.value.retryable and limited.value.retry_after is not None and limited.value.retry_after >= 25
    )
    fake.fail_next(503, on="stream")
    with pytest.raises(ConnectorError, match="failing") as failing:
        connector.watch([RULE], {})
    assert failing.value.retryable
    fake.fail_next(429, on="write")
    with pytest.raises(ConnectorError, match="rate limit") as rules_limited:
        connector.watch([WatchSpec(keywords=("fresh",))], {})
    assert rules_limited.value.retry_after is not None
    with fake._lock:
        fake.stream_connections = 1  # someone else holds the app's one connection
    with pytest.raises(ConnectorError, match="429") as busy:
        connector.watch([RULE], {})
    assert busy.value.retryable


def test_a_rule_x_refuses_is_a_clear_error(net: tuple[FakeX, ServerThread]) -> None:
    fake, server = net

    def bad_rule(_spec: WatchSpec) -> str:
        return "(nordlys"

    with httpx.Client(timeout=1.0) as http, pytest.MonkeyPatch.context() as patch:
        patch.setattr(listen, "to_x_rule", bad_rule)
        with pytest.raises(ConnectorError, match="edit or disable that watch rule") as refused:
            connector_for(fake, server, http).watch([RULE], {})
    assert not refused.value.retryable and "parenthesis" in refused.value.message


# --- end to end: poller and pipeline ----------------------------------------------------------------


@pytest.fixture
def channel(rt: Runtime, net: tuple[FakeX, ServerThread]) -> int:
    fake, server = net
    system = Actor.system()
    ws = admin.create_workspace(rt, system, slug="acme", name="Acme")
    made = admin.create_channel(
        rt,
        system,
        workspace_id=ws.id,
        connector="x",
        name="@acme",
        config={"base_url": server.url, "user_id": BRAND, "stream_seconds": 1},
        credentials={"bearer_token": fake.bearer_token, "user_token": fake.user_token},
        own_account_id=BRAND,
    )
    admin.create_watch_rule(
        rt,
        system,
        workspace_id=ws.id,
        name="brand",
        keywords=["nordlys"],
        exclusions=["aurora"],
        languages=["en"],
    )
    rt.http.timeout = httpx.Timeout(1.0)
    return made.id


def _poll(rt: Runtime, channel_id: int) -> None:
    with rt.db.write() as s:
        s.execute(sa.update(m.Channel).where(m.Channel.id == channel_id).values(next_poll_at=None))
    assert Poller(rt).run_once() == 1
    Pipeline(rt).drain()


def test_listening_end_to_end(rt: Runtime, net: tuple[FakeX, ServerThread], channel: int) -> None:
    fake, _server = net
    fake.post_on_connect("jane", "Nordlys has been down all morning")
    fake.post_on_connect("kim", "What a nordlys tonight, aurora everywhere")  # excluded word
    fake.post_on_connect("lee", "Nordlys est en panne", lang="fr")  # language not watched
    fake.post_on_connect("ann", "unrelated post")
    _poll(rt, channel)
    with rt.db.read() as s:
        kept = list(s.scalars(sa.select(m.Message)))
        convs = list(s.scalars(sa.select(m.Conversation)))
        stored = s.get(m.Channel, channel)
    assert [msg.text for msg in kept] == ["Nordlys has been down all morning"]
    assert kept[0].listening and [c.is_direct for c in convs] == [False]
    assert stored is not None and stored.last_error is None and stored.cursor[LISTEN_KEY]["seen"]
    fake.post_on_connect("zoe", "nordlys still broken")
    _poll(rt, channel)
    with rt.db.read() as s:
        texts = sorted(s.scalars(sa.select(m.Message.text)))
    assert texts == ["Nordlys has been down all morning", "nordlys still broken"]  # new only, no duplicate


@pytest.mark.parametrize(("code", "words"), [(429, "too many connections"), (500, "failing")])
def test_stream_failure_backs_off_with_the_error_on_the_channel(
    rt: Runtime, net: tuple[FakeX, ServerThread], channel: int, code: int, words: str
) -> None:
    fake, _server = net
    fake.fail_next(code, on="stream")
    _poll(rt, channel)
    with rt.db.read() as s:
        stored = s.get(m.Channel, channel)
    assert stored is not None and stored.last_error is not None and words in stored.last_error
    assert stored.poll_failures == 1 and stored.next_poll_at is not None
    assert stored.next_poll_at > rt.clock.now()


# --- the fake against X's OpenAPI document ---------------------------------------------------------


def test_rules_and_stream_answers_validate_against_x_openapi(net: tuple[FakeX, ServerThread]) -> None:
    from tests.connectors.x.test_x import _openapi, _validate

    spec = _openapi()
    jsonschema = pytest.importorskip("jsonschema")
    fake, server = net
    path = "/2/tweets/search/stream/rules"
    app = {"Authorization": f"Bearer {fake.bearer_token}"}
    with httpx.Client(base_url=server.url, headers=app, timeout=3) as http:
        added = http.post(path, json={"add": [{"value": to_x_rule(RULE), "tag": "t"}, {"value": "acme"}]})
        duplicate = http.post(path, json={"add": [{"value": "acme"}]})
        invalid = http.post(path, json={"add": [{"value": "-only"}]})
        listed = http.get(path)
        deleted = http.post(path, json={"delete": {"ids": [added.json()["data"][1]["id"], "12"]}})
        assert (added.status_code, duplicate.status_code, invalid.status_code) == (200, 200, 400)
        _validate(spec, path, "post", added)
        _validate(spec, path, "post", duplicate)
        _validate(spec, path, "post", invalid)
        _validate(spec, path, "get", listed)
        _validate(spec, path, "post", deleted)
        fake.post_on_connect("jane", "Nordlys has been down all morning")
        params = {
            "tweet.fields": listen.STREAM_TWEET_FIELDS,
            "expansions": "author_id",
            "user.fields": "username,name",  # v2.167 counts post_count: see test_x naming
        }
        lines: list[str] = []
        with http.stream("GET", "/2/tweets/search/stream", params=params) as stream:
            assert stream.status_code == 200
            for line in stream.iter_lines():
                lines.append(line)
                if line.strip():
                    break
        assert lines[0] == ""  # a keep-alive first
        fake.fail_next(429, on="stream")
        limited = http.get("/2/tweets/search/stream", params=params)
        assert limited.status_code == 429 and "x-rate-limit-reset" in limited.headers
    schema = spec["paths"]["/2/tweets/search/stream"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]
    wrapped = {**schema["schema"], "components": spec["components"]}
    item = json.loads(lines[-1])
    jsonschema.Draft7Validator(wrapped).validate(item)
    assert item["matching_rules"][0]["tag"] == "t" and item["data"]["lang"] == "en"
