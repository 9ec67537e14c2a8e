"""No secret leaks: after a run that touches every path secrets travel (signed webhooks in, replies out
to X and the web chat, an outgoing webhook, failed sends, a channel check, logins right and wrong, every
GET of the API, every export, the CLI), none of the network credentials, webhook secrets, API tokens,
passwords or the encryption key appears in the logs, API answers, exports or command output, nor in
plain text in the database. The one place a secret is shown is the answer that creates it, once."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from caredesk.actions import conversations as conv_actions
from caredesk.actions import webhooks
from caredesk.actions.base import Actor
from caredesk.api.app import create_app
from caredesk.cli.main import app as cli
from caredesk.fakes.hook_receiver import FakeHookReceiver
from caredesk.fakes.webhook_network import FakeWebhookNetwork, ServerThread
from caredesk.fakes.x import FakeX
from caredesk.pipeline.runner import Pipeline
from caredesk.runtime import Runtime
from caredesk.security.vault import SecretBox
from caredesk.storage import models as m
from caredesk.workers.hooks import HookSender
from caredesk.workers.sender import Sender
from tests.conftest import World, dump_database, x_channel
from tests.test_api import auth, endpoints

pytestmark = pytest.mark.slow
PASSWORD = "correct horse"  # every World agent's
WRONG = "correct horse battery staple"  # a wrong password tried: it must not be logged either


class Run:
    def __init__(self, rt: Runtime) -> None:
        self.key = Fernet.generate_key()
        rt.vault = SecretBox([self.key])
        self.rt = rt
        self.net = FakeWebhookNetwork()
        self.net_server = ServerThread(self.net.app).start()
        self.world = World(rt, outbound_url=f"{self.net_server.url}/channels/chat/replies")
        self.app_server = ServerThread(create_app(rt)).start()
        self.net.add_channel(
            "chat", secret=self.world.secret, hook_url=f"{self.app_server.url}/hooks/{self.world.channel.id}"
        )
        self.x = FakeX(brand_username="acme_care", brand_id="1600000000000000001")
        self.x_server = ServerThread(self.x.app).start()
        self.x_channel = x_channel(rt, self.world.ws.id, self.x, self.x_server.url)
        self.hook_secret = "hook-" + Fernet.generate_key().decode()[:30]
        self.receiver = FakeHookReceiver(secret=self.hook_secret)
        self.receiver_server = ServerThread(self.receiver.app).start()
        webhooks.save_webhook(
            rt, Actor.system(), workspace_id=self.world.ws.id,
            data={"name": "CRM", "url": f"{self.receiver_server.url}/events", "secret": self.hook_secret,
                  "events": ["message.received", "conversation.replied"]},
        )  # fmt: skip
        self.tokens = {who: self.world.token(who) for who in ("admin", "agent", "analyst")}

    def secrets(self) -> dict[str, str]:
        return {
            "X bearer token": self.x.bearer_token,
            "X user token": self.x.user_token,
            "X consumer secret": self.x.consumer_secret,
            "web chat secret": self.world.secret,
            "outgoing webhook secret": self.hook_secret,
            "encryption key": self.key.decode(),
            "password": PASSWORD,
            "wrong password": WRONG,
            **{f"{who}'s API token": token for who, token in self.tokens.items()},
        }

    def stop(self) -> None:
        for server in (self.app_server, self.net_server, self.x_server, self.receiver_server):
            server.stop()


@pytest.fixture
def run(rt: Runtime) -> Iterator[Run]:
    served = Run(rt)
    yield served
    served.stop()


def _traffic(run: Run) -> None:
    """Customers write on both channels (signed webhooks), agents answer, one X send fails for good."""
    rt, x = run.rt, run.x
    for i in range(3):
        said = {"id": f"chat-{i}", "created_at": datetime.now(UTC).isoformat(), "text": f"order {i} is late",
                "author": {"id": f"c{i}", "name": f"C {i}"}}  # fmt: skip
        r = run.net.inject("chat", said)
        assert r.status_code == 202, r.text
        user = x.user(f"cust{i}", name=f"Customer {i}")
        tweet = x.post(user.id, f"@acme_care no signal since update {i}")
        assert x.push(tweet.id, f"{run.app_server.url}/hooks/{run.x_channel.id}").status_code in (200, 202)
    Pipeline(rt).drain()
    with rt.db.read() as s:
        convs = list(s.scalars(sa.select(m.Conversation.id).order_by(m.Conversation.id)))
    assert len(convs) == 6
    for n, conv in enumerate(convs):
        conv_actions.reply(rt, run.world.actor("agent"), conv, f"Sorry about that ({n})", public=True,
                           sign=False, confirm=True)  # fmt: skip
    x.failures["write"] = [401, 503]  # one refused for good, one to be retried later
    Sender(rt).drain()
    HookSender(rt).drain()


def _answers(run: Run, client: TestClient) -> list[str]:
    """What the API, the exports and the commands said (answers that create a secret left out)."""
    out: list[str] = []
    ws, world = run.world.ws.id, run.world
    wrong = client.post("/api/v1/auth/login", json={"email": "agent@example.com", "password": WRONG})
    assert wrong.status_code == 401
    out.append(wrong.text)
    right = client.post("/api/v1/auth/login", json={"email": "agent@example.com", "password": PASSWORD})
    assert right.status_code == 200  # its answer is the new token: shown to its owner, once
    checked = client.post(f"/api/v1/channels/{run.x_channel.id}/test", headers=auth(run.tokens["admin"]))
    out.append(checked.text)
    with run.rt.db.read() as s:
        conv = int(s.scalars(sa.select(m.Conversation.id)).first() or 0)
    gets = [
        path for method, path, _, who in endpoints(world, conv) if method == "GET" and who != "superadmin"
    ]
    for path in gets:
        r = client.get(path, headers=auth(run.tokens["admin"]))
        assert r.status_code < 500, (path, r.text)
        out.append(f"{path} {r.status_code} {r.text}")
    for path in (f"/api/v1/workspaces/{ws}/audit.csv", f"/api/v1/workspaces/{ws}/reports/conversations.csv"):
        r = client.get(path, headers=auth(run.tokens["admin"]))
        out.append(f"{path} {r.status_code} {r.text}")
    db = run.rt.db.url.render_as_string(hide_password=False)
    for args in (["channel", "list"], ["admin", "audit", "--format", "json"], ["report", "kpis"]):
        result = CliRunner().invoke(cli, [*args, "--db", db], env={"CAREDESK_SECRET_KEYS": run.key.decode()})
        assert result.exit_code == 0, result.output
        out.append(result.output)
    return out


def test_no_secret_in_logs_answers_exports_or_the_database(
    run: Run, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _traffic(run)
    with TestClient(create_app(run.rt), raise_server_exceptions=False) as client:
        answers = _answers(run, client)
    with run.rt.db.read() as s:  # the run did what it claims
        sent = s.scalar(sa.select(sa.func.count()).select_from(m.Outbox).where(m.Outbox.status == "sent"))
        errors = dict(
            s.execute(sa.select(m.Outbox.status, m.Outbox.last_error).where(m.Outbox.status != "sent"))
            .tuples()
            .all()
        )
    assert sent == 4 and errors.keys() == {"failed", "queued"} and all(errors.values())  # errors shown
    assert run.receiver.accepted("message.received") and run.net.channels["chat"].posted
    logs = (
        "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records)
        + caplog.text
    )
    assert len(caplog.records) > 20 and "HTTP Request" in logs  # the network calls were logged
    places: dict[str, str] = {"logs": logs, "answers": "\n".join(answers), "database": dump_database(run.rt)}
    leaks = [
        f"{name} in {where}" for name, secret in run.secrets().items() for where, text in places.items()
        if secret in text
    ]  # fmt: skip
    assert leaks == []
