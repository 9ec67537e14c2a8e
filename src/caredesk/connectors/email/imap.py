"""An IMAP session (stdlib imaplib) with every failure turned into a classified ConnectorError.

imaplib rather than imap-tools: the connector needs only LOGIN, SELECT/EXAMINE, UID SEARCH, UID FETCH,
APPEND, LIST and IDLE; imaplib is in the standard library and typed, and IDLE (absent from imaplib before
Python 3.14) is a dozen lines here (`idle_until_exists`). imap-tools would add a dependency whose IDLE
wrapper hides the socket timeouts this code has to control.
"""

from __future__ import annotations

import base64
import contextlib
import imaplib
import io
import re
import select
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from types import TracebackType

from caredesk.connectors.email.parse import Fetched, first_id, header, message_ids
from caredesk.connectors.email.settings import EmailSettings
from caredesk.domain.errors import ConnectorError

NAME = "IMAP server"
IDLE_RENEW = 28 * 60.0  # RFC 2177: a server may drop an IDLE after 30 minutes; re-issue before that
_FETCH_PIECE = 100  # UIDs per FETCH command (keeps command lines short)

_UID = re.compile(rb"\bUID (\d+)")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")
_INTERNALDATE = re.compile(rb'\bINTERNALDATE "([^"]+)"')
_EXISTS = re.compile(rb"^\* (\d+) EXISTS", re.IGNORECASE)
_EXPUNGE = re.compile(rb"^\* (\d+) EXPUNGE", re.IGNORECASE)
_LIST = re.compile(rb'^\((?P<flags>[^)]*)\) (?:"(?P<sep>[^"]*)"|NIL) (?P<name>.+)$')


@dataclass(frozen=True, slots=True)
class Selected:
    uidvalidity: int
    uidnext: int | None
    exists: int


def encode_mailbox(name: str) -> str:
    """A mailbox name as IMAP wants it: modified UTF-7 (RFC 3501 5.1.3), quoted."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            data = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(data).decode().rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    encoded = "".join(out)
    return '"' + encoded.replace("\\", "\\\\").replace('"', '\\"') + '"'


def decode_mailbox(raw: str) -> str:
    def piece(found: re.Match[str]) -> str:
        inner = found.group(1)
        if not inner:
            return "&"
        data = inner.replace(",", "/")
        data += "=" * (-len(data) % 4)
        try:
            return base64.b64decode(data).decode("utf-16-be")
        except (ValueError, UnicodeDecodeError):
            return found.group(0)

    return re.sub(r"&([A-Za-z0-9+,]*)-", piece, raw)


def _scrub(text: str, settings: EmailSettings) -> str:
    for secret in settings.secrets():
        text = text.replace(secret, "***")
    return text[:300]


def _text(exc: BaseException) -> str:
    args = exc.args[0] if exc.args else exc
    if isinstance(args, bytes):
        return args.decode("utf-8", "replace").strip()
    return str(args).strip()


def imap_failure(exc: BaseException, settings: EmailSettings, stage: str) -> ConnectorError:
    """What an agent or operator reads on the channel, and whether the poller may try again."""
    if isinstance(exc, ConnectorError):
        return exc
    where = f"{settings.imap_host}:{settings.imap_port}"
    said = _scrub(_text(exc), settings)
    upper = said.upper()
    too_many = "[LIMIT]" in upper or "TOO MANY" in upper or "MAXIMUM NUMBER OF CONNECTIONS" in upper
    if too_many:
        return ConnectorError(
            f"{NAME} rate limit reached: too many connections for {settings.username} (server said: {said})",
            retryable=True,
        )
    if isinstance(exc, imaplib.IMAP4.abort):  # the connection broke, or the server said BYE
        return ConnectorError(f"{NAME} {where} closed the connection during {stage}: {said}", retryable=True)
    if isinstance(exc, imaplib.IMAP4.error):
        transient = any(code in upper for code in ("[UNAVAILABLE]", "[INUSE]", "[SERVERBUG]", "TRY AGAIN"))
        if stage == "login" and not transient:
            return ConnectorError(
                f"{NAME} refused the login of {settings.username}: check the username and password "
                f"(an app password where the provider asks for one) (server said: {said})",
                retryable=False,
            )
        if stage == "select" and not transient:
            return ConnectorError(f"{NAME} cannot open mailbox {settings.mailbox!r}: {said}", retryable=False)
        return ConnectorError(f"{NAME} refused {stage}: {said}", retryable=transient or stage != "append")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return ConnectorError(
            f"the TLS certificate of {where} could not be verified: {exc.verify_message}", retryable=False
        )
    if isinstance(exc, ssl.SSLError) and not isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return ConnectorError(
            f"TLS with {where} failed ({exc.reason}): check imap_ssl and imap_port", retryable=False
        )
    if isinstance(exc, TimeoutError | socket.timeout):
        return ConnectorError(
            f"{NAME} {where} timed out after {settings.timeout:g} s during {stage}", retryable=True
        )
    if isinstance(exc, ConnectionRefusedError):
        return ConnectorError(f"{NAME} {where} refused the connection", retryable=True)
    if isinstance(exc, socket.gaierror):
        return ConnectorError(f"cannot resolve the IMAP host {settings.imap_host!r}", retryable=True)
    if isinstance(exc, OSError):
        return ConnectorError(
            f"{NAME} {where} unreachable during {stage}: {type(exc).__name__}", retryable=True
        )
    return ConnectorError(f"{NAME} failed during {stage}: {type(exc).__name__}: {said}", retryable=True)


class ImapSession:
    """`with ImapSession(settings) as imap:` connects and logs in; leaving logs out."""

    def __init__(self, settings: EmailSettings) -> None:
        self.settings = settings
        self._conn: imaplib.IMAP4 | None = None
        self.capabilities: frozenset[str] = frozenset()

    @contextlib.contextmanager
    def _stage(self, stage: str) -> Iterator[None]:
        try:
            yield
        except ConnectorError:
            raise
        except (imaplib.IMAP4.error, OSError, ValueError, EOFError) as exc:
            raise imap_failure(exc, self.settings, stage) from None

    @property
    def conn(self) -> imaplib.IMAP4:
        assert self._conn is not None, "use the session inside its with block"
        return self._conn

    def __enter__(self) -> ImapSession:
        s = self.settings
        with self._stage("connect"):
            if s.imap_ssl:
                self._conn = imaplib.IMAP4_SSL(
                    s.imap_host, s.imap_port, ssl_context=ssl.create_default_context(), timeout=s.timeout
                )
            else:
                self._conn = imaplib.IMAP4(s.imap_host, s.imap_port, timeout=s.timeout)
        try:
            with self._stage("login"):
                if (s.username + s.password).isascii():
                    self.conn.login(s.username, s.password)
                else:  # LOGIN is ASCII-only; SASL PLAIN carries UTF-8
                    plain = f"\0{s.username}\0{s.password}".encode()
                    self.conn.authenticate("PLAIN", lambda _: plain)
            self.capabilities = frozenset(str(c).upper() for c in self.conn.capabilities)
        except BaseException:
            self._close()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.logout()
        self._close()

    def _close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.shutdown()
        self._conn = None

    # -- commands ----------------------------------------------------------------------------------------

    def select(self, mailbox: str, *, readonly: bool = True) -> Selected:
        with self._stage("select"):
            typ, data = self.conn.select(encode_mailbox(mailbox), readonly=readonly)
            if typ != "OK":
                raise imaplib.IMAP4.error(data[0] if data else b"SELECT failed")
            _, validity = self.conn.response("UIDVALIDITY")
            _, uidnext = self.conn.response("UIDNEXT")
            if not validity or validity[0] is None:
                raise imaplib.IMAP4.error(b"the server gave no UIDVALIDITY")
            return Selected(
                uidvalidity=int(validity[0]),
                uidnext=int(uidnext[0]) if uidnext and uidnext[0] is not None else None,
                exists=int(data[0] or 0),
            )

    def uids_after(self, last_uid: int) -> list[int]:
        """UIDs above last_uid, ascending. `N:*` always matches the highest UID, so filter here."""
        with self._stage("search"):
            typ, data = self.conn.uid("SEARCH", f"UID {last_uid + 1}:*")
            if typ != "OK":
                raise imaplib.IMAP4.error(data[0] if data else b"UID SEARCH failed")
            found = b" ".join(d for d in data if isinstance(d, bytes)).split()
            return sorted({int(u) for u in found if u.isdigit() and int(u) > last_uid})

    def sizes(self, uids: list[int]) -> dict[int, int]:
        out: dict[int, int] = {}
        for start in range(0, len(uids), _FETCH_PIECE):
            piece = uids[start : start + _FETCH_PIECE]
            with self._stage("fetch"):
                typ, data = self.conn.uid("FETCH", ",".join(map(str, piece)), "(UID RFC822.SIZE)")
                if typ != "OK":
                    raise imaplib.IMAP4.error(data[0] if data else b"UID FETCH failed")
            for item in data:
                line = item[0] if isinstance(item, tuple) else item
                if not isinstance(line, bytes):
                    continue
                uid, size = _UID.search(line), _SIZE.search(line)
                if uid and size:
                    out[int(uid.group(1))] = int(size.group(1))
        return out

    def fetch(self, uids: list[int], *, first_bytes: int | None = None) -> list[Fetched]:
        """Whole messages (BODY.PEEK: the \\Seen flag is left alone), or only their first bytes."""
        section = "BODY.PEEK[]" if first_bytes is None else f"BODY.PEEK[]<0.{first_bytes}>"
        out: list[Fetched] = []
        for start in range(0, len(uids), _FETCH_PIECE):
            piece = uids[start : start + _FETCH_PIECE]
            with self._stage("fetch"):
                typ, data = self.conn.uid(
                    "FETCH", ",".join(map(str, piece)), f"(UID RFC822.SIZE INTERNALDATE {section})"
                )
                if typ != "OK":
                    raise imaplib.IMAP4.error(data[0] if data else b"UID FETCH failed")
            out.extend(_fetched(data, partial=first_bytes is not None))
        return out

    def find_message_id(self, message_id: str) -> list[tuple[int, bytes]]:
        """(UID, header block) of the messages in the selected mailbox whose Message-ID is exactly this."""
        if not message_id.isascii() or any(c in message_id for c in '"\\\r\n'):
            return []
        with self._stage("search"):
            typ, data = self.conn.uid("SEARCH", "HEADER", "Message-ID", f'"{message_id}"')
            if typ != "OK":
                return []
            uids = [int(u) for u in b" ".join(d for d in data if isinstance(d, bytes)).split() if u.isdigit()]
            if not uids:
                return []
            typ, data = self.conn.uid(
                "FETCH",
                ",".join(map(str, uids[:20])),
                "(UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID IN-REPLY-TO REFERENCES SUBJECT)])",
            )
        out: list[tuple[int, bytes]] = []
        for item in data:
            if isinstance(item, tuple) and isinstance(item[1], bytes):
                uid = _UID.search(item[0])
                # SEARCH HEADER matches substrings: keep exact matches only.
                found = re.search(rb"^Message-ID:(.*)$", item[1], re.IGNORECASE | re.MULTILINE)
                if uid and found and first_id(found.group(1).decode("utf-8", "replace")) == message_id:
                    out.append((int(uid.group(1)), item[1]))
        return out

    def mailboxes(self) -> list[tuple[frozenset[str], str]]:
        """(flags, name) of every mailbox."""
        with self._stage("list"):
            typ, data = self.conn.list()
        out: list[tuple[frozenset[str], str]] = []
        if typ != "OK":
            return out
        for line in data:
            if not isinstance(line, bytes):
                continue
            found = _LIST.match(line)
            if not found:
                continue
            name = found.group("name").decode("utf-8", "replace").strip()
            if name.startswith('"') and name.endswith('"'):
                name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
            flags = frozenset(f.lower() for f in found.group("flags").decode().split())
            out.append((flags, decode_mailbox(name)))
        return out

    def append(self, mailbox: str, raw: bytes, *, flags: str = r"(\Seen)") -> None:
        with self._stage("append"):
            stamp = imaplib.Time2Internaldate(time.time())
            typ, data = self.conn.append(encode_mailbox(mailbox), flags, stamp, raw)
            if typ != "OK":
                raise imaplib.IMAP4.error(data[0] if data else b"APPEND failed")

    # -- IDLE --------------------------------------------------------------------------------------------

    def idle_until_exists(self, exists: int, timeout: float) -> bool:
        """RFC 2177 IDLE on the selected mailbox until the server pushes `* N EXISTS` with more messages
        than `exists`, or `timeout` seconds pass. Re-issued every 28 minutes. The session is done after
        this: log out (leaving the with block does)."""
        deadline = time.monotonic() + timeout
        count = exists
        with self._stage("idle"):
            if "IDLE" not in self.capabilities:
                return self._noop_until_exists(count, deadline)
            reader = _LineReader(self.conn, self.settings.timeout)
            n = 0
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                n += 1
                tag = f"CDI{n}".encode()
                self.conn.send(tag + b" IDLE\r\n")
                while True:  # until the continuation; untagged lines may come first
                    line = reader.line(self.settings.timeout)
                    if line is None:
                        raise TimeoutError("no answer to IDLE")
                    if line.startswith(b"+"):
                        break
                    if line.startswith(tag):
                        raise imaplib.IMAP4.error(line[len(tag) :].strip())
                    count, grew = _count(line, count)
                    if grew:
                        return self._done(reader, tag, count) or True
                grew = False
                idle_until = time.monotonic() + min(remaining, IDLE_RENEW)
                while not grew:
                    line = reader.line(idle_until - time.monotonic())
                    if line is None:
                        break
                    if line.upper().startswith(b"* BYE"):
                        raise imaplib.IMAP4.abort(line.decode("utf-8", "replace"))
                    count, grew = _count(line, count)
                if self._done(reader, tag, count) or grew:
                    return True

    def _noop_until_exists(self, count: int, deadline: float) -> bool:
        """Servers without IDLE: NOOP every few seconds; new mail shows as EXISTS in its answer."""
        while time.monotonic() < deadline:
            time.sleep(min(5.0, max(0.0, deadline - time.monotonic())))
            self.conn.noop()
            _, data = self.conn.response("EXISTS")
            numbers = [int(d) for d in data if isinstance(d, bytes) and d.isdigit()]
            if numbers and max(numbers) > count:
                return True
        return False

    def _done(self, reader: _LineReader, tag: bytes, count: int) -> bool:
        """End an IDLE; True if mail arrived meanwhile."""
        self.conn.send(b"DONE\r\n")
        grew = False
        while True:
            line = reader.line(self.settings.timeout)
            if line is None:
                raise TimeoutError("no answer to DONE")
            if line.startswith(tag):
                if not line[len(tag) :].strip().upper().startswith(b"OK"):
                    raise imaplib.IMAP4.error(line[len(tag) :].strip())
                return grew
            count, more = _count(line, count)
            grew = grew or more


class _LineReader:
    """Reads the server's lines during IDLE straight from the socket, waiting with select().

    imaplib's buffered file cannot wait with a timeout: after one socket timeout it refuses every later
    read. So the bytes it already buffered are taken over first, and the socket is then read directly."""

    def __init__(self, conn: imaplib.IMAP4, io_timeout: float) -> None:
        self.sock = conn.sock
        self.buf = bytearray()
        self.sock.settimeout(0.0)
        try:
            while isinstance(conn.file, io.BufferedReader) and (chunk := conn.file.read1(65536)):
                self.buf += chunk
        except (BlockingIOError, ssl.SSLWantReadError):
            pass
        finally:
            self.sock.settimeout(io_timeout)

    def line(self, timeout: float) -> bytes | None:
        """The next line without its CRLF, or None when `timeout` passes first."""
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            end = self.buf.find(b"\n")
            if end >= 0:
                line = bytes(self.buf[: end + 1])
                del self.buf[: end + 1]
                return line.rstrip(b"\r\n")
            pending = isinstance(self.sock, ssl.SSLSocket) and self.sock.pending() > 0
            if not pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                readable, _, _ = select.select([self.sock], [], [], remaining)
                if not readable:
                    return None
            try:
                data = self.sock.recv(65536)
            except ssl.SSLWantReadError:
                continue
            if not data:
                raise imaplib.IMAP4.abort("socket error: EOF")
            self.buf += data


def _count(line: bytes, count: int) -> tuple[int, bool]:
    exists = _EXISTS.match(line)
    if exists:
        n = int(exists.group(1))
        return n, n > count
    if _EXPUNGE.match(line):
        return max(0, count - 1), False
    return count, False


def _fetched(data: list[object], *, partial: bool) -> Iterator[Fetched]:
    for item in data:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes)):
            continue
        head = item[0] if isinstance(item[0], bytes) else b""
        uid = _UID.search(head)
        if uid is None:
            continue
        size = _SIZE.search(head)
        date = _INTERNALDATE.search(head)
        yield Fetched(
            uid=int(uid.group(1)),
            raw=item[1],
            internaldate=_internaldate(date.group(1).decode()) if date else None,
            size=int(size.group(1)) if size else len(item[1]),
            partial=partial,
        )


def _internaldate(value: str) -> datetime | None:
    try:
        return datetime.strptime(value.strip(), "%d-%b-%Y %H:%M:%S %z").astimezone(UTC)
    except ValueError:
        return None


def references_of(header_block: bytes) -> tuple[list[str], str | None]:
    """(References, or else In-Reply-To) and Subject from a header block fetched by find_message_id."""
    msg = message_from_bytes(header_block, policy=policy.default)
    refs = message_ids(header(msg, "References")) or message_ids(header(msg, "In-Reply-To"))
    return refs, header(msg, "Subject")
