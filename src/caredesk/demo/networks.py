"""The demo's live networks: local fakes of X and Mastodon, and a real mail server (dovecot + SMTP), with one
channel each in the demo workspace. caredesk reaches them through its real connectors (polling, sending),
so a newcomer sees customer posts arrive and replies land on the "network".

The fakes keep their state in memory: each start of the demo is a fresh network, so the channels are
pointed at it again (addresses, tokens, cursors) and a few customers write to the brand.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from caredesk.actions import admin, webhooks
from caredesk.actions.base import Actor
from caredesk.demo import content
from caredesk.fakes.hook_receiver import FakeHookReceiver
from caredesk.fakes.mailserver import MailServer, dovecot_binary
from caredesk.fakes.mastodon import FakeMastodon
from caredesk.fakes.webhook_network import ServerThread
from caredesk.fakes.x import FakeX
from caredesk.runtime import Runtime
from caredesk.storage import models as m

log = logging.getLogger(__name__)

X_CHANNEL = "X @nordlys_care"
MASTODON_CHANNEL = "Mastodon @nordlys"
EMAIL_CHANNEL = "Email support@nordlys.example"
TICKETS_WEBHOOK = "Ticket system"
BRAND_ADDRESS = "support@nordlys.example"
MAIL_PASSWORD = "caredesk-demo-mail"  # noqa: S105  (a local demo mailbox)


@dataclass
class DemoNetworks:
    x_port: int
    mastodon_port: int
    tickets_port: int
    x: FakeX = field(init=False)
    mastodon: FakeMastodon = field(init=False)
    tickets: FakeHookReceiver = field(init=False)  # a ticket system behind the ticketing webhook
    mail: MailServer | None = field(init=False, default=None)
    servers: list[ServerThread] = field(init=False, default_factory=list)
    pages: dict[str, str] = field(init=False, default_factory=dict)

    def start(self) -> DemoNetworks:
        self.x = FakeX(brand_username="nordlys_care", brand_id="1600000000000000001")
        self.mastodon = FakeMastodon(host="mastodon.example")
        self.tickets = FakeHookReceiver(secret=secrets.token_urlsafe(32))
        for app, port, name in (
            (self.x.app, self.x_port, "x"),
            (self.mastodon.app, self.mastodon_port, "mastodon"),
            (self.tickets.app, self.tickets_port, "tickets"),
        ):
            server = ServerThread(app, port=port).start()
            self.servers.append(server)
            self.pages[name] = server.url
        if dovecot_binary() is not None:
            try:
                self.mail = MailServer().start()
                self.mail.add_user(BRAND_ADDRESS, MAIL_PASSWORD)
            except (OSError, RuntimeError) as exc:  # e.g. not root: the demo goes on without email
                log.warning("the demo mail server did not start: %s", exc)
                self.mail = None
        return self

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        if self.mail is not None:
            self.mail.stop()

    def connect(self, rt: Runtime) -> None:
        """Create the demo's X, Mastodon and email channels (once) and point them at this run's networks."""
        brand = self.mastodon.add_account("nordlys", display_name="Nordlys Mobile")
        setups: list[tuple[str, str, dict[str, Any], dict[str, Any], str]] = [
            (
                X_CHANNEL,
                "x",
                {"base_url": self.pages["x"], "user_id": self.x.brand.id},
                {
                    "bearer_token": self.x.bearer_token,
                    "user_token": self.x.user_token,
                    "consumer_secret": self.x.consumer_secret,
                },
                self.x.brand.id,
            ),
            (
                MASTODON_CHANNEL,
                "mastodon",
                {"base_url": self.pages["mastodon"], "account_id": brand["id"], "acct": "nordlys"},
                {"access_token": self.mastodon.issue_token(brand["id"])},
                brand["id"],
            ),
        ]
        if self.mail is not None:
            setups.append(
                (
                    EMAIL_CHANNEL,
                    "email",
                    {
                        "imap_host": "127.0.0.1",
                        "imap_port": self.mail.imap_port,
                        "imap_ssl": False,
                        "smtp_host": "127.0.0.1",
                        "smtp_port": self.mail.smtp_port,
                        "smtp_starttls": False,
                        "address": BRAND_ADDRESS,
                        "display_name": "Nordlys Mobile support",
                    },
                    {"username": BRAND_ADDRESS, "password": MAIL_PASSWORD},
                    BRAND_ADDRESS,
                )
            )
        system = Actor.system()
        with rt.db.read() as session:
            ws_id = session.scalar(
                sa.select(m.Workspace.id).where(m.Workspace.slug == content.WORKSPACE_SLUG)
            )
            team_id = session.scalar(
                sa.select(m.Team.id).where(m.Team.workspace_id == ws_id).order_by(m.Team.id)
            )
            existing = {
                c.name: c.id
                for c in session.scalars(sa.select(m.Channel).where(m.Channel.workspace_id == ws_id))
            }
        assert ws_id is not None
        self._ticketing(rt, ws_id)
        for name, connector, config, credentials, own in setups:
            if name in existing:
                admin.reconnect_channel(
                    rt, system, existing[name], config=config, credentials=credentials, own_account_id=own
                )
            else:
                admin.create_channel(
                    rt,
                    system,
                    workspace_id=ws_id,
                    connector=connector,
                    name=name,
                    config=config,
                    credentials=credentials,
                    own_account_id=own,
                    team_id=team_id,
                )

    def _ticketing(self, rt: Runtime, workspace_id: int) -> None:
        """The workspace's ticketing webhook, pointed at this run's ticket system with its secret."""
        system = Actor.system()
        data = {"name": TICKETS_WEBHOOK, "url": f"{self.pages['tickets']}/events", "events": [],
                "ticketing": True, "secret": self.tickets.secret}  # fmt: skip
        current = next(
            (w for w in webhooks.list_webhooks(rt, system, workspace_id) if w["name"] == TICKETS_WEBHOOK),
            None,
        )
        webhooks.save_webhook(
            rt, system, workspace_id=workspace_id, data=data, webhook_id=current["id"] if current else None
        )

    def customers_write(self) -> None:
        """A few customers contact the brand on each network as the demo starts."""
        mads = self.x.user("mads_k", name="Mads Kristensen", followers=312)
        self.x.post(mads.id, "@nordlys_care Mit internet er nede i Aarhus igen. Tredje gang denne uge 😡")
        sarah = self.x.user("sarah_jensen", name="Sarah Jensen", followers=95)
        self.x.post(
            sarah.id, "@nordlys_care is there an outage in Copenhagen? My phone has had no signal since 9"
        )
        wei = self.x.user("li_wei88", name="李伟")
        self.x.dm(wei.id, "你好，我的订单 NM-50211 还没有到，已经一个星期了。")
        anders = self.mastodon.add_account("anders", domain="fosstodon.example", display_name="Anders Holm")
        self.mastodon.post(
            anders["id"], "@nordlys any ETA on the fibre repair in Odense? Working from home here."
        )
        noa = self.mastodon.add_account("noa", domain="social.example", display_name="Noa Cohen")
        self.mastodon.post(
            noa["id"], "@nordlys שלום, חויבתי פעמיים על החשבון של נובמבר. אפשר לבדוק?", visibility="direct"
        )
        if self.mail is not None:
            self.mail.send_as_customer(
                "jonas.keller@example.net",
                BRAND_ADDRESS,
                "Rechnung doppelt abgebucht",
                "Hallo,\n\nmeine Novemberrechnung wurde zweimal abgebucht. Können Sie das "
                "bitte prüfen?\n\nViele Grüße\nJonas Keller",
                name="Jonas Keller",
            )
