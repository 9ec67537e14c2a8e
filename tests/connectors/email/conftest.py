"""A real dovecot + SMTP server for the email tests, started once per session; each test gets its own brand
mailbox (a fresh address), so tests never see each other's mail."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from caredesk.connectors.base import ChannelContext
from caredesk.connectors.email.connector import EmailConnector
from caredesk.domain.clock import SystemClock
from caredesk.fakes.mailserver import MailServer, dovecot_binary


@pytest.fixture(scope="session")
def mail_server() -> Iterator[MailServer]:
    if dovecot_binary() is None:
        message = "dovecot is not installed: run scripts/install-system-deps"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    if os.geteuid() != 0:
        pytest.skip("the dovecot test server runs as root (as on CI)")
    server = MailServer(hang_seconds=3.0).start()
    yield server
    server.stop()


@dataclass
class Brand:
    """One support address on the mail server, and how a channel points at it."""

    server: MailServer
    address: str
    password: str
    overrides: dict[str, Any] = field(default_factory=dict)

    def config(self, **overrides: Any) -> dict[str, Any]:
        config: dict[str, Any] = {
            "imap_host": "127.0.0.1",
            "imap_port": self.server.imap_port,
            "imap_ssl": False,
            "smtp_host": "127.0.0.1",
            "smtp_port": self.server.smtp_port,
            "smtp_starttls": False,
            "address": self.address,
            "display_name": "Brand Support",
            "timeout": 2.0,
        }
        config.update(self.overrides)
        config.update(overrides)
        return config

    def credentials(self, **overrides: Any) -> dict[str, Any]:
        return {"username": self.address, "password": self.password, **overrides}

    def connector(self, credentials: dict[str, Any] | None = None, **config: Any) -> EmailConnector:
        channel = ChannelContext(
            id=1,
            own_account_id=self.address,
            config=self.config(**config),
            credentials=credentials if credentials is not None else self.credentials(),
        )
        return EmailConnector(channel, http=httpx.Client(), clock=SystemClock())

    def customer(self, name: str) -> str:
        """A customer address unique to this test."""
        return f"{name}-{self.address.split('@')[0].removeprefix('support-')}@customer.example"


def new_brand(server: MailServer) -> Brand:
    address = f"support-{uuid.uuid4().hex[:10]}@brand.example"
    password = server.add_user(address)
    server.create_mailbox(address, "Sent")
    return Brand(server=server, address=address, password=password)


@pytest.fixture
def brand(mail_server: MailServer) -> Iterator[Brand]:
    yield new_brand(mail_server)
    mail_server.clear_failures()
