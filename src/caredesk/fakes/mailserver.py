"""Real mail servers on 127.0.0.1 for the tests and the demo: dovecot (IMAP) and an aiosmtpd SMTP server.

Nothing here imitates a protocol. `MailServer` writes a self-contained dovecot configuration into a fresh
temporary directory, starts `dovecot -c <file>` (the Debian package `dovecot-imapd`; scripts/
install-system-deps installs it) and stops it through its master.pid. Beside it runs an SMTP server
(`aiosmtpd`) that requires a login and DELIVERS every accepted message into each recipient's dovecot
mailbox with IMAP APPEND, so a reply sent by caredesk can be read back, and a "customer" can write mail
that arrives in the brand's INBOX.

Failures are real too, for the tests of retries and back-off:
- IMAP clients connect through `FaultyPort`, a TCP relay in front of dovecot that can close the next
  connection at once (a crashed server) or accept it and say nothing (past the client's timeout).
- `hold_connections(user)` opens dovecot's per-user limit of sessions, so the next login gets dovecot's own
  `NO [LIMIT] Maximum number of connections from user+IP exceeded`.
- `fail_next_smtp(...)` makes the next SMTP transactions answer 421 (rate limit), 451 (local error), any
  given reply, or hang past the client's timeout, delivering nothing.

Dovecot needs root here (its mail processes run as uid 65534, `first_valid_uid = 1`), as on CI.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import imaplib
import logging
import os
import re
import secrets
import selectors
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

# The template of ../shared/reference/dovecot-test.conf (Debian 12, dovecot 2.3), with a free port in
# place of 10143. Changes, each for the tests: one passwd-file per user (dovecot re-reads a changed file at
# most once a second, so users added while it runs would fail to log in for up to a second); no delay
# after a failed login; the per-user session limit stated (hold_connections() relies on it); no fsync.
# dovecot still delays logins from an address that failed one recently (its per-IP "auth penalty", a few
# seconds): tests of wrong passwords connect through a FaultyPort with another source address.
DOVECOT_CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = @BASE@/run
state_dir = @BASE@/state
log_path = @BASE@/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
first_valid_uid = 1
mail_fsync = never
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u @BASE@/users/%Lu
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=@BASE@/mail/%u
}
mail_location = maildir:~/Maildir
protocol imap {
  mail_max_userip_connections = @MAX_CONNECTIONS@
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = @PORT@
  }
  inet_listener imaps {
    port = 0
  }
}
"""


class _QuietLoginData(logging.Filter):
    """aiosmtpd 1.4 itself sets its deprecated Session.login_data after every AUTH, and logs a warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "login_data is deprecated" not in record.getMessage()


logging.getLogger("mail.log").addFilter(_QuietLoginData())

MAX_CONNECTIONS = 10  # dovecot's default for mail_max_userip_connections
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def dovecot_binary() -> str | None:
    return shutil.which("dovecot") or next(
        (p for p in ("/usr/sbin/dovecot", "/usr/bin/dovecot") if os.path.exists(p)), None
    )


def _wait_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on {HOST}:{port} after {timeout} s") from None
            time.sleep(0.02)


def quote_mailbox(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --------------------------------------------------------------------------------------------------------
# A TCP relay that can spoil connections


Failure = str | Callable[[], AbstractContextManager[object]]


class FaultyPort:
    """Relays 127.0.0.1:<port> to a real server; `fail_next(...)` decides the next connections, one each,
    in order: "close" (closed at once, as by a crashed server), "hang" (accepted, then silence past the
    client's timeout), "pass" (relayed normally), or a callable giving a context manager that is held
    while that one connection is relayed (to set up a real server-side condition just for it)."""

    def __init__(self, target_port: int, *, hang_seconds: float = 3.0, source: str | None = None) -> None:
        self.target_port = target_port
        self.source = source  # the relay's address towards the server (e.g. another 127.x address)
        self.hang_seconds = hang_seconds
        self._failures: deque[Failure] = deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((HOST, 0))
        self._listener.listen(64)
        self._listener.settimeout(0.2)
        self._open: set[socket.socket] = set()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True, name="faulty-port")
        self.connections = 0  # accepted so far (tests check a client did connect)

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def start(self) -> FaultyPort:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()
        with self._lock:
            for s in list(self._open):
                with contextlib.suppress(OSError):
                    s.close()
            self._open.clear()

    def fail_next(self, *modes: Failure) -> None:
        for mode in modes:
            if isinstance(mode, str) and mode not in ("close", "hang", "pass"):
                raise ValueError(f"unknown failure {mode!r}: use 'close', 'hang' or 'pass'")
        with self._lock:
            self._failures.extend(modes)

    def clear(self) -> None:
        with self._lock:
            self._failures.clear()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                mode = self._failures.popleft() if self._failures else None
                self.connections += 1
                self._open.add(client)
            threading.Thread(target=self._serve, args=(client, mode), daemon=True).start()

    def _serve(self, client: socket.socket, mode: Failure | None) -> None:
        upstream: socket.socket | None = None
        try:
            if mode == "close":
                return
            if mode == "hang":
                self._stop.wait(self.hang_seconds)
                return
            with mode() if callable(mode) else contextlib.nullcontext():
                source = (self.source, 0) if self.source else None
                upstream = socket.create_connection(
                    (HOST, self.target_port), timeout=5, source_address=source
                )
                with self._lock:
                    self._open.add(upstream)
                self._pump(client, upstream)
        except OSError:
            return
        finally:
            for s in (client, upstream):
                if s is not None:
                    with contextlib.suppress(OSError):
                        s.close()
                    with self._lock:
                        self._open.discard(s)

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peer = {a: b, b: a}
        with selectors.DefaultSelector() as sel:
            sel.register(a, selectors.EVENT_READ)
            sel.register(b, selectors.EVENT_READ)
            while not self._stop.is_set():
                for key, _ in sel.select(timeout=0.2):
                    src: socket.socket = key.fileobj  # type: ignore[assignment]
                    data = src.recv(65536)
                    if not data:
                        return
                    peer[src].sendall(data)


# --------------------------------------------------------------------------------------------------------
# The SMTP side


@dataclass
class Delivered:
    """One SMTP transaction the server accepted, as it crossed the wire."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes  # the DATA as received (before the delivery headers)
    authenticated_as: str | None
    queue_id: str
    at: datetime

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


SMTP_FAILURES = {
    "429": "421 4.7.0 Too many messages: rate limit exceeded, try again later",
    "500": "451 4.3.0 Requested action aborted: local error in processing",
}


class _Handler:
    def __init__(self, server: MailServer) -> None:
        self.server = server

    def authenticate(
        self, smtp: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace")
        ok = self.server.check_password(login, auth_data.password.decode("utf-8", "replace"))
        return AuthResult(success=ok, handled=False, auth_data=login if ok else None)

    async def handle_MAIL(
        self, smtp: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        if self.server.require_auth and not session.authenticated:
            return "530 5.7.0 Authentication required"
        failure = self.server.take_smtp_failure()
        if failure == "timeout":
            await asyncio.sleep(self.server.hang_seconds)  # the client gave up long ago; record nothing
            return "451 4.4.2 Timeout while processing"
        if failure is not None:
            return SMTP_FAILURES.get(failure, failure)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, smtp: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if not self.server.has_user(address):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown in local recipient table"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp: Any, session: Any, envelope: Any) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
        queue_id = secrets.token_hex(5).upper()
        item = Delivered(
            mail_from=str(envelope.mail_from),
            rcpt_tos=list(envelope.rcpt_tos),
            content=content,
            authenticated_as=session.auth_data if isinstance(session.auth_data, str) else None,
            queue_id=queue_id,
            at=datetime.now(UTC),
        )
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, self.server.deliver, item)
        except Exception as exc:  # the client is told; the test sees it in the log
            return f"451 4.3.0 Delivery failed: {type(exc).__name__}"
        return f"250 2.0.0 Ok: queued as {queue_id}"


# --------------------------------------------------------------------------------------------------------
# The servers together


class MailServer:
    """dovecot + SMTP on 127.0.0.1. Users are addresses ("jane@customer.example"); each gets a mailbox."""

    def __init__(self, *, hang_seconds: float = 3.0, require_auth: bool = True) -> None:
        self.hang_seconds = hang_seconds
        self.require_auth = require_auth
        self.base: Path | None = None
        self.dovecot_port = 0
        self.smtp_port = 0
        self.proxy: FaultyPort | None = None
        self.delivered: list[Delivered] = []
        self._users: dict[str, str] = {}
        self._lock = threading.Lock()
        self._smtp_failures: deque[str] = deque()
        self._held: list[imaplib.IMAP4] = []
        self._controller: Controller | None = None
        self._master_pid: int | None = None

    # -- life cycle --------------------------------------------------------------------------------------

    @property
    def imap_port(self) -> int:
        """Where IMAP clients connect: the relay in front of dovecot."""
        assert self.proxy is not None, "start() the server first"
        return self.proxy.port

    def start(self, timeout: float = 10.0) -> MailServer:
        binary = dovecot_binary()
        if binary is None:
            raise RuntimeError("dovecot is not installed: run scripts/install-system-deps")
        if os.geteuid() != 0:
            raise RuntimeError("the dovecot test server runs as root (its mail processes use uid 65534)")
        # Not under pytest's tmp_path: its parents are 0700 and the mail processes (uid 65534) must pass.
        self.base = Path(tempfile.mkdtemp(prefix="caredesk-mail-"))
        self.base.chmod(0o755)
        (self.base / "mail").mkdir(mode=0o777)
        (self.base / "mail").chmod(0o777)
        self._write_users()
        self.dovecot_port = free_port()
        conf = (
            DOVECOT_CONF.replace("@BASE@", str(self.base))
            .replace("@PORT@", str(self.dovecot_port))
            .replace("@MAX_CONNECTIONS@", str(MAX_CONNECTIONS))
        )
        conf_path = self.base / "dovecot.conf"
        conf_path.write_text(conf)
        # dovecot forks into the background; its children inherit stdout/stderr, so those go to a file.
        with (self.base / "startup.log").open("wb") as out:
            subprocess.run(  # noqa: S603  (our own binary and config)
                [binary, "-c", str(conf_path)], check=True, stdout=out, stderr=out, timeout=timeout
            )
        pid_file = self.base / "run" / "master.pid"
        deadline = time.monotonic() + timeout
        while not pid_file.exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"dovecot did not start; see {self.base / 'dovecot.log'}")
            time.sleep(0.02)
        self._master_pid = int(pid_file.read_text().split()[0])
        atexit.register(self.stop)
        _wait_port(self.dovecot_port, timeout)
        self.proxy = FaultyPort(self.dovecot_port, hang_seconds=self.hang_seconds).start()
        self.smtp_port = free_port()
        handler = _Handler(self)
        self._controller = Controller(
            handler,
            hostname=HOST,
            port=self.smtp_port,
            server_hostname="mail.test",
            authenticator=handler.authenticate,
            auth_require_tls=False,
            ready_timeout=timeout,
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        self.release_connections()
        if self._controller is not None:
            with contextlib.suppress(Exception):
                self._controller.stop()
            self._controller = None
        if self.proxy is not None:
            self.proxy.stop()
            self.proxy = None
        pid, self._master_pid = self._master_pid, None
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.02)
        if self.base is not None:
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None
        atexit.unregister(self.stop)

    def __enter__(self) -> MailServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- users -------------------------------------------------------------------------------------------

    def add_user(self, address: str, password: str | None = None) -> str:
        """Create a mailbox (idempotent); returns its password."""
        key = address.strip().lower()
        with self._lock:
            if key in self._users and password is None:
                return self._users[key]
            self._users[key] = password or secrets.token_urlsafe(12)
            if self.base is not None:
                self._write_users()
            return self._users[key]

    def has_user(self, address: str) -> bool:
        with self._lock:
            return address.strip().lower() in self._users

    def password(self, address: str) -> str:
        with self._lock:
            return self._users[address.strip().lower()]

    def check_password(self, login: str, password: str) -> bool:
        with self._lock:
            known = self._users.get(login.strip().lower())
        return known is not None and secrets.compare_digest(known, password)

    def _write_users(self) -> None:
        assert self.base is not None
        folder = self.base / "users"
        folder.mkdir(mode=0o755, exist_ok=True)
        for user, pw in self._users.items():
            path = folder / user
            line = f"{user}:{{PLAIN}}{pw}\n"
            if not path.exists() or path.read_text() != line:
                tmp = folder / f".{user}.tmp"
                tmp.write_text(line)
                tmp.chmod(0o644)
                tmp.replace(path)

    # -- IMAP as a user ----------------------------------------------------------------------------------

    def imap(self, user: str) -> imaplib.IMAP4:
        """A logged-in session straight to dovecot (not through the relay). Log out when done."""
        conn = imaplib.IMAP4(HOST, self.dovecot_port, timeout=10)
        conn.login(user.strip().lower(), self.password(user))
        return conn

    def append(
        self,
        user: str,
        raw: bytes,
        *,
        mailbox: str = "INBOX",
        flags: str = "",
        when: datetime | None = None,
    ) -> int:
        """Put a message in a mailbox as its owner would (APPEND); returns its UID."""
        conn = self.imap(user)
        try:
            stamp = imaplib.Time2Internaldate((when or datetime.now(UTC)).timestamp())
            typ, data = conn.append(quote_mailbox(mailbox), f"({flags})" if flags else None, stamp, raw)
            if typ != "OK":
                raise RuntimeError(f"APPEND to {mailbox} failed: {data!r}")
            found = re.search(rb"APPENDUID \d+ (\d+)", data[0] or b"")
            return int(found.group(1)) if found else 0
        finally:
            conn.logout()

    def create_mailbox(self, user: str, mailbox: str) -> None:
        conn = self.imap(user)
        try:
            conn.create(quote_mailbox(mailbox))
        finally:
            conn.logout()

    def mailboxes(self, user: str) -> list[str]:
        conn = self.imap(user)
        try:
            _, data = conn.list()
        finally:
            conn.logout()
        names = []
        for line in data:
            if isinstance(line, bytes):
                found = re.search(rb'\) "[^"]*" "?(.*?)"?$', line)
                if found:
                    names.append(found.group(1).decode())
        return names

    def fetch_raw(self, user: str, mailbox: str = "INBOX") -> list[tuple[int, bytes]]:
        """(UID, message) of every message in a mailbox, oldest first."""
        conn = self.imap(user)
        try:
            typ, _ = conn.select(quote_mailbox(mailbox), readonly=True)
            if typ != "OK":
                return []
            _, data = conn.uid("FETCH", "1:*", "(UID BODY.PEEK[])")
        finally:
            conn.logout()
        out = []
        for part in data:
            if isinstance(part, tuple):
                found = re.search(rb"UID (\d+)", part[0])
                out.append((int(found.group(1)) if found else 0, part[1]))
        return sorted(out)

    def messages(self, user: str, mailbox: str = "INBOX") -> list[EmailMessage]:
        """The mailbox's messages, parsed, oldest first (a mailbox listing)."""
        out = []
        for _, raw in self.fetch_raw(user, mailbox):
            parsed = message_from_bytes(raw, policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            out.append(parsed)
        return out

    def uidvalidity(self, user: str, mailbox: str = "INBOX") -> int:
        conn = self.imap(user)
        try:
            _, data = conn.status(quote_mailbox(mailbox), "(UIDVALIDITY)")
        finally:
            conn.logout()
        found = re.search(rb"UIDVALIDITY (\d+)", data[0] or b"")
        assert found is not None
        return int(found.group(1))

    def expunge(self, user: str, uids: Iterable[int], mailbox: str = "INBOX") -> None:
        wanted = ",".join(str(u) for u in uids)
        if not wanted:
            return
        conn = self.imap(user)
        try:
            conn.select(quote_mailbox(mailbox))
            conn.uid("STORE", wanted, "+FLAGS.SILENT", r"(\Deleted)")
            conn.expunge()
        finally:
            conn.logout()

    def recreate_mailbox(self, user: str, mailbox: str = "INBOX", keep: Iterable[bytes] = ()) -> int:
        """Throw the mailbox away and make it again holding `keep` (as after a server migration or a
        restore): the server gives it a new UIDVALIDITY and numbers UIDs from 1. Returns the new
        UIDVALIDITY. No session of this user may be open (dovecot holds the index in memory)."""
        if mailbox.upper() == "INBOX":
            everything = [uid for uid, _ in self.fetch_raw(user, mailbox)]
            self.expunge(user, everything, mailbox)
            # INBOX cannot be deleted over IMAP: remove its UID list and indexes, as a restore would.
            assert self.base is not None
            root = self.base / "mail" / user.strip().lower() / "Maildir"
            for path in root.iterdir():
                if path.name == "dovecot-uidlist" or path.name.startswith("dovecot.index"):
                    path.unlink()
        else:
            conn = self.imap(user)
            try:
                conn.delete(quote_mailbox(mailbox))
                conn.create(quote_mailbox(mailbox))
            finally:
                conn.logout()
        for raw in keep:
            self.append(user, raw, mailbox=mailbox)
        return self.uidvalidity(user, mailbox)

    # -- failures ----------------------------------------------------------------------------------------

    def fail_next_imap(self, *modes: str) -> None:
        """The next IMAP connections through the relay: "close" (at once), "hang" (say nothing), "pass"
        (work normally) or "limit:<user>" (dovecot itself refuses that user's login: too many connections)."""
        assert self.proxy is not None
        for mode in modes:
            if mode.startswith("limit:"):
                user = mode.split(":", 1)[1]
                self.proxy.fail_next(functools.partial(self._limit, user))
            else:
                self.proxy.fail_next(mode)

    @contextlib.contextmanager
    def _limit(self, user: str) -> Iterator[None]:
        self.hold_connections(user)
        try:
            yield
        finally:
            self.release_connections()

    def clear_failures(self) -> None:
        """Forget failures not yet used, and give back held connections (between tests)."""
        if self.proxy is not None:
            self.proxy.clear()
        with self._lock:
            self._smtp_failures.clear()
        self.release_connections()

    def hold_connections(self, user: str) -> None:
        """Open dovecot's per-user session limit for `user`: its next logins are refused with
        `NO [LIMIT]`, until release_connections()."""
        with self._lock:
            held = len(self._held)
        for _ in range(MAX_CONNECTIONS - held):
            conn = self.imap(user)
            with self._lock:
                self._held.append(conn)

    def release_connections(self) -> None:
        with self._lock:
            held, self._held = self._held, []
        for conn in held:
            with contextlib.suppress(Exception):
                conn.logout()

    def fail_next_smtp(self, *failures: str) -> None:
        """The next SMTP transactions, at MAIL FROM: "429" (421 rate limit), "500" (451 local error),
        "timeout" (hang past the client's timeout) or a whole reply such as "554 5.7.1 Spam"."""
        with self._lock:
            self._smtp_failures.extend(failures)

    def take_smtp_failure(self) -> str | None:
        with self._lock:
            return self._smtp_failures.popleft() if self._smtp_failures else None

    # -- SMTP --------------------------------------------------------------------------------------------

    def deliver(self, item: Delivered) -> None:
        """Final delivery of an accepted message: into each recipient's INBOX, with the headers a local
        delivery agent adds."""
        for rcpt in item.rcpt_tos:
            trace = (
                f"Return-Path: <{item.mail_from}>\r\n"
                f"Delivered-To: {rcpt}\r\n"
                f"Received: from client (localhost [127.0.0.1]) by mail.test (aiosmtpd) with ESMTP id "
                f"{item.queue_id} for <{rcpt}>; {format_datetime(item.at)}\r\n"
            ).encode()
            self.append(rcpt, trace + item.content, when=item.at)
        with self._lock:
            self.delivered.append(item)

    def submit(self, raw: bytes, *, mail_from: str, to: Iterable[str], login: str | None = None) -> None:
        """Hand a message to the SMTP server as a mail client would (logged in as `login`)."""
        user = login or mail_from
        with smtplib.SMTP(HOST, self.smtp_port, local_hostname="client.test", timeout=10) as smtp:
            if self.require_auth:
                smtp.login(user, self.password(user))
            smtp.sendmail(mail_from, list(to), raw)

    def send_as_customer(
        self,
        sender: str,
        to: str,
        subject: str,
        text: str,
        *,
        name: str | None = None,
        in_reply_to: str | None = None,
        references: Iterable[str] = (),
        headers: dict[str, str] | None = None,
        html: str | None = None,
        message_id: str | None = None,
    ) -> str:
        """A customer writes (through the real SMTP server); returns the Message-ID without brackets."""
        self.add_user(sender)
        msg = EmailMessage()
        msg["From"] = f"{name} <{sender}>" if name else sender
        msg["To"] = to
        msg["Subject"] = subject
        msg["Date"] = format_datetime(datetime.now(UTC))
        mid = message_id or make_msgid(domain=sender.rsplit("@", 1)[-1])
        msg["Message-ID"] = mid if mid.startswith("<") else f"<{mid}>"
        if in_reply_to:
            msg["In-Reply-To"] = f"<{in_reply_to.strip('<>')}>"
        refs = [r.strip("<>") for r in references]
        if refs:
            msg["References"] = " ".join(f"<{r}>" for r in refs)
        for key, value in (headers or {}).items():
            msg[key] = value
        if html is not None and not text:
            msg.set_content(html, subtype="html")
        else:
            msg.set_content(text)
            if html is not None:
                msg.add_alternative(html, subtype="html")
        self.submit(msg.as_bytes(policy=policy.SMTP), mail_from=sender, to=[to])
        return str(msg["Message-ID"]).strip().strip("<>")

    def sent_by(self, address: str) -> list[Delivered]:
        """What `address` sent through the SMTP server, oldest first."""
        with self._lock:
            return [d for d in self.delivered if d.mail_from.lower() == address.lower()]
