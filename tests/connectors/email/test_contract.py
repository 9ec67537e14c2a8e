"""The contract suite against a real dovecot (IMAP) and a real SMTP server that delivers into it.

Customers write through SMTP; caredesk polls the brand's INBOX over IMAP and answers over SMTP; what it
published is read from what crossed the SMTP server. Failures are real: dovecot's own connection limit
(`NO [LIMIT]`, the "429"), a connection closed at once ("500") or left silent ("timeout"), and SMTP 421 /
451 answers or a server that hangs.

Email has no public replies: the contract's public-reply test is skipped, and the two tests that reply
publicly are run here with private replies, asserting the same things.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from caredesk.actions import conversations as conv_actions
from caredesk.connectors.email.parse import body_text, first_id
from caredesk.fakes.mailserver import MailServer
from caredesk.pipeline.runner import Pipeline
from caredesk.storage import models as m
from tests.connectors.contract import ChannelSetup, ConnectorContract, Env, Harness, Published, _inbound
from tests.connectors.email.conftest import Brand, new_brand

FETCH_FAILURES = {"500": "close", "timeout": "hang"}


class EmailHarness(Harness):
    connector = "email"
    page_size = 20

    def __init__(self, server: MailServer) -> None:
        self.server = server
        self.brand: Brand | None = None

    @property
    def address(self) -> str:
        assert self.brand is not None
        return self.brand.address

    def start(self) -> None:
        self.brand = new_brand(self.server)

    def stop(self) -> None:
        self.server.clear_failures()

    def channel(self) -> ChannelSetup:
        assert self.brand is not None
        return ChannelSetup(
            # 1 s: the failing SMTP server and the silent IMAP connection hang for 3 s.
            config=self.brand.config(timeout=1.0, batch_size=self.page_size),
            credentials=self.brand.credentials(),
            own_account_id=self.address,
        )

    def customer_id(self, author: str) -> str:
        return f"{author}@customer.example"

    def inject(self, text: str, *, author: str, public: bool = True, reply_to: str | None = None) -> str:
        return self.server.send_as_customer(
            self.customer_id(author),
            self.address,
            subject=f"Question from {author}",
            text=text,
            name=author.title(),
            in_reply_to=reply_to,
            references=[reply_to] if reply_to else [],
        )

    def deliver(self) -> None:
        self.env.poll()

    def published(self) -> list[Published]:
        out = []
        for item in self.server.sent_by(self.address):
            msg = item.message
            text, _ = body_text(msg)
            out.append(
                Published(
                    id=first_id(str(msg["Message-ID"])) or "",
                    text=text,
                    public=False,
                    in_reply_to=first_id(str(msg["In-Reply-To"] or "")),
                    recipient=item.rcpt_tos[0],
                    raw={"content": item.content, "rcpt_tos": item.rcpt_tos, "smtp_id": item.queue_id},
                )
            )
        return out

    def fail_next(self, *failures: str, on: str) -> None:
        if on == "send":
            self.server.fail_next_smtp(*failures)
            return
        assert on == "fetch"
        for failure in failures:
            mode = f"limit:{self.address}" if failure == "429" else FETCH_FAILURES[failure]
            self.server.fail_next_imap(mode)

    def echo(self, published: Published) -> None:
        # A copy of our own reply lands in the brand's INBOX (Bcc to itself, a Reply-All loop).
        self.server.append(
            self.address, b"Delivered-To: " + self.address.encode() + b"\r\n" + published.raw["content"]
        )


class TestEmailContract(ConnectorContract):
    @pytest.fixture
    def harness(self, mail_server: MailServer) -> Iterator[EmailHarness]:
        h = EmailHarness(mail_server)
        h.start()
        yield h
        h.stop()

    def test_public_reply_goes_in_the_right_thread(self, env: Env, harness: Harness) -> None:
        pytest.skip("email has no public replies (PUBLIC_REPLY is not a capability of the email connector)")

    def test_send_failures_are_retried_and_published_once(self, env: Env, harness: Harness) -> None:
        harness.inject("are you there?", author="sam")
        self._sync(env, harness)
        conv = self._conversation_of(env, "are you there?")
        harness.fail_next("429", "500", "timeout", on="send")
        conv_actions.reply(env.rt, env.agent, conv, "We are here", public=False)
        env.send()
        assert [p.text for p in harness.published() if "We are here" in p.text] != []
        assert len(harness.published()) == 1
        with env.rt.db.read() as s:
            box = s.scalar(sa.select(m.Outbox))
        assert box is not None and box.status == "sent" and box.attempts == 4

    def test_own_reply_echoed_back_is_not_a_customer_message(self, env: Env, harness: Harness) -> None:
        harness.inject("hello brand", author="eve")
        self._sync(env, harness)
        conv = self._conversation_of(env, "hello brand")
        conv_actions.reply(env.rt, env.agent, conv, "Hello Eve", public=False)
        env.send()
        (post,) = harness.published()
        harness.echo(post)
        self._sync(env, harness)
        assert [x.text for x in _inbound(env.rt)] == ["hello brand"]
        with env.rt.db.read() as s:
            outs = list(s.scalars(sa.select(m.Message).where(m.Message.direction == "out")))
        assert len(outs) == 1 and outs[0].external_id == post.id

    def test_echo_before_the_write_back_is_recognised_by_its_message_id(
        self, env: Env, harness: Harness
    ) -> None:
        """The echo can outrun the sender's write-back: the idempotency key inside our Message-ID names
        the reply it copies."""
        harness.inject("hello again", author="ivy")
        self._sync(env, harness)
        conv = self._conversation_of(env, "hello again")
        conv_actions.reply(env.rt, env.agent, conv, "Hi Ivy", public=False)
        env.send()
        (post,) = harness.published()
        with env.rt.db.write() as s:  # as if the process died right after SMTP accepted the reply
            s.execute(sa.update(m.Message).where(m.Message.direction == "out").values(external_id=None))
        harness.echo(post)
        self._sync(env, harness)
        Pipeline(env.rt).drain()
        with env.rt.db.read() as s:
            outs = list(s.scalars(sa.select(m.Message).where(m.Message.direction == "out")))
        assert [x.text for x in _inbound(env.rt)] == ["hello again"]
        assert len(outs) == 1 and outs[0].external_id == post.id
