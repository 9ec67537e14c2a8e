"""Rotating the encryption key of stored secrets (security/vault.py): with the new key first in
CAREDESK_SECRET_KEYS and the old ones after it, `reencrypt` rewrites every channel's credentials and every
outgoing webhook's secret under the newest key, in one transaction; then the old keys can be dropped."""

from __future__ import annotations

import sqlalchemy as sa

from caredesk.actions.base import Actor, record
from caredesk.runtime import Runtime
from caredesk.storage import models as m


def reencrypt(rt: Runtime) -> int:
    """Re-encrypt every stored secret with the newest key; returns how many were rewritten. A secret that
    no configured key opens stops the whole rotation (nothing is rewritten) with a clear error."""
    now = rt.clock.now()
    count = 0
    with rt.db.write() as session:
        for channel in session.scalars(
            sa.select(m.Channel).where(m.Channel.credentials_encrypted.is_not(None))
        ):
            channel.credentials_encrypted = rt.vault.rotate(str(channel.credentials_encrypted))
            count += 1
        for hook in session.scalars(sa.select(m.OutgoingWebhook)):
            hook.secret_encrypted = rt.vault.rotate(hook.secret_encrypted)
            count += 1
        record(session, Actor.system(), "secrets.reencrypted", workspace_id=None, at=now, secrets=count)
    return count
