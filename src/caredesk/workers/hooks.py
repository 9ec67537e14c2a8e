"""Posts outgoing webhook deliveries (hooks.py writes them), signed, at least once, with a delivery log.

States: queued -> sending -> delivered | failed. A delivery is marked `sending` with a lease and committed
before the receiver is called; one whose lease ran out (the process died) is posted again with the same
`X-Caredesk-Delivery` id, which receivers use to drop repeats. A 2xx answer delivers it. Timeouts,
connection errors, 408, 425, 429 and 5xx are retried with exponential backoff and jitter (429 and 503
honour `Retry-After`); any other answer, or the last of `MAX_ATTEMPTS`, parks it as failed, visible in
the log with a retry action. A ticketing webhook's answer to `conversation.escalated` names the external
ticket: `{"ticket_id": ..., "status": ..., "url": ...}` is written on the conversation.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.orm import Session

from caredesk import __version__
from caredesk.actions import cases
from caredesk.actions.base import Actor, record
from caredesk.connectors.webhook import signing
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from caredesk.workers.sender import backoff_seconds, drain

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=2)
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
LOG_KEEP = 20  # attempts kept per delivery, newest last
EVENT_HEADER = "X-Caredesk-Event"
DELIVERY_HEADER = "X-Caredesk-Delivery"
RETRYABLE = frozenset({408, 425, 429})
TRANSCRIPT_LIMIT = 50  # messages sent with an escalation, newest last


@dataclass(slots=True)
class Claimed:
    delivery_id: int
    uid: str
    event_type: str
    url: str
    secret: str
    body: bytes
    ticketing: bool


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _message(msg: m.Message) -> dict[str, Any]:
    return {
        "id": msg.id,
        "direction": msg.direction,
        "public": msg.is_public,
        "automatic": msg.is_automatic,
        "author_name": msg.author_name,
        "author_handle": msg.author_handle,
        "agent_id": msg.agent_id,
        "text": msg.text,
        "language": msg.language,
        "external_id": msg.external_id,
        "created_at": _iso(msg.created_at),
    }


def payload(session: Session, delivery: m.OutgoingDelivery) -> dict[str, Any]:
    """The documented body (docs/webhooks.md). The conversation is as it is when the delivery is posted."""
    ws = session.get(m.Workspace, delivery.workspace_id)
    body: dict[str, Any] = {
        "id": delivery.event_uid,
        "type": delivery.event_type,
        "occurred_at": _iso(delivery.occurred_at),
        "workspace": {"id": delivery.workspace_id, "slug": ws.slug if ws else None},
        "actor": {"agent_id": delivery.actor_id} if delivery.actor_id else None,
        "data": delivery.data,
    }
    conv = session.get(m.Conversation, delivery.conversation_id) if delivery.conversation_id else None
    if conv is not None:
        channel = session.get(m.Channel, conv.channel_id)
        contact = session.get(m.Contact, conv.contact_id) if conv.contact_id else None
        body["conversation"] = {
            "id": conv.id,
            "status": conv.status,
            "priority": conv.priority,
            "assignee_id": conv.assignee_id,
            "team_id": conv.team_id,
            "channel": {"id": channel.id, "name": channel.name, "network": channel.network}
            if channel
            else None,
            "public": conv.is_public,
            "language": conv.language,
            "subject": conv.subject,
            "contact": {"id": contact.id, "name": contact.name} if contact else None,
            "first_inbound_at": _iso(conv.first_inbound_at),
            "first_reply_at": _iso(conv.first_reply_at),
            "waiting_since": _iso(conv.waiting_since),
            "first_reply_due_at": _iso(conv.first_reply_due_at),
            "next_reply_due_at": _iso(conv.next_reply_due_at),
            "resolution_due_at": _iso(conv.resolution_due_at),
            "resolved_at": _iso(conv.resolved_at),
            "external_ticket": conv.external_ticket or None,
        }
        if delivery.event_type == "conversation.escalated":
            body["data"] = {**body["data"], "note": (conv.external_ticket or {}).get("note")}
            recent = session.scalars(
                sa.select(m.Message)
                .where(m.Message.conversation_id == conv.id)
                .order_by(m.Message.created_at.desc(), m.Message.id.desc())
                .limit(TRANSCRIPT_LIMIT)
            )
            body["transcript"] = [_message(x) for x in reversed(list(recent))]
            body["case_refs"] = cases.refs_of(session, conv.id)
    if delivery.event_type == "spike.alert":  # the examples' texts are on the alert, not in the event log
        alert = session.get(m.SpikeAlert, delivery.data.get("alert_id") or 0)
        texts = {
            x.get("message_id"): x.get("text") for x in (alert.detail if alert else {}).get("examples", [])
        }
        body["data"] = {
            **body["data"],
            "examples": [
                {**x, "text": texts.get(x.get("message_id"))} for x in delivery.data.get("examples", [])
            ],
        }
    msg = session.get(m.Message, delivery.message_id) if delivery.message_id else None
    if msg is not None:
        body["message"] = _message(msg)
    return body


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str).encode()


class HookSender:
    def __init__(
        self,
        rt: Runtime,
        http: httpx.Client | None = None,
        batch_size: int = 20,
        timeout: httpx.Timeout = TIMEOUT,
    ) -> None:
        self.rt = rt
        self.http = http or rt.http
        self.batch_size = batch_size
        self.timeout = timeout

    def run_once(self) -> int:
        claimed = self._claim()
        for item in claimed:
            self._post(item)
        return len(claimed)

    def drain(self, max_rounds: int = 1000) -> int:
        return drain(self.run_once, max_rounds)

    def _claim(self) -> list[Claimed]:
        now = self.rt.clock.now()
        D = m.OutgoingDelivery
        due = sa.or_(
            sa.and_(D.status == "queued", D.next_attempt_at <= now),
            sa.and_(D.status == "sending", D.claimed_until < now),
        )
        query = sa.select(D).where(due).order_by(D.next_attempt_at, D.id).limit(self.batch_size)
        if not self.rt.db.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        out: list[Claimed] = []
        with self.rt.db.write() as session:
            for row in session.scalars(query):
                hook = session.get(m.OutgoingWebhook, row.webhook_id)
                if hook is None or not hook.active:
                    row.status, row.last_error = "failed", "the webhook was removed"
                    continue
                row.status, row.claimed_until = "sending", now + LEASE
                row.attempts += 1
                secret = str(self.rt.vault.decrypt(hook.secret_encrypted).get("secret", ""))
                out.append(
                    Claimed(
                        row.id,
                        row.uid,
                        row.event_type,
                        hook.url,
                        secret,
                        encode(payload(session, row)),
                        hook.ticketing,
                    )
                )
        return out

    def _post(self, item: Claimed) -> None:
        stamp = int(self.rt.clock.now().timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"caredesk-webhooks/{__version__}",
            EVENT_HEADER: item.event_type,
            DELIVERY_HEADER: item.uid,
            signing.HEADER: signing.sign(item.secret, item.body, stamp),
        }
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        retry_after: float | None = None
        answer: Any = None
        try:
            response = self.http.post(item.url, content=item.body, headers=headers, timeout=self.timeout)
            status = response.status_code
            if 200 <= status < 300:
                answer = _json_or_none(response)
            else:
                error = f"HTTP {status}: {response.text[:300]}"
                retry_after = _retry_after(response)
        except httpx.TimeoutException:
            error = "timed out"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
        elapsed_ms = round((time.perf_counter() - started) * 1000)
        self._outcome(item, status, error, retry_after, answer, elapsed_ms)

    def _outcome(
        self,
        item: Claimed,
        status: int | None,
        error: str | None,
        retry_after: float | None,
        answer: Any,
        elapsed_ms: int,
    ) -> None:
        now = self.rt.clock.now()
        with self.rt.db.write() as session:
            row = session.get(m.OutgoingDelivery, item.delivery_id)
            assert row is not None
            entry = {"at": now.isoformat(), "attempt": row.attempts, "status": status, "ms": elapsed_ms}
            if error:
                entry["error"] = error
            row.log = [*(row.log or []), entry][-LOG_KEEP:]
            row.last_status, row.last_error, row.claimed_until = status, error, None
            if error is None:
                row.status, row.delivered_at = "delivered", now
                if item.ticketing and item.event_type == "conversation.escalated" and row.conversation_id:
                    cases.ticket_answer(session, row.webhook_id, row.conversation_id, answer, now)
                return
            retryable = status is None or status in RETRYABLE or status >= 500
            if retryable and row.attempts < MAX_ATTEMPTS:
                wait = backoff_seconds(row.attempts, min(retry_after, 3600.0) if retry_after else None)
                row.status, row.next_attempt_at = "queued", now + timedelta(seconds=wait)
                return
            row.status = "failed"
            record(
                session,
                Actor.system(),
                "webhook.failed",
                workspace_id=row.workspace_id,
                conversation_id=row.conversation_id,
                at=now,
                webhook_id=row.webhook_id,
                delivery_id=row.id,
                event_type=row.event_type,
                error=error,
            )
        log.warning("webhook delivery %s failed: %s", item.uid, error)


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _retry_after(response: httpx.Response) -> float | None:
    if response.status_code not in (429, 503):
        return None
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
