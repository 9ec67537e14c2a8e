"""Building a reply: its deterministic Message-ID, threading headers, subject and body. Pure: no I/O."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from caredesk.domain.errors import InvalidInput

# Serialised for SMTP (CRLF) and 7-bit clean: non-ASCII text goes quoted-printable or base64, so any
# server takes it, with or without 8BITMIME.
WIRE = policy.SMTP.clone(cte_type="7bit")
WIRE_UTF8 = policy.SMTPUTF8.clone(cte_type="7bit")

_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
_OURS = re.compile(r"caredesk\.([A-Za-z0-9_-]{1,64})@(.+)")
_REPLY_PREFIX = re.compile(r"^\s*(re|aw|sv|antw|vs|ref|rif|odp)\s*(\[\d+\])?\s*:", re.IGNORECASE)


def id_domain(domain: str) -> str:
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return "caredesk.invalid"


def reply_message_id(idempotency_key: str, domain: str) -> str:
    """`caredesk.<key>@<domain of the support address>`: the same on every retry of the same reply, so a
    copy found in a mailbox proves that reply went out, and an echo names the reply it copies."""
    token = idempotency_key if _KEY.fullmatch(idempotency_key) else _digest(idempotency_key)
    return f"caredesk.{token}@{id_domain(domain)}"


def client_ref_of(message_id: str, domain: str) -> str | None:
    """The idempotency key inside one of our own Message-IDs (None for anyone else's)."""
    found = _OURS.fullmatch(message_id)
    if found is None or found.group(2).lower() != id_domain(domain).lower():
        return None
    return found.group(1)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:40]


def reply_subject(subject: str | None) -> str:
    text = " ".join((subject or "").split())
    if not text:
        return "Re: (no subject)"
    return text if _REPLY_PREFIX.match(text) else f"Re: {text}"


def references_for(parent_references: Sequence[str], parent: str | None) -> list[str]:
    """RFC 5322 3.6.4: the parent's References (or, lacking them, its In-Reply-To) plus the parent."""
    out = [r for r in parent_references if r]
    if parent and parent not in out:
        out.append(parent)
    if len(out) > 20:  # keep the root and the most recent, as mail clients do
        out = [out[0], *out[-19:]]
    return out


def recipient_address(recipient: str | None) -> Address:
    if not recipient or not recipient.strip():
        raise InvalidInput("this conversation has no email address to reply to")
    try:
        addr = Address(addr_spec=recipient.strip())
    except (ValueError, IndexError) as exc:
        raise InvalidInput(f"{recipient!r} is not an email address: {exc}") from None
    if not addr.username or not addr.domain:
        raise InvalidInput(f"{recipient!r} is not an email address")
    return addr


def build_reply(
    *,
    text: str,
    sender: str,
    display_name: str | None,
    recipient: str,
    subject: str,
    message_id: str,
    in_reply_to: str | None,
    references: Sequence[str],
    automatic: bool,
    now: datetime,
    international: bool = False,
) -> EmailMessage:
    msg = EmailMessage(policy=WIRE_UTF8 if international else WIRE)
    msg["From"] = Address(display_name=display_name or "", addr_spec=sender)
    msg["To"] = recipient_address(recipient)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = f"<{message_id}>"
    if in_reply_to:
        msg["In-Reply-To"] = f"<{in_reply_to}>"
    if references:
        msg["References"] = " ".join(f"<{r}>" for r in references)
    if automatic:
        msg["Auto-Submitted"] = "auto-replied"  # RFC 3834: other robots must not answer it
    msg.set_content(text if text.endswith("\n") else text + "\n")
    return msg
