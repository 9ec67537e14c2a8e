"""One fetched email -> one InboundEvent (or the reason it is ignored). Pure: no I/O.

Parsing uses the standard library's `email` package with `policy.default`. Mail from the real world is
often broken (wrong or unknown charsets, raw 8-bit headers, bad base64, missing headers); nothing here
raises on such input: text is decoded with errors="replace" and every header has a fallback.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any

from caredesk.connectors.email.compose import client_ref_of
from caredesk.domain.clock import as_utc
from caredesk.domain.types import Author, Direction, InboundEvent

MAX_TEXT = 99_000  # the pipeline refuses more than 100,000 characters
MAX_HTML = 200_000  # raw HTML kept beside the text, for a "show original" view
MAX_ID = 255  # column width of external ids and references
MAX_REFERENCES = 50
MAX_SUBJECT = 500
FUTURE_SLACK = timedelta(days=1)  # a Date header further ahead than this is not believed

_ANGLE = re.compile(r"<([^<>\s]+)>")
_WS = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_BULK_PRECEDENCE = frozenset({"bulk", "junk", "list"})


@dataclass(frozen=True, slots=True)
class Fetched:
    """One message as the IMAP server handed it over."""

    uid: int
    raw: bytes
    internaldate: datetime | None = None
    size: int = 0
    partial: bool = False  # only the first bytes were fetched (a very large message)


@dataclass(frozen=True, slots=True)
class Mailbox:
    """Where the messages come from and whose they are."""

    name: str
    uidvalidity: int
    own_address: str  # lowercased
    domain: str  # of the own address: our reply Message-IDs end in it
    accept_list_mail: bool = False


@dataclass(frozen=True, slots=True)
class Parsed:
    uid: int
    event: InboundEvent | None
    skipped: str | None = None  # why it is not handed to caredesk (auto-reply, bulk mail)


def parse(fetched: Fetched, box: Mailbox, now: datetime) -> Parsed:
    msg = message_from_bytes(fetched.raw, policy=policy.default)
    reason = bulk_reason(msg, accept_list_mail=box.accept_list_mail)
    if reason is not None:
        return Parsed(fetched.uid, None, reason)
    return Parsed(fetched.uid, to_event(msg, fetched, box, now))


# --------------------------------------------------------------------------------------------------------
# Loop and bulk protection


def bulk_reason(msg: Message, *, accept_list_mail: bool = False) -> str | None:
    """Why this mail must not reach an agent (RFC 3834 and common practice), or None.

    - `Auto-Submitted` with any value but "no" (auto-replied, auto-generated, auto-notified);
    - `Precedence: bulk` or `junk` (and `list`, unless the channel accepts list mail);
    - `List-Id` or `List-Unsubscribe` present (mailing lists, newsletters), unless the channel accepts
      list mail (a support address that is itself a group/list);
    - `X-Autoreply` / `X-Autorespond` (older autoresponders that set no Auto-Submitted)."""
    auto = header(msg, "Auto-Submitted")
    if auto and auto.split(";", 1)[0].strip().lower() != "no":
        return f"automatic mail (Auto-Submitted: {auto.strip()[:60]})"
    precedence = (header(msg, "Precedence") or "").strip().lower()
    if precedence in _BULK_PRECEDENCE and not (accept_list_mail and precedence == "list"):
        return f"bulk mail (Precedence: {precedence})"
    if not accept_list_mail:
        for name in ("List-Id", "List-Unsubscribe"):
            if header(msg, name):
                return f"mailing-list mail ({name})"
    for name in ("X-Autoreply", "X-Autorespond"):
        value = header(msg, name)
        if value is not None and value.strip().lower() not in ("no", "false", "0"):
            return f"automatic mail ({name})"
    return None


# --------------------------------------------------------------------------------------------------------
# Event


def to_event(msg: Message, fetched: Fetched, box: Mailbox, now: datetime) -> InboundEvent:
    message_id = first_id(header(msg, "Message-ID")) or synthetic_id(fetched.raw)
    references = _trim_refs(message_ids(header(msg, "References")))
    # Some clients write only References: its last entry is the message answered.
    in_reply_to = first_id(header(msg, "In-Reply-To")) or (references[-1] if references else None)
    sender = (addresses(msg, "From") or addresses(msg, "Sender") or [(None, "unknown-sender@invalid")])[0]
    to = addresses(msg, "To")
    own = sender[1] == box.own_address
    text, html = body_text(msg)
    attachments = list(_attachments(msg))
    if not text.strip():
        names = ", ".join(a["filename"] or a["content_type"] for a in attachments)
        text = f"(no text; attachments: {names})" if names else "(empty message)"
    if fetched.partial:
        text += f"\n\n[caredesk read only the start of this {fetched.size // 1_000_000} MB message]"
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT] + "\n\n[message shortened by caredesk]"
    subject = header(msg, "Subject")
    subject = _WS.sub(" ", subject.replace("\n", " ")).strip()[:MAX_SUBJECT] if subject else None
    recipient = next(((n, a) for n, a in to if a != box.own_address), to[0] if to else None)
    return InboundEvent(
        external_id=message_id,
        created_at=_created_at(msg, fetched, now),
        text=text,
        author=Author(id=sender[1], handle=sender[1], name=sender[0], email=sender[1]),
        direction=Direction.OUT if own else Direction.IN,
        public=False,
        in_reply_to=in_reply_to,
        references=references,
        # The root of the email thread: the first reference, else the message answered, else itself.
        thread=(references[0] if references else None) or in_reply_to or message_id,
        subject=subject or None,
        client_ref=client_ref_of(message_id, box.domain) if own else None,
        recipient=Author(id=recipient[1], handle=recipient[1], name=recipient[0], email=recipient[1])
        if own and recipient
        else None,
        raw=_raw(msg, fetched, box, html, attachments),
    )


def _created_at(msg: Message, fetched: Fetched, now: datetime) -> datetime:
    fallback = fetched.internaldate or now
    value = header(msg, "Date")
    if not value:
        return as_utc(fallback)
    try:
        stamp = as_utc(parsedate_to_datetime(value))
    except (TypeError, ValueError, IndexError, OverflowError):
        return as_utc(fallback)
    return as_utc(fallback) if stamp > as_utc(now) + FUTURE_SLACK else stamp


def _raw(
    msg: Message, fetched: Fetched, box: Mailbox, html: str | None, attachments: list[dict[str, Any]]
) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "mailbox": box.name,
        "uidvalidity": box.uidvalidity,
        "uid": fetched.uid,
        "size": fetched.size or len(fetched.raw),
        "headers": {
            name.lower(): value
            for name in ("From", "To", "Cc", "Reply-To", "Date", "Subject", "Message-ID", "In-Reply-To")
            if (value := header(msg, name)) is not None
        },
    }
    if fetched.internaldate:
        raw["internaldate"] = fetched.internaldate.isoformat()
    if fetched.partial:
        raw["partial"] = True
    if html is not None:
        raw["html"] = html[:MAX_HTML]
    if attachments:
        raw["attachments"] = attachments[:50]
    defects = sorted({type(d).__name__ for part in msg.walk() for d in getattr(part, "defects", [])})
    if defects:
        raw["defects"] = defects
    return raw


# --------------------------------------------------------------------------------------------------------
# Ids


def message_ids(value: str | None) -> list[str]:
    """The msg-ids of a Message-ID / In-Reply-To / References header, without angle brackets."""
    if not value:
        return []
    found = _ANGLE.findall(value)
    if not found:  # some mailers write bare ids
        found = [token for token in value.split() if "@" in token]
    out: list[str] = []
    for item in found:
        cleaned = _clean(item).strip().strip("<>").strip()
        if cleaned and cleaned not in out:
            out.append(fit_id(cleaned))
    return out


def first_id(value: str | None) -> str | None:
    ids = message_ids(value)
    return ids[0] if ids else None


def fit_id(value: str) -> str:
    """Ids longer than the database allows are replaced by a stable digest (everywhere alike)."""
    if len(value) <= MAX_ID:
        return value
    return f"{hashlib.sha256(value.encode()).hexdigest()[:40]}@long-id.caredesk.invalid"


def synthetic_id(raw: bytes) -> str:
    """A stable id for mail without a Message-ID: a digest of the whole message as stored. Not the UID:
    it survives a UIDVALIDITY change, so a resync finds the same id and the core drops the repeat."""
    return f"no-message-id.{hashlib.sha256(raw).hexdigest()[:40]}@caredesk.invalid"


def _trim_refs(refs: list[str]) -> list[str]:
    """Very long References keep the first (the thread's root) and the most recent ones."""
    if len(refs) <= MAX_REFERENCES:
        return refs
    return [refs[0], *refs[-(MAX_REFERENCES - 1) :]]


# --------------------------------------------------------------------------------------------------------
# Headers and addresses


def _clean(value: str) -> str:
    """Undo the surrogate escapes the parser leaves for raw 8-bit bytes: UTF-8 if they are UTF-8, else
    Windows-1252; drop NULs."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        data = value.encode("utf-8", "surrogateescape")
        try:
            value = data.decode("utf-8")
        except UnicodeDecodeError:
            value = data.decode("cp1252", "replace")
    return value.replace("\x00", "")


def _raw_header(msg: Message, name: str) -> str | None:
    items = msg.raw_items() if isinstance(msg, EmailMessage) else msg.items()
    wanted = name.lower()
    return next((str(value) for key, value in items if key.lower() == wanted), None)


def _has_raw_bytes(value: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in value)


def header(msg: Message, name: str) -> str | None:
    """A header's decoded value, or None. Never raises on broken encodings. Raw 8-bit bytes (not allowed
    in headers, common anyway) are read as UTF-8, else Windows-1252, rather than as U+FFFD."""
    raw = _raw_header(msg, name)
    if raw is None:
        return None
    if _has_raw_bytes(raw):
        return _clean(_unfold(raw)).strip()
    try:
        value = msg.get(name)
        return None if value is None else _clean(str(value))
    except Exception:  # the header parser has known crashes on hostile input
        return _clean(_unfold(raw)).strip()


def _unfold(value: str) -> str:
    return re.sub(r"\r?\n[ \t]", " ", value)


def addresses(msg: Message, name: str) -> list[tuple[str | None, str]]:
    """(display name, lowercased address) of each mailbox in an address header."""
    out: list[tuple[str | None, str]] = []
    try:
        value = msg.get(name)
        for addr in getattr(value, "addresses", ()) or ():
            spec = _clean(str(addr.addr_spec)).strip().lower()
            if "@" in spec:
                out.append((_clean(addr.display_name).strip() or None, spec))
    except Exception:  # noqa: S110  (fall back on the lenient parser below)
        pass
    if out:
        return out
    text = header(msg, name)
    if not text:
        return []
    for display, found in getaddresses([text]):
        spec = found.strip().lower()
        if "@" in spec:
            out.append((display.strip() or None, spec))
    return out


# --------------------------------------------------------------------------------------------------------
# Body


def body_text(msg: Message) -> tuple[str, str | None]:
    """The text an agent reads, and the HTML it came from when there was no text/plain part."""
    part: Message | None = None
    if isinstance(msg, EmailMessage):
        try:
            part = msg.get_body(preferencelist=("plain", "html"))
        except Exception:
            part = None
    if part is None:
        part = next(
            (
                p
                for p in msg.walk()
                if p.get_content_maintype() == "text" and p.get_content_disposition() != "attachment"
            ),
            None,
        )
    if part is None:
        return "", None
    content = decode_part(part)
    if part.get_content_subtype() == "html":
        return html_to_text(content), content
    return _tidy(content), None


def decode_part(part: Message) -> str:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if not isinstance(payload, bytes):
        inner = part.get_payload()
        payload = inner.encode("utf-8", "surrogateescape") if isinstance(inner, str) else b""
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    return decode_bytes(payload, charset)


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode with the declared charset (errors replaced); unknown or ASCII-declared text that is not
    ASCII is tried as UTF-8, then Windows-1252."""
    name = (charset or "").strip().strip('"').lower()
    if name:
        try:
            name = codecs.lookup(name).name
        except LookupError:
            name = ""
    if name and name != "ascii":
        return data.decode(name, "replace").replace("\x00", "")
    try:
        return data.decode("utf-8").replace("\x00", "")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace").replace("\x00", "")


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _attachments(msg: Message) -> Iterator[dict[str, Any]]:
    for part in msg.walk():
        if part.is_multipart():
            continue
        try:
            disposition = part.get_content_disposition()
            filename = part.get_filename()
        except Exception:  # a broken Content-Disposition: not worth listing
            disposition, filename = None, None
        if disposition != "attachment" and not filename:
            continue
        payload = part.get_payload()
        yield {
            "filename": _clean(filename) if filename else None,
            "content_type": part.get_content_type(),
            "size": len(payload) if isinstance(payload, str) else 0,  # encoded size
        }


# --------------------------------------------------------------------------------------------------------
# HTML -> text


_SKIP = frozenset({"script", "style", "head", "title", "template", "noscript", "svg", "iframe", "object"})
# Paragraph-like blocks stand apart with a blank line; line-like ones start a new line.
_PARAGRAPH = frozenset(
    {"p", "blockquote", "pre", "table", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "address"}
)
_LINE = frozenset({"div", "section", "article", "header", "footer", "tr", "li", "center", "dd", "dt"})


class _TextOf(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.pre = 0
        self.href: str | None = None
        self.link_text: list[str] = []
        self.wrote = False  # any visible text yet

    def _break(self, lines: int) -> None:
        """End the current line, leaving at least `lines` line breaks before what follows."""
        if not self.wrote:
            return  # nothing above: no leading blank lines
        tail = "".join(self.parts[-4:])
        have = tail[len(tail.rstrip(" \n")) :].count("\n")
        self.parts.append("\n" * max(0, lines - have))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self.skipping += 1
        elif self.skipping:
            return
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _PARAGRAPH or tag in _LINE:
            self._break(2 if tag in _PARAGRAPH else 1)
            if tag == "li":
                self.parts.append("- ")
            if tag == "pre":
                self.pre += 1
        elif tag == "td":
            self.parts.append(" ")
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.parts.append(f"[{alt.strip()}]")
        elif tag == "a":
            href = (dict(attrs).get("href") or "").strip()
            self.href = href if href.lower().startswith(("http://", "https://", "mailto:")) else None
            self.link_text = []

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif self.skipping:
            return
        elif tag in _PARAGRAPH or tag in _LINE:
            self._break(2 if tag in _PARAGRAPH else 1)
            if tag == "pre":
                self.pre = max(0, self.pre - 1)
        elif tag == "a" and self.href:
            shown = "".join(self.link_text).strip()
            target = self.href.removeprefix("mailto:")
            if shown and target not in shown:
                self.parts.append(f" ({self.href})")
            self.href = None

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        text = data if self.pre else _WS.sub(" ", data.replace("\n", " "))
        self.parts.append(text)
        self.wrote = self.wrote or bool(text.strip())
        if self.href is not None:
            self.link_text.append(text)


def html_to_text(html: str) -> str:
    """Readable plain text of an HTML mail: no tags, no script or style content, entities decoded,
    blocks on their own lines, link targets kept beside their text."""
    parser = _TextOf()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # HTMLParser is lenient; be safe anyway
        return _tidy(re.sub(r"<[^>]*>", " ", html))
    text = "".join(parser.parts).replace("\xa0", " ")
    lines = [_WS.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
