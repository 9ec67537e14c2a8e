"""The parser and the reply builder on handwritten messages (fixtures/*.eml), one test per fixture. No
server needed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from caredesk.connectors.email import compose
from caredesk.connectors.email.parse import (
    Fetched,
    Mailbox,
    Parsed,
    decode_bytes,
    html_to_text,
    message_ids,
    parse,
    synthetic_id,
)
from caredesk.domain.errors import InvalidInput
from caredesk.domain.types import Direction, InboundEvent

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
BOX = Mailbox(name="INBOX", uidvalidity=7, own_address="support@brand.example", domain="brand.example")


def parsed(name: str, box: Mailbox = BOX, **fetched: object) -> Parsed:
    return parse(Fetched(uid=9, raw=(FIXTURES / name).read_bytes(), **fetched), box, NOW)  # type: ignore[arg-type]


def event(name: str, **fetched: object) -> InboundEvent:
    result = parsed(name, **fetched)
    assert result.skipped is None and result.event is not None
    return result.event


def test_plain() -> None:
    ev = event("plain.eml")
    assert ev.external_id == "CAF0x1-order4411@mail.customer.example"
    assert ev.author.id == ev.author.email == "jorgen@customer.example"  # lowercased
    assert ev.author.name == "Jørgen Hansen"
    assert ev.subject == "Min ordre er ikke ankommet – order #4411"
    assert (
        ev.text
        == "Hej,\n\nmin ordre #4411 er stadig ikke kommet frem. Kan I hjælpe?\n\nVenlig hilsen\nJørgen"
    )
    assert ev.created_at == datetime(2026, 11, 17, 7, 15, 2, tzinfo=UTC)
    assert ev.direction == Direction.IN and not ev.public
    assert ev.thread == ev.external_id and ev.in_reply_to is None and ev.references == []
    assert ev.raw["uid"] == 9 and ev.raw["uidvalidity"] == 7 and ev.raw["headers"]["to"].endswith("example>")


def test_reply_with_references() -> None:
    ev = event("reply-with-references.eml")
    ours = "caredesk.5f3a9c2e7b1d4e8fa0c6b2d9e4f7a1c3@brand.example"
    assert ev.in_reply_to == ours
    assert ev.references == ["first-1@customer.example", ours]
    assert ev.thread == "first-1@customer.example"
    assert ev.client_ref is None  # a customer's mail, whatever ids it quotes


def test_only_references() -> None:
    ev = event("only-references.eml")
    assert ev.in_reply_to == "middle-2@brand.example"  # the last reference is the parent
    assert ev.thread == "root-1@customer.example"


def test_html_only() -> None:
    ev = event("html-only.eml")
    assert ev.text == (
        "Hello team,\n\nYour order #8812 & the invoice don't match:\n\n- Item A <2 pcs>\n- Item B\n\n"
        "See my order page (https://shop.example/orders/8812).\n\nThanks,\nSam"
    )
    assert "<script>" in ev.raw["html"]


def test_broken_charset() -> None:
    ev = event("broken-charset.eml")
    assert ev.text == "Le café est arrivé froid."  # unknown charset: not UTF-8, so Windows-1252
    assert ev.subject == "Café order à Paris"  # raw 8-bit header bytes
    assert ev.author.name == "René"


def test_bad_utf8() -> None:
    ev = event("bad-utf8.eml", internaldate=datetime(2026, 11, 22, 8, tzinfo=UTC))
    assert ev.text == "Invalid bytes here: \ufffd\ufffd end."
    assert ev.subject == "Hello 😃"
    assert ev.created_at == datetime(2026, 11, 22, 8, tzinfo=UTC)  # Date unreadable: INTERNALDATE
    assert ev.raw["attachments"] == [
        {"filename": "invoice.pdf", "content_type": "application/pdf", "size": 28}
    ]


def test_no_message_id() -> None:
    raw = (FIXTURES / "no-message-id.eml").read_bytes()
    ev = event("no-message-id.eml")
    assert ev.external_id == synthetic_id(raw)
    assert ev.external_id == event("no-message-id.eml").external_id  # stable: same mail, same id
    assert synthetic_id(raw + b"x") != ev.external_id


def test_auto_reply() -> None:
    assert parsed("auto-reply.eml").skipped == "automatic mail (Auto-Submitted: auto-replied)"


def test_newsletter() -> None:
    assert parsed("newsletter.eml").skipped == "bulk mail (Precedence: bulk)"


def test_mailing_list() -> None:
    assert parsed("mailing-list.eml").skipped == "mailing-list mail (List-Id)"
    accepting = Mailbox(BOX.name, BOX.uidvalidity, BOX.own_address, BOX.domain, accept_list_mail=True)
    assert parsed("mailing-list.eml", accepting).event is not None
    assert parsed("newsletter.eml", accepting).skipped == "bulk mail (Precedence: bulk)"  # bulk stays out


def test_alternative_with_attachment() -> None:
    ev = event("alternative-with-attachment.eml")
    assert ev.text == "The mug arrived broken. Photo attached."  # text/plain preferred over HTML
    assert "html" not in ev.raw
    assert ev.author.name == "Doe, John"
    assert ev.raw["attachments"][0]["filename"] == "mug.jpg"
    assert ev.created_at == datetime(2026, 11, 21, 13, tzinfo=UTC)


def test_own_mail_from_other_client() -> None:
    ev = event("own-mail-from-other-client.eml")
    assert ev.direction == Direction.OUT and ev.author.id == "support@brand.example"
    assert ev.recipient is not None and ev.recipient.id == "jane@customer.example"
    assert ev.client_ref is None


def test_own_caredesk_reply() -> None:
    ev = event("own-caredesk-reply.eml")
    assert ev.direction == Direction.OUT
    assert ev.client_ref == "5f3a9c2e7b1d4e8fa0c6b2d9e4f7a1c3"


def test_every_fixture_is_covered() -> None:
    covered = {
        "plain.eml",
        "reply-with-references.eml",
        "only-references.eml",
        "html-only.eml",
        "broken-charset.eml",
        "bad-utf8.eml",
        "no-message-id.eml",
        "auto-reply.eml",
        "newsletter.eml",
        "mailing-list.eml",
        "alternative-with-attachment.eml",
        "own-mail-from-other-client.eml",
        "own-caredesk-reply.eml",
    }
    assert {p.name for p in FIXTURES.glob("*.eml")} == covered


# --------------------------------------------------------------------------------------------------------
# Pieces


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("<a@b>", ["a@b"]),
        ("  <a@b> (comment) <c@d>", ["a@b", "c@d"]),
        ("<a@b>\r\n <a@b>", ["a@b"]),
        ("bare@id.example", ["bare@id.example"]),
        ("", []),
        (None, []),
        ("no id here", []),
    ],
)
def test_message_ids(header: str | None, expected: list[str]) -> None:
    assert message_ids(header) == expected


def test_overlong_ids_are_digested_alike() -> None:
    long_id = "x" * 300 + "@example.com"
    (first,) = message_ids(f"<{long_id}>")
    assert len(first) <= 255 and message_ids(f"<{long_id}>") == [first]


@pytest.mark.parametrize(
    ("data", "charset", "expected"),
    [
        (b"caf\xc3\xa9", "utf-8", "café"),
        (b"caf\xe9", "iso-8859-1", "café"),
        (b"caf\xe9", None, "café"),  # undeclared, not UTF-8: Windows-1252
        (b"caf\xc3\xa9", "us-ascii", "café"),  # mislabelled UTF-8
        (b"caf\xe9", "no-such-charset", "café"),
        (b"a\x00b\xff", "utf-8", "ab\ufffd"),
    ],
)
def test_decode_bytes(data: bytes, charset: str | None, expected: str) -> None:
    assert decode_bytes(data, charset) == expected


def test_html_to_text_keeps_no_markup() -> None:
    html = (
        "<div>a</div><div>b</div><p>c</p><p>d<br>e</p>"
        "<table><tr><td>x</td><td>y</td></tr><tr><td>z</td></tr></table>"
        '<SCRIPT>bad()</SCRIPT><a href="javascript:alert(1)">click</a> '
        '<a href="https://x.example">https://x.example</a> &lt;b&gt;'
    )
    assert html_to_text(html) == "a\nb\n\nc\n\nd\ne\n\nx y\nz\n\nclick https://x.example <b>"
    assert html_to_text("<p>unclosed <b>bold <script>x") == "unclosed bold"


def test_reply_ids_subjects_and_references() -> None:
    assert compose.reply_message_id("abc_1-2", "Brand.Example") == "caredesk.abc_1-2@Brand.Example"
    assert compose.client_ref_of("caredesk.abc_1-2@brand.example", "Brand.Example") == "abc_1-2"
    assert compose.client_ref_of("caredesk.abc@other.example", "brand.example") is None
    odd = compose.reply_message_id("a key/with spaces", "brand.example")
    assert " " not in odd and odd == compose.reply_message_id("a key/with spaces", "brand.example")
    idn = compose.reply_message_id("k", "blåbær.example")
    assert idn.isascii() and idn.startswith("caredesk.k@xn--") and idn.endswith(".example")
    assert compose.reply_subject("Parcel") == "Re: Parcel"
    assert compose.reply_subject("RE: Parcel") == "RE: Parcel"
    assert compose.reply_subject("Aw: Paket") == "Aw: Paket"
    assert compose.reply_subject(None) == "Re: (no subject)"
    assert compose.references_for(["a@x", "b@x"], "c@x") == ["a@x", "b@x", "c@x"]
    assert compose.references_for([], "c@x") == ["c@x"]
    many = compose.references_for([f"r{i}@x" for i in range(30)], "p@x")
    assert len(many) == 20 and many[0] == "r0@x" and many[-1] == "p@x"


def test_recipient_must_be_one_address() -> None:
    assert compose.recipient_address("jane@customer.example").addr_spec == "jane@customer.example"
    for bad in (None, "", "not-an-address", "a@b.example\r\nBcc: x@y.example"):
        with pytest.raises(InvalidInput):
            compose.recipient_address(bad)


def test_built_reply_headers() -> None:
    msg = compose.build_reply(
        text="Hello",
        sender="support@brand.example",
        display_name="Brand Support",
        recipient="jane@customer.example",
        subject="Re: Parcel",
        message_id="caredesk.k1@brand.example",
        in_reply_to="p@customer.example",
        references=["r@customer.example", "p@customer.example"],
        automatic=False,
        now=NOW,
    )
    assert msg["Message-ID"] == "<caredesk.k1@brand.example>"
    assert msg["In-Reply-To"] == "<p@customer.example>"
    assert msg["References"] == "<r@customer.example> <p@customer.example>"
    assert msg["Auto-Submitted"] is None
    assert msg["Date"] == "Mon, 23 Nov 2026 12:00:00 +0000"
