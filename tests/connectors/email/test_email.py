"""Email against a real dovecot and a real SMTP server: threading, loops, UIDVALIDITY, IDLE, broken mail,
error mapping, in-doubt sends.

The first tests run the whole product (poller, pipeline, reply action, sender) on SQLite and PostgreSQL;
the rest drive the connector directly.
"""

from __future__ import annotations

import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from caredesk.actions import admin
from caredesk.actions import conversations as conv_actions
from caredesk.actions.base import Actor
from caredesk.connectors.email import connector as email_connector
from caredesk.connectors.email.imap import ImapSession, decode_mailbox, encode_mailbox
from caredesk.connectors.email.settings import EmailSettings
from caredesk.domain.errors import ConnectorError, InvalidInput, NotConfigured
from caredesk.domain.types import Direction, OutboundReply, ReplyContext, Role
from caredesk.fakes.mailserver import FaultyPort, MailServer
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from tests.connectors.contract import Env
from tests.connectors.email.conftest import Brand

FIXTURES = Path(__file__).parent / "fixtures"


# --------------------------------------------------------------------------------------------------------
# The product end to end


@pytest.fixture
def desk(rt: Runtime, brand: Brand) -> Env:
    system = Actor.system()
    ws = admin.create_workspace(rt, system, slug="mail", name="Mail")
    agent = admin.create_agent(rt, system, email="agent@brand.example", name="Agent", password=None)
    admin.add_member(rt, system, workspace_id=ws.id, agent_id=agent.id, role=Role.AGENT)
    channel = admin.create_channel(
        rt,
        system,
        workspace_id=ws.id,
        connector="email",
        name="Support mail",
        config=brand.config(),
        credentials=brand.credentials(),
        own_account_id=brand.address,
    )
    return Env(rt=rt, client=None, channel_id=channel.id, agent=Actor.agent(agent.id))  # type: ignore[arg-type]


def sync(desk: Env) -> None:
    from caredesk.pipeline.runner import Pipeline

    desk.poll()
    Pipeline(desk.rt).drain()


def messages(desk: Env, direction: str | None = None) -> list[m.Message]:
    query = sa.select(m.Message).order_by(m.Message.id)
    if direction:
        query = query.where(m.Message.direction == direction)
    with desk.rt.db.read() as s:
        return list(s.scalars(query))


def cursor(desk: Env) -> dict[str, Any]:
    with desk.rt.db.read() as s:
        channel = s.get(m.Channel, desk.channel_id)
        assert channel is not None
        assert channel.last_error is None, channel.last_error
        return dict(channel.cursor or {})


def conversation_of(desk: Env, text: str) -> int:
    (msg,) = [x for x in messages(desk) if x.text == text]
    return msg.conversation_id


def ids(header: object) -> list[str]:
    return str(header or "").split()


def test_mail_reply_and_answer_are_one_conversation(desk: Env, brand: Brand, mail_server: MailServer) -> None:
    jane = brand.customer("jane")
    first = mail_server.send_as_customer(
        jane, brand.address, "Parcel 123 is late", "Where is my parcel 123?", name="Jane Roe"
    )
    sync(desk)
    conv = conversation_of(desk, "Where is my parcel 123?")
    (inbound,) = messages(desk, "in")
    assert inbound.external_id == first and inbound.author_handle == jane

    conv_actions.reply(desk.rt, desk.agent, conv, "Sorry Jane, it ships today.", resolve=True)
    assert desk.send() == 1

    (received,) = mail_server.messages(jane)  # what reached the customer, over SMTP
    (out,) = messages(desk, "out")
    assert out.delivery == "sent" and out.external_id is not None
    assert out.external_id == f"caredesk.{out.client_ref}@brand.example"
    assert received["Message-ID"] == f"<{out.external_id}>"
    assert received["In-Reply-To"] == f"<{first}>"
    assert ids(received["References"]) == [f"<{first}>"]
    assert received["Subject"] == "Re: Parcel 123 is late"
    assert received["From"].addresses[0].addr_spec == brand.address
    assert received["From"].addresses[0].display_name == "Brand Support"
    assert received["To"] == jane
    assert received["Auto-Submitted"] is None
    assert received.get_body(("plain",)).get_content().strip() == "Sorry Jane, it ships today."
    sent_copies = mail_server.messages(brand.address, "Sent")
    assert [x["Message-ID"] for x in sent_copies] == [f"<{out.external_id}>"]

    # She answers from her mail client; the conversation was resolved, so only the headers can place it.
    answer = mail_server.send_as_customer(
        jane,
        brand.address,
        "Re: Parcel 123 is late",
        "Thanks, but it is still not here.",
        in_reply_to=out.external_id,
        references=[first, out.external_id],
    )
    sync(desk)
    rows = messages(desk)
    assert [(x.direction, x.conversation_id) for x in rows] == [("in", conv), ("out", conv), ("in", conv)]
    assert rows[2].external_id == answer and rows[2].in_reply_to == out.external_id
    with desk.rt.db.read() as s:
        conversation = s.get(m.Conversation, conv)
        assert conversation is not None and conversation.status == "open"  # reopened by her answer

    # The next reply's References: the parent's References plus the parent (read back from the mailbox).
    conv_actions.reply(desk.rt, desk.agent, conv, "Checking with the courier.")
    assert desk.send() == 1
    second = mail_server.messages(jane)[-1]
    assert second["In-Reply-To"] == f"<{answer}>"
    assert ids(second["References"]) == [f"<{first}>", f"<{out.external_id}>", f"<{answer}>"]
    assert len({x.conversation_id for x in messages(desk)}) == 1


def test_auto_replies_and_bulk_mail_are_not_ingested(
    desk: Env, brand: Brand, mail_server: MailServer
) -> None:
    jane = brand.customer("jane")
    mail_server.send_as_customer(jane, brand.address, "Help", "My login fails")
    sync(desk)
    conv_actions.reply(desk.rt, desk.agent, conversation_of(desk, "My login fails"), "Try resetting it.")
    desk.send()
    (out,) = messages(desk, "out")
    before = cursor(desk)

    # Her out-of-office answers our reply, and a newsletter arrives: neither reaches an agent.
    mail_server.send_as_customer(
        jane,
        brand.address,
        "Automatic reply: Re: Help",
        "I am out of the office.",
        in_reply_to=out.external_id,
        headers={"Auto-Submitted": "auto-replied"},
    )
    mail_server.send_as_customer(
        brand.customer("news"),
        brand.address,
        "50% off",
        "Deals!",
        headers={"Precedence": "bulk", "List-Unsubscribe": "<https://shop.example/u>"},
    )
    sync(desk)
    assert [x.text for x in messages(desk, "in")] == ["My login fails"]
    assert len(messages(desk, "out")) == 1
    with desk.rt.db.read() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(m.Outbox)) == 1
    assert cursor(desk)["last_uid"] == before["last_uid"] + 2  # skipped, and never fetched again


def test_our_automatic_replies_say_so(brand: Brand, mail_server: MailServer) -> None:
    jane = brand.customer("jane")
    mail_server.add_user(jane)
    connector = brand.connector()
    connector.send(
        OutboundReply(
            idempotency_key="ack1",
            text="We got your mail.",
            public=False,
            in_reply_to=None,
            thread=None,
            recipient=jane,
            subject="Help",
            automatic=True,
        )
    )
    (received,) = mail_server.messages(jane)
    assert received["Auto-Submitted"] == "auto-replied"
    assert received["Subject"] == "Re: Help"


def test_uidvalidity_change_resyncs_without_loss_or_duplicate(
    desk: Env, brand: Brand, mail_server: MailServer
) -> None:
    for i in range(5):
        mail_server.send_as_customer(brand.customer(f"c{i}"), brand.address, f"Old {i}", f"old mail {i}")
    mail_server.append(brand.address, (FIXTURES / "no-message-id.eml").read_bytes())
    sync(desk)
    first = cursor(desk)
    assert first["last_uid"] == 6 and len(messages(desk, "in")) == 6

    # The mailbox is recreated (a migration, a restore) holding three of the old messages: new UIDVALIDITY,
    # UIDs from 1 again. New mail then gets UIDs 4-6, at or below the old cursor.
    kept = [raw for uid, raw in mail_server.fetch_raw(brand.address) if uid in (1, 2, 6)]
    validity = mail_server.recreate_mailbox(brand.address, "INBOX", keep=kept)
    assert validity != first["uidvalidity"]
    for i in range(3):
        mail_server.send_as_customer(brand.customer(f"n{i}"), brand.address, f"New {i}", f"new mail {i}")
    assert [uid for uid, _ in mail_server.fetch_raw(brand.address)] == [1, 2, 3, 4, 5, 6]

    sync(desk)
    texts = [x.text for x in messages(desk, "in")]
    assert sorted(texts) == sorted(
        [f"old mail {i}" for i in range(5)]
        + ["This mail has no Message-ID header."]
        + [f"new mail {i}" for i in range(3)]
    )
    assert cursor(desk) == {"mailbox": "INBOX", "uidvalidity": validity, "last_uid": 6}


def test_broken_encodings_do_not_crash(desk: Env, brand: Brand, mail_server: MailServer) -> None:
    for name in ("broken-charset.eml", "bad-utf8.eml", "no-message-id.eml"):
        mail_server.append(brand.address, (FIXTURES / name).read_bytes())
    sync(desk)
    by_id = {x.external_id: x for x in messages(desk, "in")}
    assert by_id["broken-charset-1@customer.example"].text == "Le café est arrivé froid."
    assert by_id["broken-charset-1@customer.example"].author_name == "René"
    assert by_id["bad-utf8-1@customer.example"].text == "Invalid bytes here: \ufffd\ufffd end."
    assert any(k.startswith("no-message-id.") for k in by_id)
    with desk.rt.db.read() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(m.DeadLetter)) == 0
        subjects = set(s.scalars(sa.select(m.Conversation.subject)))
    assert "Café order à Paris" in subjects


def test_the_same_mail_twice_is_one_message(desk: Env, brand: Brand, mail_server: MailServer) -> None:
    raw = (FIXTURES / "plain.eml").read_bytes()
    mail_server.append(brand.address, raw)  # delivered twice: To and Cc, or a forwarding rule
    mail_server.append(brand.address, raw)
    sync(desk)
    assert [x.external_id for x in messages(desk)] == ["CAF0x1-order4411@mail.customer.example"]
    assert cursor(desk)["last_uid"] == 2


def test_html_only_mail_becomes_safe_text(desk: Env, brand: Brand, mail_server: MailServer) -> None:
    raw = (FIXTURES / "html-only.eml").read_bytes()
    mail_server.add_user("shopper@customer.example")
    mail_server.submit(raw, mail_from="shopper@customer.example", to=[brand.address])
    sync(desk)
    (msg,) = messages(desk, "in")
    assert "Your order #8812 & the invoice don't match:" in msg.text
    assert "See my order page (https://shop.example/orders/8812)." in msg.text
    for unsafe in ("<p>", "<b>", "<script", "alert(", "color: red", "frame text", "evil", "Mail title"):
        assert unsafe not in msg.text
    assert "<script>alert" in msg.raw["html"]


def test_own_mail_sent_from_another_client_is_outbound(
    desk: Env, brand: Brand, mail_server: MailServer
) -> None:
    jane = brand.customer("jane")
    first = mail_server.send_as_customer(jane, brand.address, "Refund", "I want a refund")
    sync(desk)
    # A colleague answers from Outlook with the support address; a copy is in the INBOX (Bcc).
    msg = EmailMessage()
    msg["From"] = f"Brand Support <{brand.address.upper()}>"
    msg["To"] = jane
    msg["Subject"] = "Re: Refund"
    msg["Message-ID"] = "<outlook-1@brand.example>"
    msg["In-Reply-To"] = f"<{first}>"
    msg.set_content("Refund approved.")
    mail_server.append(brand.address, msg.as_bytes())
    sync(desk)
    rows = messages(desk)
    assert [(x.direction, x.text) for x in rows] == [("in", "I want a refund"), ("out", "Refund approved.")]
    assert rows[0].conversation_id == rows[1].conversation_id


# --------------------------------------------------------------------------------------------------------
# IDLE


def test_idle_wakes_promptly_on_new_mail(brand: Brand, mail_server: MailServer) -> None:
    connector = brand.connector()
    result: dict[str, Any] = {}

    def wait() -> None:
        result["woke"] = connector.wait_for_mail(10.0)
        result["at"] = time.monotonic()

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(1.0)  # logged in and idling by now
    sent = time.monotonic()
    mail_server.send_as_customer(brand.customer("kim"), brand.address, "Hi", "new mail")
    waiter.join(12)
    assert result["woke"] is True
    assert result["at"] - sent < 3.0  # pushed (dovecot batches notifications for ~0.5 s), not the timeout


def test_idle_times_out_and_sees_mail_since_the_last_fetch(brand: Brand, mail_server: MailServer) -> None:
    connector = brand.connector()
    stored = connector.fetch({}).cursor
    start = time.monotonic()
    assert connector.wait_for_mail(0.5, stored) is False
    assert 0.4 <= time.monotonic() - start < 3.0
    mail_server.send_as_customer(brand.customer("kim"), brand.address, "Hi", "between fetch and idle")
    start = time.monotonic()
    assert connector.wait_for_mail(10.0, stored) is True
    assert time.monotonic() - start < 2.0


# --------------------------------------------------------------------------------------------------------
# Fetching


def test_fetch_pages_in_bounded_batches(brand: Brand, mail_server: MailServer) -> None:
    for i in range(5):
        mail_server.send_as_customer(brand.customer("p"), brand.address, f"S{i}", f"page {i}")
    connector = brand.connector(batch_size=2)
    seen, state, rounds = [], {}, 0
    while True:
        result = connector.fetch(state)
        seen += [e.text for e in result.events]
        state, rounds = result.cursor, rounds + 1
        if not result.more:
            break
    assert seen == [f"page {i}" for i in range(5)] and rounds == 3
    assert connector.fetch(state).events == []


def test_large_message_is_read_from_its_start(
    brand: Brand, mail_server: MailServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(email_connector, "LARGE_MESSAGE", 4000)
    msg = EmailMessage()
    msg["From"] = brand.customer("big")
    msg["To"] = brand.address
    msg["Message-ID"] = "<big-1@customer.example>"
    msg.set_content("See the attached photo.")
    msg.add_attachment(b"\x89PNG" + bytes(20000), maintype="image", subtype="png", filename="photo.png")
    mail_server.append(brand.address, msg.as_bytes())
    (event,) = brand.connector().fetch({}).events
    assert event.text.startswith("See the attached photo.")
    assert "read only the start" in event.text and event.raw["partial"] is True


def test_mailbox_names_are_modified_utf7(brand: Brand, mail_server: MailServer) -> None:
    name = "Återkoppling & svar – kunder"
    assert decode_mailbox(encode_mailbox(name)[1:-1]) == name
    assert encode_mailbox("Å&") == '"&AMU-&-"'
    settings = EmailSettings.of(brand.connector().channel)
    with ImapSession(settings) as imap:
        assert imap.conn.create(encode_mailbox(name))[0] == "OK"
        assert name in {n for _, n in imap.mailboxes()}
        imap.append(name, b"From: x@customer.example\r\nMessage-ID: <filed-1@x>\r\n\r\nfiled by a rule\r\n")
    mail_server.send_as_customer(brand.customer("x"), brand.address, "x", "x")  # lands in INBOX, not there
    assert [e.text for e in brand.connector(mailbox=name).fetch({}).events] == ["filed by a rule"]


# --------------------------------------------------------------------------------------------------------
# Errors: never the password; permanent ones stop, temporary ones are retried


def test_wrong_imap_password_is_permanent_and_secret(brand: Brand, mail_server: MailServer) -> None:
    secret = "Wrong-Pa55word-42"
    # From another loopback address: dovecot slows down logins from an address that just failed one.
    relay = FaultyPort(mail_server.dovecot_port, source="127.0.0.2").start()
    try:
        connector = brand.connector(credentials=brand.credentials(password=secret), imap_port=relay.port)
        with pytest.raises(ConnectorError) as caught:
            connector.fetch({})
    finally:
        relay.stop()
    assert not caught.value.retryable
    assert "refused the login" in caught.value.message and brand.address in caught.value.message
    assert secret not in caught.value.message


def test_wrong_smtp_password_is_permanent(brand: Brand) -> None:
    secret = "Smtp-Wrong-99"
    connector = brand.connector(
        credentials=brand.credentials(smtp_username=brand.address, smtp_password=secret)
    )
    with pytest.raises(ConnectorError) as caught:
        connector.verify()
    assert not caught.value.retryable and "SMTP server refused the login" in caught.value.message
    assert secret not in caught.value.message


def test_verify_checks_both_servers_and_the_mailbox(brand: Brand) -> None:
    brand.connector().verify()
    with pytest.raises(ConnectorError) as caught:
        brand.connector(mailbox="No Such Box").verify()
    assert not caught.value.retryable and "No Such Box" in caught.value.message
    with pytest.raises(ConnectorError) as caught:
        brand.connector(sent_mailbox="Gesendet").verify()
    assert "Gesendet" in caught.value.message


def test_connection_limit_is_a_retryable_rate_limit(brand: Brand, mail_server: MailServer) -> None:
    mail_server.fail_next_imap(f"limit:{brand.address}")
    with pytest.raises(ConnectorError) as caught:
        brand.connector().fetch({})
    assert caught.value.retryable and "rate limit" in caught.value.message
    assert "[LIMIT]" in caught.value.message  # dovecot's own answer
    assert brand.connector().fetch({}).cursor["last_uid"] == 0  # released after that one connection


def test_unreachable_servers_are_retryable(brand: Brand, mail_server: MailServer) -> None:
    from caredesk.fakes.mailserver import free_port

    closed = free_port()
    with pytest.raises(ConnectorError) as caught:
        brand.connector(imap_port=closed).fetch({})
    assert caught.value.retryable and "refused the connection" in caught.value.message
    mail_server.fail_next_imap("hang")
    with pytest.raises(ConnectorError) as caught:
        brand.connector(timeout=0.5).fetch({})
    assert caught.value.retryable and "timed out" in caught.value.message


def reply_to(recipient: str, key: str = "k1", **fields: Any) -> OutboundReply:
    values: dict[str, Any] = {
        "idempotency_key": key,
        "text": "Hello",
        "public": False,
        "in_reply_to": None,
        "thread": None,
        "recipient": recipient,
        "subject": "Question",
    }
    values.update(fields)
    return OutboundReply(**values)


def test_smtp_refusals_are_mapped(brand: Brand, mail_server: MailServer) -> None:
    jane = brand.customer("jane")
    mail_server.add_user(jane)
    connector = brand.connector()
    with pytest.raises(ConnectorError) as caught:
        connector.send(reply_to("nobody@customer.example"))
    assert not caught.value.retryable
    assert "550" in caught.value.message and "User unknown" in caught.value.message

    mail_server.fail_next_smtp("554 5.7.1 Message rejected as spam")
    with pytest.raises(ConnectorError) as caught:
        connector.send(reply_to(jane))
    assert not caught.value.retryable and "rejected as spam" in caught.value.message

    mail_server.fail_next_smtp("500")
    with pytest.raises(ConnectorError) as caught:
        connector.send(reply_to(jane))
    assert caught.value.retryable and "451" in caught.value.message

    mail_server.fail_next_smtp("429")
    with pytest.raises(ConnectorError) as caught:
        connector.send(reply_to(jane))
    assert caught.value.retryable and "rate limit" in caught.value.message
    assert mail_server.messages(jane) == []  # none of them delivered anything


def test_starttls_required_but_not_offered(brand: Brand) -> None:
    with pytest.raises(ConnectorError) as caught:
        brand.connector(smtp_starttls=True).verify()
    assert not caught.value.retryable and "STARTTLS" in caught.value.message


def test_settings_are_checked() -> None:
    from caredesk.connectors.base import ChannelContext

    def settings(config: dict[str, Any], creds: dict[str, Any] | None = None) -> EmailSettings:
        base = {"imap_host": "h", "smtp_host": "h", "address": "a@b.example"}
        return EmailSettings.of(
            ChannelContext(1, None, {**base, **config}, creds or {"username": "u", "password": "p"})
        )

    assert settings({}).imap_port == 993 and settings({}).smtp_port == 587 and settings({}).smtp_starttls
    assert settings({"smtp_ssl": "true"}).smtp_port == 465 and not settings({"smtp_ssl": True}).smtp_starttls
    assert settings({}, {"username": "u", "password": "p", "smtp_password": "q"}).smtp_login == ("u", "q")
    with pytest.raises(NotConfigured, match="imap_ssl"):
        settings({"imap_ssl": "maybe"})
    with pytest.raises(NotConfigured, match="password"):
        settings({}, {"username": "u"})
    with pytest.raises(NotConfigured, match="not an email address"):
        settings({"address": "not-an-address"})


# --------------------------------------------------------------------------------------------------------
# Sending: threading fallbacks, the Sent copy, in-doubt lookups


def test_prepare_refuses_what_email_cannot_send(brand: Brand) -> None:
    from datetime import UTC, datetime

    connector = brand.connector()
    context = ReplyContext(datetime.now(UTC), False, None, None, 0, human_agent=False)
    with pytest.raises(InvalidInput, match="no public replies"):
        connector.prepare(reply_to("a@b.example", public=True), context)
    with pytest.raises(InvalidInput, match="no email address"):
        connector.prepare(reply_to(""), context)
    with pytest.raises(InvalidInput, match="mail loop"):
        connector.prepare(reply_to(brand.address.upper()), context)
    assert connector.prepare(reply_to("a@b.example"), context).recipient == "a@b.example"


def test_references_fall_back_on_the_thread_when_the_lookup_fails(
    brand: Brand, mail_server: MailServer
) -> None:
    jane = brand.customer("jane")
    mail_server.add_user(jane)
    mail_server.fail_next_imap("close")  # the parent lookup's connection; the Sent copy's works
    result = brand.connector().send(
        reply_to(jane, in_reply_to="second@customer.example", thread="root@x.example")
    )
    (received,) = mail_server.messages(jane)
    assert received["In-Reply-To"] == "<second@customer.example>"
    assert ids(received["References"]) == ["<root@x.example>", "<second@customer.example>"]
    assert result.raw["references"] == "thread (lookup failed)" and result.raw["sent_copy"] == "Sent"


def test_a_failed_sent_copy_does_not_fail_the_send(brand: Brand, mail_server: MailServer) -> None:
    jane = brand.customer("jane")
    mail_server.add_user(jane)
    mail_server.fail_next_imap("pass", "close")  # lookup works, the Sent copy's connection breaks
    result = brand.connector().send(reply_to(jane, in_reply_to="p@customer.example"))
    assert result.raw["sent_copy"] is None
    assert len(mail_server.messages(jane)) == 1 and mail_server.messages(brand.address, "Sent") == []


def test_find_published_looks_for_the_message_id(brand: Brand, mail_server: MailServer) -> None:
    jane = brand.customer("jane")
    mail_server.add_user(jane)
    connector = brand.connector()
    sent = connector.send(reply_to(jane, key="abc123"))
    assert sent.external_id == "caredesk.abc123@brand.example"
    found = connector.find_published(reply_to(jane, key="abc123"))
    assert found is not None and found.external_id == sent.external_id and found.raw["found_in"] == "Sent"
    assert connector.find_published(reply_to(jane, key="never-sent")) is None

    # No Sent copy kept (sent_mailbox ""), but the brand Bcc's itself: the INBOX copy is found.
    quiet = brand.connector(sent_mailbox="")
    quiet.send(reply_to(brand.address, key="bcc1"))
    assert quiet.find_published(reply_to(jane, key="bcc1")) is not None


def test_reply_keys_that_are_not_tokens_still_make_valid_ids(brand: Brand, mail_server: MailServer) -> None:
    jane = brand.customer("jane")
    mail_server.add_user(jane)
    sent = brand.connector().send(reply_to(jane, key="odd key/with spaces"))
    (received,) = mail_server.messages(jane)
    assert received["Message-ID"] == f"<{sent.external_id}>" and " " not in sent.external_id


def test_non_ascii_text_and_names_survive_the_wire(brand: Brand, mail_server: MailServer) -> None:
    jane = brand.customer("jane")
    mail_server.add_user(jane)
    brand.connector(display_name="Kundeservice Ærø").send(
        reply_to(jane, text="Hej Jørgen, pakken kommer i morgen 📦", subject="Pakke – status")
    )
    (raw,) = [content for _, content in mail_server.fetch_raw(jane)]
    assert raw.isascii()  # 7-bit clean on the wire
    received = message_from_bytes(raw, policy=policy.default)
    assert isinstance(received, EmailMessage)
    assert received["From"].addresses[0].display_name == "Kundeservice Ærø"
    assert received["Subject"] == "Re: Pakke – status"
    assert received.get_body(("plain",)).get_content().strip() == "Hej Jørgen, pakken kommer i morgen 📦"


def test_own_outbound_echo_carries_the_reply_key(brand: Brand, mail_server: MailServer) -> None:
    jane = brand.customer("jane")
    mail_server.add_user(jane)
    connector = brand.connector()
    connector.send(reply_to(jane, key="k777"))
    (raw,) = [content for _, content in mail_server.fetch_raw(jane)]
    mail_server.append(brand.address, raw)  # the copy comes back
    (event,) = connector.fetch({}).events
    assert event.direction == Direction.OUT and event.client_ref == "k777"
    assert event.recipient is not None and event.recipient.id == jane
