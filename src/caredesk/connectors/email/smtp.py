"""Submitting one message over SMTP (stdlib smtplib), every failure a classified ConnectorError.

4xx answers, dropped connections and timeouts may be retried; 5xx answers are permanent and keep the
server's words (an agent reads them on the failed reply); a refused login is permanent and never shows
the password.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.message import EmailMessage

from caredesk.connectors.email.compose import WIRE, WIRE_UTF8
from caredesk.connectors.email.settings import EmailSettings
from caredesk.domain.errors import ConnectorError

NAME = "SMTP server"


@dataclass(frozen=True, slots=True)
class Accepted:
    code: int
    reply: str  # the server's answer to the end of DATA ("2.0.0 Ok: queued as 4Xyz")


def _scrub(text: str, settings: EmailSettings) -> str:
    for secret in settings.secrets():
        text = text.replace(secret, "***")
    return " ".join(text.split())[:300]


def _reply_text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def code_failure(code: int, reply: str, what: str) -> ConnectorError:
    """A numbered SMTP refusal: 4xx temporary (retry), 5xx permanent (the server's text kept)."""
    lowered = reply.lower()
    if 400 <= code < 500:
        if code == 421 or "rate" in lowered or "too many" in lowered:
            return ConnectorError(
                f"{NAME} rate limit or overload, will retry ({code} {reply})", retryable=True
            )
        return ConnectorError(f"{NAME} deferred {what}, will retry ({code} {reply})", retryable=True)
    if code >= 500:
        return ConnectorError(f"{NAME} refused {what}: {code} {reply}", retryable=False)
    return ConnectorError(f"{NAME} gave an unexpected answer to {what}: {code} {reply}", retryable=True)


def smtp_failure(exc: BaseException, settings: EmailSettings, stage: str) -> ConnectorError:
    if isinstance(exc, ConnectorError):
        return exc
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        said = _scrub(_reply_text(exc.smtp_error), settings)
        if 400 <= exc.smtp_code < 500:
            return ConnectorError(
                f"{NAME} login deferred, will retry ({exc.smtp_code} {said})", retryable=True
            )
        return ConnectorError(
            f"{NAME} refused the login of {settings.smtp_login[0]}: check the username and password "
            f"(an app password where the provider asks for one) ({exc.smtp_code} {said})",
            retryable=False,
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return ConnectorError(f"{NAME} {where} does not support {stage}: {exc}", retryable=False)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(exc.recipients.values()), (550, b"recipient refused"))
        return code_failure(code, _scrub(_reply_text(reply), settings), "the recipient")
    if isinstance(exc, smtplib.SMTPResponseException):
        what = {"mail": "the sender", "data": "the message", "connect": "the connection"}.get(stage, stage)
        return code_failure(exc.smtp_code, _scrub(_reply_text(exc.smtp_error), settings), what)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return ConnectorError(f"{NAME} {where} closed the connection during {stage}", retryable=True)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return ConnectorError(
            f"the TLS certificate of {where} could not be verified: {exc.verify_message}", retryable=False
        )
    if isinstance(exc, ssl.SSLError) and not isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return ConnectorError(
            f"TLS with {where} failed ({exc.reason}): check smtp_ssl, smtp_starttls and smtp_port",
            retryable=False,
        )
    if isinstance(exc, TimeoutError | socket.timeout):
        extra = " (the message may have been accepted; a retry can send it twice)" if stage == "data" else ""
        return ConnectorError(
            f"{NAME} {where} timed out after {settings.timeout:g} s during {stage}{extra}", retryable=True
        )
    if isinstance(exc, ConnectionRefusedError):
        return ConnectorError(f"{NAME} {where} refused the connection", retryable=True)
    if isinstance(exc, socket.gaierror):
        return ConnectorError(f"cannot resolve the SMTP host {settings.smtp_host!r}", retryable=True)
    if isinstance(exc, OSError | smtplib.SMTPException):
        return ConnectorError(f"{NAME} {where} failed during {stage}: {type(exc).__name__}", retryable=True)
    return ConnectorError(f"{NAME} failed during {stage}: {type(exc).__name__}", retryable=True)


class _Stage:
    def __init__(self) -> None:
        self.name = "connect"


def _open(settings: EmailSettings, stage: _Stage) -> smtplib.SMTP:
    s = settings
    context = ssl.create_default_context()
    local = s.domain.encode("idna").decode() if not s.domain.isascii() else s.domain
    if s.smtp_ssl:
        conn: smtplib.SMTP = smtplib.SMTP_SSL(
            s.smtp_host, s.smtp_port, local_hostname=local, timeout=s.timeout, context=context
        )
    else:
        conn = smtplib.SMTP(s.smtp_host, s.smtp_port, local_hostname=local, timeout=s.timeout)
    try:
        stage.name = "EHLO"
        conn.ehlo()
        if s.smtp_starttls:
            stage.name = "STARTTLS"
            if not conn.has_extn("starttls"):
                raise ConnectorError(
                    f"{NAME} {s.smtp_host}:{s.smtp_port} does not offer STARTTLS, and smtp_starttls is on: "
                    "refusing to send the password in clear",
                    retryable=False,
                )
            conn.starttls(context=context)
            conn.ehlo()
        user, password = s.smtp_login
        if user and password:
            stage.name = "login"
            if not conn.has_extn("auth"):
                raise ConnectorError(
                    f"{NAME} {s.smtp_host}:{s.smtp_port} offers no login (AUTH) here"
                    + ("" if s.smtp_starttls or s.smtp_ssl else "; it may need smtp_starttls or smtp_ssl"),
                    retryable=False,
                )
            conn.login(user, password)
    except BaseException:
        conn.close()
        raise
    return conn


def check(settings: EmailSettings) -> None:
    """Connect, EHLO, STARTTLS if configured, log in: what verify() needs."""
    stage = _Stage()
    try:
        conn = _open(settings, stage)
        with conn:
            stage.name = "NOOP"
            code, reply = conn.noop()
            if code >= 400:
                raise smtplib.SMTPResponseException(code, reply)
    except (smtplib.SMTPException, OSError) as exc:
        raise smtp_failure(exc, settings, stage.name) from None


def submit(settings: EmailSettings, message: EmailMessage, *, sender: str, recipient: str) -> Accepted:
    """MAIL FROM / RCPT TO / DATA for one recipient. Returns the server's acceptance."""
    stage = _Stage()
    international = not (sender.isascii() and recipient.isascii())
    try:
        conn = _open(settings, stage)
        with conn:
            options: list[str] = []
            if international:
                if not conn.has_extn("smtputf8"):
                    raise ConnectorError(
                        f"{NAME} cannot take internationalised addresses (no SMTPUTF8): {recipient}",
                        retryable=False,
                    )
                options = ["SMTPUTF8"]
            data = message.as_bytes(policy=WIRE_UTF8 if international else WIRE)
            if conn.does_esmtp and conn.has_extn("size"):
                options.append(f"SIZE={len(data)}")
            stage.name = "mail"
            code, reply = conn.mail(sender, options)
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, reply, sender)
            stage.name = "rcpt"
            code, reply = conn.rcpt(recipient)
            if code not in (250, 251):
                raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
            stage.name = "data"
            code, reply = conn.data(data)
            if code != 250:
                raise smtplib.SMTPDataError(code, reply)
            accepted = Accepted(code=code, reply=_reply_text(reply))
            stage.name = "QUIT"
        return accepted
    except (smtplib.SMTPException, OSError) as exc:
        if stage.name == "QUIT":  # the message is accepted; a failed goodbye changes nothing
            return accepted
        raise smtp_failure(exc, settings, stage.name) from None
