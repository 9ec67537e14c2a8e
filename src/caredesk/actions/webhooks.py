"""Outgoing webhooks: set up by a workspace admin, their delivery log read by supervisors.

The secret signs every delivery (`X-Caredesk-Signature`, connectors/webhook/signing.py); it is generated
when none is given, shown once in the answer that created or rotated it, and kept encrypted.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session

from caredesk import hooks
from caredesk.actions.base import Actor, get_or_404, record, require
from caredesk.domain.errors import InvalidInput, NotFound
from caredesk.domain.types import Role
from caredesk.runtime import Runtime
from caredesk.storage import models as m

MAX_WEBHOOKS = 50
DELIVERY_PAGE = 100


def webhook_out(row: m.OutgoingWebhook) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "url": row.url,
        "events": row.events,
        "ticketing": row.ticketing,
        "active": row.active,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def delivery_out(row: m.OutgoingDelivery) -> dict[str, Any]:
    return {
        "id": row.id,
        "uid": row.uid,
        "webhook_id": row.webhook_id,
        "event_id": row.event_uid,
        "event_type": row.event_type,
        "conversation_id": row.conversation_id,
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": row.next_attempt_at if row.status == "queued" else None,
        "last_status": row.last_status,
        "last_error": row.last_error,
        "log": row.log,
        "created_at": row.created_at,
        "delivered_at": row.delivered_at,
    }


def _checked(data: dict[str, Any]) -> dict[str, Any]:
    name = str(data.get("name") or "").strip()
    if not name or len(name) > 200:
        raise InvalidInput("name: 1 to 200 characters")
    url = str(data.get("url") or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname or len(url) > 2000:
        raise InvalidInput("url: an http(s) address of at most 2000 characters")
    if parts.username or parts.password:
        raise InvalidInput("url: no credentials in the address (the secret signs each delivery)")
    events = sorted({str(e) for e in data.get("events") or []})
    unknown = set(events) - hooks.PUBLIC_TYPES
    if unknown:
        raise InvalidInput(f"events: unknown {sorted(unknown)}; known: {sorted(hooks.PUBLIC_TYPES)}")
    ticketing = bool(data.get("ticketing", False))
    if not events and not ticketing:
        raise InvalidInput("events: subscribe to at least one event (or make it the ticketing webhook)")
    secret = data.get("secret")
    if secret is not None and not 16 <= len(str(secret)) <= 200:
        raise InvalidInput("secret: 16 to 200 characters")
    return {"name": name, "url": url, "events": events, "ticketing": ticketing, "secret": secret}


def save_webhook(
    rt: Runtime, actor: Actor, *, workspace_id: int, data: dict[str, Any], webhook_id: int | None = None
) -> dict[str, Any]:
    """Create or replace a webhook. The answer carries `secret` when it was set or rotated (shown once)."""
    fields = _checked(data)
    rotate = webhook_id is None or fields["secret"] is not None or bool(data.get("rotate_secret"))
    secret = str(fields["secret"] or secrets.token_urlsafe(32)) if rotate else None
    now = rt.clock.now()
    with rt.db.write() as session:
        require(session, actor, workspace_id, Role.ADMIN)
        if webhook_id is None:
            count = session.scalar(
                sa.select(sa.func.count(m.OutgoingWebhook.id)).where(
                    m.OutgoingWebhook.workspace_id == workspace_id, m.OutgoingWebhook.active.is_(True)
                )
            )
            if int(count or 0) >= MAX_WEBHOOKS:
                raise InvalidInput(f"a workspace has at most {MAX_WEBHOOKS} webhooks")
            row = m.OutgoingWebhook(workspace_id=workspace_id, created_at=now, active=True)
            session.add(row)
        else:
            row = _webhook(session, workspace_id, webhook_id)
        row.name, row.url, row.events, row.ticketing = (
            fields["name"], fields["url"], fields["events"], fields["ticketing"]
        )  # fmt: skip
        row.updated_at = now
        if secret is not None:
            row.secret_encrypted = rt.vault.encrypt({"secret": secret})
        session.flush()
        hooks.forget(session)
        kind = "webhook.created" if webhook_id is None else "webhook.updated"
        record(session, actor, kind, workspace_id=workspace_id, at=now, webhook_id=row.id, url=row.url)
        out = webhook_out(row)
    if secret is not None:
        out["secret"] = secret
    return out


def _webhook(session: Session, workspace_id: int, webhook_id: int) -> m.OutgoingWebhook:
    row = session.get(m.OutgoingWebhook, webhook_id)
    if row is None or row.workspace_id != workspace_id or not row.active:
        raise NotFound(f"webhook {webhook_id} not found")
    return row


def remove_webhook(rt: Runtime, actor: Actor, *, workspace_id: int, webhook_id: int) -> None:
    """Stop a webhook: it receives nothing more; its queued deliveries are dropped, its log kept."""
    now = rt.clock.now()
    with rt.db.write() as session:
        require(session, actor, workspace_id, Role.ADMIN)
        row = _webhook(session, workspace_id, webhook_id)
        row.active, row.updated_at = False, now
        session.execute(
            sa.update(m.OutgoingDelivery)
            .where(m.OutgoingDelivery.webhook_id == row.id, m.OutgoingDelivery.status == "queued")
            .values(status="failed", last_error="the webhook was removed")
        )
        hooks.forget(session)
        record(session, actor, "webhook.removed", workspace_id=workspace_id, at=now, webhook_id=row.id)


def list_webhooks(rt: Runtime, actor: Actor, workspace_id: int) -> list[dict[str, Any]]:
    with rt.db.read() as session:
        require(session, actor, workspace_id, Role.SUPERVISOR)
        rows = session.scalars(
            sa.select(m.OutgoingWebhook)
            .where(m.OutgoingWebhook.workspace_id == workspace_id, m.OutgoingWebhook.active.is_(True))
            .order_by(m.OutgoingWebhook.id)
        )
        return [webhook_out(r) for r in rows]


def deliveries(
    rt: Runtime,
    actor: Actor,
    *,
    workspace_id: int,
    webhook_id: int,
    status: str | None = None,
    before_id: int | None = None,
    limit: int = DELIVERY_PAGE,
) -> list[dict[str, Any]]:
    """The delivery log, newest first; `before_id` pages back."""
    with rt.db.read() as session:
        require(session, actor, workspace_id, Role.SUPERVISOR)
        hook = session.get(m.OutgoingWebhook, webhook_id)
        if hook is None or hook.workspace_id != workspace_id:
            raise NotFound(f"webhook {webhook_id} not found")
        query = sa.select(m.OutgoingDelivery).where(m.OutgoingDelivery.webhook_id == webhook_id)
        if status is not None:
            query = query.where(m.OutgoingDelivery.status == status)
        if before_id is not None:
            query = query.where(m.OutgoingDelivery.id < before_id)
        rows = session.scalars(query.order_by(m.OutgoingDelivery.id.desc()).limit(min(limit, DELIVERY_PAGE)))
        return [delivery_out(r) for r in rows]


def retry_delivery(rt: Runtime, actor: Actor, *, workspace_id: int, delivery_id: int) -> dict[str, Any]:
    """Post a failed delivery again, now (the same delivery id, so the receiver can drop a repeat)."""
    now = rt.clock.now()
    with rt.db.write() as session:
        require(session, actor, workspace_id, Role.SUPERVISOR)
        row = get_or_404(session, m.OutgoingDelivery, delivery_id, "delivery")
        if row.workspace_id != workspace_id:
            raise NotFound(f"delivery {delivery_id} not found")
        _webhook(session, workspace_id, row.webhook_id)
        if row.status != "failed":
            raise InvalidInput(f"only a failed delivery can be retried (this one is {row.status})")
        row.status, row.next_attempt_at, row.attempts = "queued", now, 0
        record(
            session, actor, "webhook.retried", workspace_id=workspace_id, at=now, webhook_id=row.webhook_id,
            delivery_id=row.id,
        )  # fmt: skip
        return delivery_out(row)


def send_test(rt: Runtime, actor: Actor, *, workspace_id: int, webhook_id: int) -> dict[str, Any]:
    """Queue a `webhook.test` delivery to this webhook alone."""
    now = rt.clock.now()
    with rt.db.write() as session:
        require(session, actor, workspace_id, Role.ADMIN)
        row = _webhook(session, workspace_id, webhook_id)
        record(session, actor, "webhook.test", workspace_id=workspace_id, at=now, webhook_id=row.id)
        session.flush()
        delivery = session.scalar(
            sa.select(m.OutgoingDelivery)
            .where(m.OutgoingDelivery.webhook_id == row.id, m.OutgoingDelivery.event_type == "webhook.test")
            .order_by(m.OutgoingDelivery.id.desc())
        )
        assert delivery is not None
        return delivery_out(delivery)
