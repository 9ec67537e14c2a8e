"""Hostile input for the networks caredesk pulls from (no webhook): hypothesis hands the Mastodon and
Bluesky parsers JSON built from their own field names with values of any kind, and the email parser raw
messages of random bytes and mangled headers. A parser either returns an event (or None: not care work)
or refuses with `InvalidInput`, which the connector logs and skips; any other exception would stop a
channel's polling at that item for ever. An event it returns is one intake can store."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caredesk.connectors.bluesky import parse as bluesky
from caredesk.connectors.email import parse as email
from caredesk.connectors.mastodon import events as mastodon
from caredesk.domain.codec import event_to_dict
from caredesk.domain.errors import InvalidInput
from caredesk.domain.types import InboundEvent

OWN = "109000000000000001"
OWN_DID = "did:plc:brand0000000000000000000"
KEYS = [
    # Mastodon (../shared/reference: Status, Account, Notification)
    "id", "type", "status", "account", "acct", "username", "display_name", "content", "created_at",
    "in_reply_to_id", "in_reply_to_account_id", "visibility", "mentions", "reblog", "language", "url",
    "spoiler_text", "media_attachments", "followers_count", "text",
    # Bluesky (app.bsky.notification.listNotifications, app.bsky.feed.defs)
    "uri", "cid", "author", "did", "handle", "displayName", "record", "$type", "reason", "indexedAt",
    "createdAt", "reply", "root", "parent", "langs", "post", "embed", "facets", "reasonSubject",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=False),
    st.text(max_size=30),
    st.sampled_from([
        "mention", "direct", "public", "2026-12-01T10:00:00.000Z", "2026-13-45T99:00:00Z", OWN, OWN_DID,
        "app.bsky.feed.post", "at://did:plc:x/app.bsky.feed.post/3k", "<p>@brand hi</p>", "reply",
    ]),
)  # fmt: skip
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=7),
    ),
    max_leaves=40,
)
OBJECTS = st.dictionaries(st.sampled_from(KEYS), JSON, max_size=9)


def _checked(parse: Any, *args: Any) -> None:
    try:
        event = parse(*args)
    except InvalidInput:
        return
    if event is not None:
        assert isinstance(event, InboundEvent)
        json.dumps(event_to_dict(event), default=str)  # storable as the spool stores it


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(item=OBJECTS)
def test_mastodon_parsers_take_any_json(item: dict[str, Any]) -> None:
    _checked(mastodon.mention_event, item, OWN)
    _checked(mastodon.own_status_event, item, OWN)
    _checked(mastodon.status_event, item, OWN, {})


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(item=OBJECTS)
def test_bluesky_parsers_take_any_json(item: dict[str, Any]) -> None:
    _checked(bluesky.notification_event, item, OWN_DID)
    _checked(bluesky.own_reply_event, item, OWN_DID)
    _checked(bluesky.log_event, item, OWN_DID)


HEADERS = st.sampled_from([
    "From", "To", "Cc", "Reply-To", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
    "Content-Type", "Content-Transfer-Encoding", "Auto-Submitted", "Precedence", "List-Id", "MIME-Version",
])  # fmt: skip
VALUES = st.one_of(
    st.text(max_size=60).filter(lambda v: "\n" not in v and "\r" not in v),
    st.sampled_from([
        "=?utf-8?b?w6l0w6k=?=", "=?bogus?q?=ZZ?=", "multipart/mixed; boundary=xx",
        "text/html; charset=klingon", "base64", "quoted-printable", "<a@b>", "<<<>>>",
        "Mon, 32 Foo 2026 25:61:00 +9999", '"A" <a@b.c>',
        "undisclosed-recipients:;", "auto-replied", "bulk",
    ]),
)  # fmt: skip
BODIES = st.one_of(
    st.binary(max_size=400),
    st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from(
        [b"--xx\r\nContent-Type: text/plain\r\n\r\nhi\r\n--xx--", b"PGI+aGk8L2I+", b"=E9t=E9=\r\n"]
    ),
)  # fmt: skip
RAW = st.one_of(
    st.binary(max_size=600),
    st.builds(
        lambda headers, body: (
            "".join(f"{name}: {value}\r\n" for name, value in headers).encode("utf-8", "surrogatepass")
            + b"\r\n" + body
        ),
        st.lists(st.tuples(HEADERS, VALUES), max_size=10), BODIES,
    ),
)  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=RAW)
def test_the_email_parser_takes_any_bytes(raw: bytes) -> None:
    box = email.Mailbox("INBOX", 1, "care@acme.example", "acme.example")
    fetched = email.Fetched(uid=7, raw=raw, internaldate=datetime(2026, 12, 1, tzinfo=UTC), size=len(raw))
    try:
        parsed = email.parse(fetched, box, datetime(2026, 12, 1, 12, tzinfo=UTC))
    except InvalidInput:
        return
    assert parsed.uid == 7
    if parsed.event is not None:
        json.dumps(event_to_dict(parsed.event), default=str)
