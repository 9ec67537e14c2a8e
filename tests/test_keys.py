"""Rotating the key of stored secrets: with the new key first and the old one after it, `caredesk admin
rotate-keys` re-encrypts every channel credential and webhook secret, after which the new key alone opens
them all; a secret no configured key opens stops the rotation with a clear error and rewrites nothing."""

from __future__ import annotations

import sqlalchemy as sa
from cryptography.fernet import Fernet
from typer.testing import CliRunner

from caredesk.actions import webhooks
from caredesk.actions.base import Actor
from caredesk.cli.main import app
from caredesk.runtime import Runtime
from caredesk.security.vault import SecretBox
from caredesk.storage import models as m
from tests.conftest import World


def _stored(rt: Runtime) -> list[str]:
    with rt.db.read() as s:
        channels = [str(c) for c in s.scalars(sa.select(m.Channel.credentials_encrypted)) if c]
        hooks = list(s.scalars(sa.select(m.OutgoingWebhook.secret_encrypted)))
    return channels + hooks


def test_rotate_keys_then_the_new_key_alone_opens_every_secret(rt: Runtime) -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    rt.vault = SecretBox([old])
    world = World(rt)
    webhooks.save_webhook(
        rt, Actor.system(), workspace_id=world.ws.id,
        data={"name": "CRM", "url": "http://127.0.0.1:9/events", "events": ["message.received"],
              "secret": "crm-secret-0123456789"},
    )  # fmt: skip
    before = _stored(rt)
    assert len(before) == 2
    db = rt.db.url.render_as_string(hide_password=False)
    runner = CliRunner()

    made = runner.invoke(app, ["admin", "new-key"])
    assert made.exit_code == 0 and len(made.output.strip()) == 44  # a Fernet key
    stranger = runner.invoke(
        app, ["admin", "rotate-keys", "--db", db], env={"CAREDESK_SECRET_KEYS": new.decode()}
    )
    assert stranger.exit_code == 2 and "cannot be decrypted" in stranger.output
    assert _stored(rt) == before  # nothing rewritten

    keys = f"{new.decode()},{old.decode()}"
    done = runner.invoke(app, ["admin", "rotate-keys", "--db", db], env={"CAREDESK_SECRET_KEYS": keys})
    assert done.exit_code == 0, done.output
    assert "re-encrypted 2 secrets" in done.output
    after = _stored(rt)
    assert after != before
    only_new = SecretBox([new])
    assert only_new.decrypt(after[0]) == {"secret": world.secret}
    assert only_new.decrypt(after[1]) == {"secret": "crm-secret-0123456789"}
    with rt.db.read() as s:
        assert s.scalars(sa.select(m.Event.kind).where(m.Event.kind == "secrets.reencrypted")).one()
