"""Email over IMAP (in) and SMTP (out): a support address as a caredesk channel.

In: `fetch(cursor)` reads the channel's mailbox over IMAP from the last UID seen; the cursor is
{mailbox, uidvalidity, last_uid}. A changed UIDVALIDITY (the mailbox was recreated or restored) restarts
from UID 1: every message comes again and the core drops the ones it has by Message-ID, so nothing is
lost and nothing doubles. Automatic and bulk mail (Auto-Submitted, Precedence, list headers) is skipped,
with the cursor moved past it, so two robots never answer each other through caredesk.
`wait_for_mail(timeout)` waits with IMAP IDLE for the server to announce new mail.

Out: `send(reply)` submits the reply over SMTP with a Message-ID made from the reply's idempotency key,
In-Reply-To/References pointing at the customer's message, then files a copy in the Sent mailbox. SMTP
gives no receipt and drops no repeats (`idempotent_send=False`): `find_published` looks for that
Message-ID in the Sent mailbox and the INBOX.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

from caredesk.connectors import registry
from caredesk.connectors.base import Connector, ConnectorSpec, FetchResult
from caredesk.connectors.email import compose, smtp
from caredesk.connectors.email.imap import ImapSession, references_of
from caredesk.connectors.email.parse import Fetched, Mailbox, Parsed, parse
from caredesk.connectors.email.settings import CONFIG_FIELDS, CREDENTIAL_FIELDS, EmailSettings
from caredesk.domain.errors import ConnectorError, InvalidInput
from caredesk.domain.types import Capability, LengthRule, OutboundReply, ReplyContext, SendResult

log = logging.getLogger(__name__)
IDLE_SLICE = 30.0  # seconds in IDLE before checking whether the stream should stop (RFC 2177 allows 29 min)

MAX_BATCH_BYTES = 20_000_000  # one fetch brings at most this much mail (at least one message)
LARGE_MESSAGE = 5_000_000  # beyond this only the first bytes are fetched: the text comes before attachments
SENT_NAMES = ("sent", "sent items", "sent messages", "sent mail", "inbox.sent")


@registry.register
class EmailConnector(Connector):
    spec = ConnectorSpec(
        key="email",
        display_name="Email (IMAP/SMTP)",
        network="email",
        capabilities=frozenset({Capability.POLL, Capability.STREAM, Capability.PRIVATE_REPLY}),
        length_rule=LengthRule(public="email", private="email"),
        config_fields=CONFIG_FIELDS,
        credential_fields=CREDENTIAL_FIELDS,
        idempotent_send=False,
        poll_seconds=60,
        docs="docs/connectors.md",
    )

    @property
    def settings(self) -> EmailSettings:
        return EmailSettings.of(self.channel)

    def _own(self, settings: EmailSettings) -> str:
        return (self.channel.own_account_id or settings.address).strip().lower()

    # -- checks ------------------------------------------------------------------------------------------

    def verify(self) -> None:
        """IMAP: log in and open the mailbox. SMTP: connect, EHLO, STARTTLS if set, log in."""
        settings = self.settings
        with ImapSession(settings) as imap:
            imap.select(settings.mailbox)
            if settings.sent_mailbox:
                names = {name for _, name in imap.mailboxes()}
                if settings.sent_mailbox not in names:
                    raise ConnectorError(
                        f"the Sent mailbox {settings.sent_mailbox!r} does not exist on the IMAP server",
                        retryable=False,
                    )
        smtp.check(settings)

    # -- in ----------------------------------------------------------------------------------------------

    def fetch(self, cursor: dict[str, Any]) -> FetchResult:
        settings = self.settings
        with ImapSession(settings) as imap:
            selected = imap.select(settings.mailbox)
            last_uid = _int(cursor.get("last_uid"))
            same_box = cursor.get("mailbox", settings.mailbox) == settings.mailbox
            if not same_box or _int(cursor.get("uidvalidity")) != selected.uidvalidity:
                if cursor.get("uidvalidity") is not None or not same_box:
                    log.warning(
                        "channel %s: mailbox %r has a new UIDVALIDITY (%s -> %s); reading it again from "
                        "the start (repeats are dropped by Message-ID)",
                        self.channel.id,
                        settings.mailbox,
                        cursor.get("uidvalidity"),
                        selected.uidvalidity,
                    )
                last_uid = 0
            new_cursor = {
                "mailbox": settings.mailbox,
                "uidvalidity": selected.uidvalidity,
                "last_uid": last_uid,
            }
            uids = imap.uids_after(last_uid)
            if not uids:
                return FetchResult(events=[], cursor=new_cursor)
            candidates = uids[: settings.batch_size]
            sizes = imap.sizes(candidates)
            batch: list[int] = []
            budget = MAX_BATCH_BYTES
            for uid in candidates:
                size = min(sizes.get(uid, 0), LARGE_MESSAGE)
                if batch and size > budget:
                    break
                batch.append(uid)
                budget -= size
            small = [u for u in batch if sizes.get(u, 0) <= LARGE_MESSAGE]
            large = [u for u in batch if sizes.get(u, 0) > LARGE_MESSAGE]
            fetched = imap.fetch(small)
            if large:
                fetched += imap.fetch(large, first_bytes=LARGE_MESSAGE)
        box = Mailbox(
            name=settings.mailbox,
            uidvalidity=selected.uidvalidity,
            own_address=self._own(settings),
            domain=settings.domain,
            accept_list_mail=settings.accept_list_mail,
        )
        events = []
        for item in sorted(fetched, key=lambda f: f.uid):
            parsed = self._parse(item, box)
            if parsed.event is not None:
                events.append(parsed.event)
            else:
                log.info("channel %s: skipped UID %s: %s", self.channel.id, item.uid, parsed.skipped)
        # Past the whole batch, fetched or not (a UID expunged meanwhile is gone for good).
        new_cursor["last_uid"] = batch[-1]
        return FetchResult(events=events, cursor=new_cursor, more=len(uids) > len(batch))

    def _parse(self, item: Fetched, box: Mailbox) -> Parsed:
        try:
            return parse(item, box, self.clock.now())
        except Exception as exc:  # one unreadable mail must not stop the mailbox
            log.exception("channel %s: UID %s could not be parsed", self.channel.id, item.uid)
            return Parsed(item.uid, None, f"unreadable: {type(exc).__name__}")

    def wait_for_mail(self, timeout: float, cursor: dict[str, Any] | None = None) -> bool:
        """Block until the IMAP server announces new mail in the mailbox (IDLE, RFC 2177), or `timeout`
        seconds pass. True: fetch now. With the last stored cursor, mail that arrived since that fetch
        answers True at once (nothing slips between a fetch and the IDLE)."""
        settings = self.settings
        with ImapSession(settings) as imap:
            selected = imap.select(settings.mailbox)
            if cursor is not None and cursor.get("uidvalidity") is not None:
                if _int(cursor.get("uidvalidity")) != selected.uidvalidity:
                    return True
                if selected.uidnext is not None and selected.uidnext > _int(cursor.get("last_uid")) + 1:
                    return True
            return imap.idle_until_exists(selected.exists, timeout)

    def stream(
        self, cursor: dict[str, Any], deliver: Callable[[FetchResult], None], stop: threading.Event
    ) -> dict[str, Any]:
        """Fetch, then wait in IMAP IDLE until the server announces mail (or IDLE_SLICE passes, to notice
        `stop`), and fetch again: mail shows up in seconds without polling the server every minute."""
        while not stop.is_set():
            result = self.fetch(cursor)
            deliver(result)
            cursor = result.cursor
            if not result.more and not stop.is_set():
                self.wait_for_mail(IDLE_SLICE, cursor)
        return cursor

    # -- out ---------------------------------------------------------------------------------------------

    def prepare(self, reply: OutboundReply, context: ReplyContext) -> OutboundReply:
        if reply.public:
            raise InvalidInput("email has no public replies: send a private reply")
        settings = self.settings
        addr = compose.recipient_address(reply.recipient)
        if addr.addr_spec.lower() == self._own(settings):
            raise InvalidInput(
                "this reply would go to the channel's own address (a mail loop): "
                "check the conversation's contact"
            )
        return reply

    def send(self, reply: OutboundReply) -> SendResult:
        settings = self.settings
        if reply.public:
            raise ConnectorError("email has no public replies", retryable=False)
        try:
            recipient = compose.recipient_address(reply.recipient).addr_spec
        except InvalidInput as exc:
            raise ConnectorError(exc.message, retryable=False) from None
        message_id = compose.reply_message_id(reply.idempotency_key, settings.domain)
        parent_refs, parent_subject, how = self._parent(settings, reply)
        references = compose.references_for(parent_refs, reply.in_reply_to)
        message = compose.build_reply(
            text=reply.text,
            sender=settings.address,
            display_name=settings.display_name,
            recipient=recipient,
            subject=compose.reply_subject(reply.subject or parent_subject),
            message_id=message_id,
            in_reply_to=reply.in_reply_to,
            references=references,
            automatic=reply.automatic,
            now=self.clock.now(),
            international=not (settings.address.isascii() and recipient.isascii()),
        )
        accepted = smtp.submit(settings, message, sender=settings.address, recipient=recipient)
        # The mail is out: from here on nothing may raise, or the sender would send it again.
        filed = self._file_sent_copy(settings, message)
        return SendResult(
            external_id=message_id,
            raw={
                "smtp": f"{accepted.code} {accepted.reply}"[:300],
                "recipient": recipient,
                "references": how,
                "sent_copy": filed,
            },
        )

    def _parent(self, settings: EmailSettings, reply: OutboundReply) -> tuple[list[str], str | None, str]:
        """The answered message's References and Subject, read from the mailbox by its Message-ID.
        Falls back on the thread's root (reply.thread) when the lookup fails or finds nothing."""
        fallback = [reply.thread] if reply.thread and reply.thread != reply.in_reply_to else []
        if not reply.in_reply_to:
            return [], None, "none"
        try:
            with ImapSession(settings) as imap:
                imap.select(settings.mailbox)
                found = imap.find_message_id(reply.in_reply_to)
        except ConnectorError as exc:
            log.warning(
                "channel %s: parent lookup failed (%s); References from the thread", self.channel.id, exc
            )
            return fallback, None, "thread (lookup failed)"
        if not found:
            return fallback, None, "thread (parent not in mailbox)"
        refs, subject = references_of(found[0][1])
        return refs or fallback, subject, "parent"

    def _sent_mailbox(self, settings: EmailSettings, imap: ImapSession) -> str | None:
        if settings.sent_mailbox is not None:
            return settings.sent_mailbox or None
        boxes = imap.mailboxes()
        flagged = next((name for flags, name in boxes if "\\sent" in flags), None)
        if flagged:
            return flagged
        return next((name for _, name in boxes if name.lower() in SENT_NAMES), None)

    def _file_sent_copy(self, settings: EmailSettings, message: EmailMessage) -> str | None:
        if settings.sent_mailbox == "":
            return None
        try:
            with ImapSession(settings) as imap:
                box = self._sent_mailbox(settings, imap)
                if box is None:
                    return None
                imap.append(box, message.as_bytes())
                return box
        except ConnectorError as exc:
            log.warning("channel %s: reply sent, but no copy filed in Sent: %s", self.channel.id, exc)
            return None

    def find_published(self, reply: OutboundReply) -> SendResult | None:
        """After a crash mid-send: is the reply's Message-ID in the Sent mailbox (our copy, or the
        provider's) or in the mailbox itself (a Bcc to the support address)? None: send again."""
        settings = self.settings
        message_id = compose.reply_message_id(reply.idempotency_key, settings.domain)
        with ImapSession(settings) as imap:
            boxes = [self._sent_mailbox(settings, imap), settings.mailbox]
            for box in dict.fromkeys(b for b in boxes if b):
                try:
                    imap.select(box)
                except ConnectorError:
                    continue
                if imap.find_message_id(message_id):
                    return SendResult(external_id=message_id, raw={"found_in": box})
        return None


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
