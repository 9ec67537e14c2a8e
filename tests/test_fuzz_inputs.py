"""Hostile input, generated: hypothesis sends every webhook parser (generic webhook, X, Facebook,
Instagram) bodies that are correctly signed but malformed — random bytes, random JSON, and JSON built
from the networks' own field names with values of the wrong kind — and the JSONL importer random lines.
Nothing may crash: a webhook answers 2xx or a clear 4xx, never 5xx, and a refused body writes nothing;
the importer reports bad lines by number and writes only the good ones."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caredesk.actions import admin, imports
from caredesk.actions.base import Actor
from caredesk.api.app import create_app
from caredesk.connectors.facebook import graph
from caredesk.connectors.webhook import signing as webhook_signing
from caredesk.connectors.x import signing as x_signing
from caredesk.runtime import Runtime
from caredesk.storage import models as m

SECRET = "fuzz-secret-0123456789"
# the field names the parsers look for (docs/message-format.md, ../shared/reference for X and Meta)
KEYS = [
    "id", "created_at", "text", "author", "name", "handle", "public", "thread", "in_reply_to", "messages",
    "object", "entry", "messaging", "sender", "recipient", "message", "mid", "timestamp", "time", "changes",
    "field", "value", "item", "verb", "comment_id", "post_id", "parent_id", "from", "is_echo", "attachments",
    "for_user_id", "tweet_create_events", "direct_message_events", "user", "id_str", "screen_name", "type",
    "message_create", "sender_id", "target", "recipient_id", "message_data", "in_reply_to_status_id_str",
    "users", "media", "extended_tweet", "full_text", "truncated", "entities", "mentions",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False), st.text(max_size=40),
    st.sampled_from(["page", "instagram", "message", "comments", "feed", "add", "2026-12-01T10:00:00Z"]),
)  # fmt: skip
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=6),
    ),
    max_leaves=30,
)
BODIES = st.one_of(
    st.binary(max_size=300),
    JSON.map(lambda v: json.dumps(v).encode()),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
)


def _webhook_headers(body: bytes) -> dict[str, str]:
    return {webhook_signing.HEADER: webhook_signing.sign(SECRET, body, int(time.time()))}


def _x_headers(body: bytes) -> dict[str, str]:
    return {x_signing.HEADER: x_signing.sign(SECRET, body)}


def _meta_headers(body: bytes) -> dict[str, str]:
    return {"X-Hub-Signature-256": graph.sign(SECRET, body)}


SETUPS: dict[str, tuple[dict[str, Any], dict[str, Any], Callable[[bytes], dict[str, str]]]] = {
    "webhook": ({"outbound_url": "http://127.0.0.1:9/out"}, {"secret": SECRET}, _webhook_headers),
    "x": ({"base_url": "http://127.0.0.1:9", "user_id": "783214"}, {"bearer_token": "b", "user_token": "u",
          "consumer_secret": SECRET}, _x_headers),
    "facebook": ({"graph_url": "http://127.0.0.1:9", "api_version": "v25.0", "page_id": "104000000000001",
                  "verify_token": "v"}, {"page_access_token": "t", "app_secret": SECRET}, _meta_headers),
    "instagram": ({"graph_url": "http://127.0.0.1:9", "api_version": "v25.0", "page_id": "104000000000077",
                   "verify_token": "v"}, {"page_access_token": "t", "app_secret": SECRET}, _meta_headers),
}  # fmt: skip
OWN = {"webhook": "acme", "x": "783214", "facebook": "104000000000001", "instagram": "17841400000000077"}
FIXTURES = Path(__file__).parent / "connectors"
# real deliveries (the connectors' recorded fixtures) that hypothesis takes apart
SAMPLES = {
    "webhook": [{"id": "w1", "created_at": "2026-12-01T10:00:00Z", "text": "where is my order?",
                 "author": {"id": "c1", "name": "Claire"}, "public": False, "thread": "dm-c1"}],
    "x": [json.loads((FIXTURES / "x" / "fixtures" / f).read_text())
          for f in ("aaa_direct_message.json", "aaa_tweet_create_mention.json", "aaa_favorite.json")],
    "facebook": [json.loads((FIXTURES / "facebook" / "fixtures" / f).read_text())
                 for f in ("messenger_message.json", "messenger_attachments.json", "feed_comment_add.json")],
    "instagram": [json.loads((FIXTURES / "instagram" / "fixtures" / f).read_text())
                  for f in ("ig_comment.json", "ig_message.json", "ig_story_reply.json")],
}  # fmt: skip


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _replace(value: Any, path: tuple[Any, ...], new: Any, delete: bool) -> Any:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    head, rest = path[0], path[1:]
    if delete and not rest:
        del copy[head]
    else:
        copy[head] = _replace(copy[head], rest, new, delete)
    return copy


@st.composite
def mutated(draw: st.DrawFn, connector: str) -> bytes:
    """A real delivery with one to three of its values replaced by random JSON or taken out."""
    payload = draw(st.sampled_from(SAMPLES[connector]))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(payload)))
        payload = _replace(payload, path, draw(JSON), delete=bool(path) and draw(st.booleans()))
    return json.dumps(payload).encode()


class Desk:
    def __init__(self, rt: Runtime) -> None:
        system = Actor.system()
        self.rt = rt
        ws = admin.create_workspace(rt, system, slug="fuzz", name="Fuzz")
        self.channels = {
            name: admin.create_channel(
                rt, system, workspace_id=ws.id, connector=name, name=name, config=config, credentials=creds,
                own_account_id=OWN[name],
            ).id
            for name, (config, creds, _) in SETUPS.items()
        }  # fmt: skip
        self.client = TestClient(create_app(rt), raise_server_exceptions=False)

    def rows(self) -> tuple[int, int, int]:
        with self.rt.db.read() as s:
            return tuple(  # type: ignore[return-value]
                int(s.scalar(sa.select(sa.func.count()).select_from(t)) or 0)
                for t in (m.SpoolEvent, m.Message, m.Conversation)
            )


@pytest.fixture
def desk(sqlite_rt: Runtime) -> Iterator[Desk]:
    served = Desk(sqlite_rt)
    yield served
    served.client.close()


@pytest.mark.parametrize("connector", list(SETUPS))
def test_signed_garbage_never_crashes_a_webhook_and_a_refusal_writes_nothing(
    desk: Desk, connector: str
) -> None:
    channel = desk.channels[connector]
    headers_for = SETUPS[connector][2]
    seen: dict[int, int] = {}

    for sample in SAMPLES[connector]:  # the deliveries taken apart are accepted whole
        body = json.dumps(sample).encode()
        r = desk.client.post(f"/hooks/{channel}", content=body, headers=headers_for(body))
        assert r.status_code in (200, 202), (connector, r.text)

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(body=st.one_of(BODIES, mutated(connector)))
    def check(body: bytes) -> None:
        before = desk.rows()
        r = desk.client.post(f"/hooks/{channel}", content=body, headers=headers_for(body))
        seen[r.status_code] = seen.get(r.status_code, 0) + 1
        assert r.status_code < 500, (body, r.text)
        if r.status_code >= 400:
            assert desk.rows() == before, body
            assert r.json()["detail"]  # a clear error, said

    check()
    assert any(400 <= code < 500 for code in seen), seen  # the garbage was refused, not ignored


def test_unsigned_and_wrongly_signed_bodies_are_refused(desk: Desk) -> None:
    for connector, (_, _, headers_for) in SETUPS.items():
        body = b'{"id": "1", "text": "hello"}'
        forged = {k: v[:-4] + "0000" for k, v in headers_for(body).items()}
        for headers in ({}, forged):
            r = desk.client.post(f"/hooks/{desk.channels[connector]}", content=body, headers=headers)
            assert r.status_code in (400, 401, 403), (connector, r.status_code, r.text)
    assert desk.rows() == (0, 0, 0)


LINES = st.one_of(
    JSON.map(json.dumps),
    st.text(max_size=120).filter(lambda t: "\n" not in t and "\r" not in t),
    st.fixed_dictionaries(
        {"id": st.text(min_size=1, max_size=10), "text": st.text(max_size=50)},
        optional={"created_at": SCALARS, "author": JSON, "public": SCALARS, "thread": SCALARS},
    ).map(json.dumps),
)


def test_the_jsonl_importer_takes_good_lines_and_reports_every_bad_one(desk: Desk, tmp_path: Path) -> None:
    channel = desk.channels["webhook"]
    files = iter(range(10_000))

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(lines=st.lists(LINES, min_size=1, max_size=8))
    def check(lines: list[str]) -> None:
        path = tmp_path / f"f{next(files)}.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
        before = desk.rows()
        report = imports.import_jsonl(desk.rt, Actor.system(), path, channel_id=channel, process=False)
        nonblank = sum(1 for line in lines if line.encode("utf-8", "surrogatepass").strip())  # as bytes
        assert len(report.errors) <= nonblank
        assert all(e.startswith("line ") for e in report.errors)
        if len(report.errors) == nonblank:
            assert desk.rows() == before  # nothing good, nothing written

    check()
