"""An email channel's settings, read and checked once from the channel's config and credentials."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from email.headerregistry import Address
from typing import Any

from caredesk.connectors.base import ChannelContext
from caredesk.domain.errors import NotConfigured

CONFIG_FIELDS = (
    "imap_host",
    "imap_port",
    "imap_ssl",
    "smtp_host",
    "smtp_port",
    "smtp_starttls",
    "smtp_ssl",
    "address",
    "mailbox",
    "display_name",
    "sent_mailbox",
    "timeout",
    "batch_size",
    "accept_list_mail",
)
CREDENTIAL_FIELDS = ("username", "password", "smtp_username", "smtp_password")

DEFAULT_TIMEOUT = 30.0
DEFAULT_BATCH = 50
MAX_BATCH = 500


@dataclass(frozen=True, slots=True)
class EmailSettings:
    imap_host: str
    imap_port: int
    imap_ssl: bool
    smtp_host: str
    smtp_port: int
    smtp_starttls: bool
    smtp_ssl: bool
    address: str  # the brand's support address, lowercased
    mailbox: str
    display_name: str | None
    # None: find the mailbox flagged \Sent (or named Sent); "": keep no copy.
    sent_mailbox: str | None
    timeout: float
    batch_size: int
    accept_list_mail: bool
    username: str
    password: str
    smtp_username: str | None
    smtp_password: str | None

    @property
    def domain(self) -> str:
        return self.address.rsplit("@", 1)[-1]

    def secrets(self) -> tuple[str, ...]:
        """Every secret, so error texts can be scrubbed of them whatever a server echoes back."""
        return tuple(s for s in (self.password, self.smtp_password) if s)

    @classmethod
    def of(cls, channel: ChannelContext) -> EmailSettings:
        config, creds = channel.config, channel.credentials
        address = _text(config, "address") or (channel.own_account_id or "")
        address = address.strip().lower()
        if not address:
            raise NotConfigured("this email channel has no support address (config 'address')")
        try:
            Address(addr_spec=address)
        except (ValueError, IndexError) as exc:
            raise NotConfigured(f"the channel's address {address!r} is not an email address: {exc}") from None
        username = _text(creds, "username")
        password = _text(creds, "password")
        if not username or not password:
            raise NotConfigured("this email channel has no IMAP username and password (credentials)")
        imap_ssl = _flag(config, "imap_ssl", default=True)
        smtp_ssl = _flag(config, "smtp_ssl", default=False)
        smtp_starttls = _flag(config, "smtp_starttls", default=not smtp_ssl)
        imap_host = _text(config, "imap_host")
        smtp_host = _text(config, "smtp_host")
        if not imap_host or not smtp_host:
            raise NotConfigured("this email channel needs both 'imap_host' and 'smtp_host'")
        sent = config.get("sent_mailbox")
        return cls(
            imap_host=imap_host,
            imap_port=_int(config, "imap_port", 993 if imap_ssl else 143),
            imap_ssl=imap_ssl,
            smtp_host=smtp_host,
            smtp_port=_int(config, "smtp_port", 465 if smtp_ssl else 587),
            smtp_starttls=smtp_starttls and not smtp_ssl,
            smtp_ssl=smtp_ssl,
            address=address,
            mailbox=_text(config, "mailbox") or "INBOX",
            display_name=_text(config, "display_name"),
            sent_mailbox=None if sent is None else str(sent).strip(),
            timeout=_float(config, "timeout", DEFAULT_TIMEOUT),
            batch_size=max(1, min(MAX_BATCH, _int(config, "batch_size", DEFAULT_BATCH))),
            accept_list_mail=_flag(config, "accept_list_mail", default=False),
            username=username,
            password=password,
            smtp_username=_text(creds, "smtp_username"),
            smtp_password=_text(creds, "smtp_password"),
        )

    @property
    def smtp_login(self) -> tuple[str, str]:
        return (self.smtp_username or self.username, self.smtp_password or self.password)


def _text(source: Mapping[str, Any], key: str) -> str | None:
    value = source.get(key)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _flag(source: Mapping[str, Any], key: str, *, default: bool) -> bool:
    value = source.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise NotConfigured(f"email setting {key!r} must be true or false, not {value!r}")


def _int(source: Mapping[str, Any], key: str, default: int) -> int:
    value = source.get(key)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise NotConfigured(f"email setting {key!r} must be a whole number, not {value!r}") from None
    if number <= 0:
        raise NotConfigured(f"email setting {key!r} must be positive")
    return number


def _float(source: Mapping[str, Any], key: str, default: float) -> float:
    value = source.get(key)
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise NotConfigured(f"email setting {key!r} must be a number of seconds, not {value!r}") from None
    if not 0 < number <= 600:
        raise NotConfigured(f"email setting {key!r} must be between 0 and 600 seconds")
    return number
