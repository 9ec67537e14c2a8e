"""Case links and escalation to an external ticket.

A conversation is linked to the order, case, ticket and email references triage finds in its customers'
messages (the pipeline's Record stage calls `link_refs`), to the ticket an escalation opened, and to
references an agent adds. Conversations sharing a reference show each other (`linked`).

Escalation posts `conversation.escalated` to the workspace's ticketing webhook (workers/hooks.py). Its
answer, `{"ticket_id", "status", "url"}`, is written on the conversation (`ticket_answer`); the ticket
system reports later changes to `POST /hooks/tickets/{webhook_id}`, signed like every webhook
(`ticket_update`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from caredesk.actions.base import Actor, get_or_404, record, require
from caredesk.connectors.webhook import signing
from caredesk.domain.errors import Conflict, InvalidInput, NotFound
from caredesk.domain.types import Role
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from caredesk.storage.db import insert_for
from caredesk.triage.caserefs import CASE_KINDS

MAX_REF = 320
MAX_TICKET_FIELD = 500


def link_refs(session: Session, rows: Iterable[dict[str, Any]]) -> None:
    """Insert case links, ignoring ones the conversation already has. Rows: the `case_links` columns."""
    batch = [r for r in rows if r["value"] and len(r["value"]) <= MAX_REF]
    if batch:
        stmt = insert_for(session, m.CaseLink).on_conflict_do_nothing(
            index_elements=["conversation_id", "kind", "value"]
        )
        session.execute(stmt, batch)


def refs_from_message(msg: m.Message, now: datetime) -> list[dict[str, Any]]:
    """The case links triage found in one stored message."""
    refs = (msg.triage or {}).get("case_refs") or []
    return [
        {
            "workspace_id": msg.workspace_id,
            "conversation_id": msg.conversation_id,
            "kind": str(ref["kind"]),
            "value": _normal(str(ref["kind"]), str(ref["value"])),
            "source": "triage",
            "message_id": msg.id,
            "created_at": now,
        }
        for ref in refs
        if ref.get("kind") and ref.get("value")
    ]


def _normal(kind: str, value: str) -> str:
    value = value.strip()
    return value.lower() if kind == "email" else value.upper().lstrip("#").strip()


def refs_of(session: Session, conversation_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(
        sa.select(m.CaseLink).where(m.CaseLink.conversation_id == conversation_id).order_by(m.CaseLink.id)
    )
    return [{"kind": r.kind, "value": r.value, "source": r.source, "message_id": r.message_id} for r in rows]


def linked(session: Session, conv: m.Conversation, limit: int = 50) -> list[dict[str, Any]]:
    """Other conversations of the workspace that share a reference with this one, newest first."""
    mine = sa.select(m.CaseLink.kind, m.CaseLink.value).where(m.CaseLink.conversation_id == conv.id)
    other = aliased(m.CaseLink)
    rows = session.execute(
        sa.select(
            other.conversation_id, other.kind, other.value, m.Conversation.status, m.Conversation.subject,
            m.Conversation.last_message_at,
        )
        .join(m.Conversation, m.Conversation.id == other.conversation_id)
        .where(
            other.workspace_id == conv.workspace_id,
            other.conversation_id != conv.id,
            sa.tuple_(other.kind, other.value).in_(mine),
        )
        .order_by(m.Conversation.last_message_at.desc(), other.conversation_id.desc())
        .limit(limit)
    ).all()  # fmt: skip
    out: dict[int, dict[str, Any]] = {}
    for conv_id, kind, value, status, subject, last in rows:
        entry = out.setdefault(
            conv_id,
            {"conversation_id": conv_id, "status": status, "subject": subject, "last_message_at": last,
             "refs": []},
        )  # fmt: skip
        entry["refs"].append({"kind": kind, "value": value})
    return list(out.values())


def add_link(rt: Runtime, actor: Actor, conversation_id: int, kind: str, value: str) -> list[dict[str, Any]]:
    """An agent links the conversation to a reference by hand."""
    if kind not in CASE_KINDS:
        raise InvalidInput(f"kind must be one of {sorted(CASE_KINDS)}")
    value = _normal(kind, value)
    if not value or len(value) > MAX_REF:
        raise InvalidInput(f"value must be 1 to {MAX_REF} characters")
    now = rt.clock.now()
    with rt.db.write() as session:
        conv = get_or_404(session, m.Conversation, conversation_id, "conversation")
        require(session, actor, conv.workspace_id, Role.AGENT)
        link_refs(session, [_row(conv, kind, value, "agent", now)])
        # The value is the customer's: it stays in case_links, which erasure reaches, not in the log.
        record(
            session, actor, "case.linked", workspace_id=conv.workspace_id, conversation_id=conv.id, at=now,
            ref_kind=kind,
        )  # fmt: skip
        return refs_of(session, conv.id)


def _row(conv: m.Conversation, kind: str, value: str, source: str, now: datetime) -> dict[str, Any]:
    return {
        "workspace_id": conv.workspace_id,
        "conversation_id": conv.id,
        "kind": kind,
        "value": value,
        "source": source,
        "message_id": None,
        "created_at": now,
    }


# --- escalation ---------------------------------------------------------------------------------


def escalate(rt: Runtime, actor: Actor, conversation_id: int, note: str | None = None) -> dict[str, Any]:
    """Ask the workspace's ticketing webhook for an external ticket. Returns the conversation's ticket."""
    note = (note or "").strip()
    if len(note) > 2000:
        raise InvalidInput("the escalation note is longer than 2000 characters")
    now = rt.clock.now()
    with rt.db.write() as session:
        conv = get_or_404(session, m.Conversation, conversation_id, "conversation")
        require(session, actor, conv.workspace_id, Role.AGENT)
        hook = session.scalar(
            sa.select(m.OutgoingWebhook)
            .where(
                m.OutgoingWebhook.workspace_id == conv.workspace_id,
                m.OutgoingWebhook.ticketing.is_(True),
                m.OutgoingWebhook.active.is_(True),
            )
            .order_by(m.OutgoingWebhook.id)
        )
        if hook is None:
            raise InvalidInput("no ticketing webhook is set up in this workspace (Settings, Webhooks)")
        ticket = dict(conv.external_ticket or {})
        if ticket.get("id") or ticket.get("status") == "requested":
            shown = ticket.get("id") or "requested"
            raise Conflict(f"this conversation is already escalated (ticket {shown})")
        conv.external_ticket = {"status": "requested", "webhook_id": hook.id, "requested_at": now.isoformat(),
                                **({"note": note} if note else {})}  # fmt: skip
        conv.updated_at = now
        conv.version = (conv.version or 1) + 1
        # The note may quote the customer: it is on the conversation (erasure reaches it), not in the log.
        record(
            session, actor, "conversation.escalated", workspace_id=conv.workspace_id, conversation_id=conv.id,
            at=now, webhook_id=hook.id,
        )  # fmt: skip
        result = dict(conv.external_ticket)
    rt.bus.publish("conversations.changed", {"ids": [conversation_id], "kind": "escalated"})
    return result


def _ticket_fields(answer: Any) -> dict[str, str] | None:
    if not isinstance(answer, dict):
        return None
    ticket_id = answer.get("ticket_id", answer.get("id"))
    if ticket_id is None or isinstance(ticket_id, (dict, list, bool)):
        return None
    fields = {"id": str(ticket_id), "status": str(answer.get("status") or "open")}
    if isinstance(answer.get("url"), str) and answer["url"].startswith(("https://", "http://")):
        fields["url"] = answer["url"]
    if any(len(v) > MAX_TICKET_FIELD for v in fields.values()) or not fields["id"].strip():
        return None
    return fields


def ticket_answer(
    session: Session, webhook_id: int, conversation_id: int, answer: Any, now: datetime
) -> bool:
    """The ticketing webhook answered an escalation: write the ticket on the conversation and link it."""
    conv = session.get(m.Conversation, conversation_id)
    fields = _ticket_fields(answer)
    if conv is None:
        return False
    if fields is None:
        conv.external_ticket = {**(conv.external_ticket or {}), "status": "unknown", "webhook_id": webhook_id,
                                "error": "the ticket system's answer named no ticket_id"}  # fmt: skip
        return False
    _set_ticket(session, conv, webhook_id, fields, now, "ticket.linked")
    return True


def _set_ticket(
    session: Session, conv: m.Conversation, webhook_id: int, fields: dict[str, str], now: datetime, kind: str
) -> None:
    conv.external_ticket = {**fields, "webhook_id": webhook_id, "updated_at": now.isoformat()}
    conv.updated_at = now
    conv.version = (conv.version or 1) + 1
    link_refs(session, [_row(conv, "ticket", _normal("ticket", fields["id"]), "ticket", now)])
    record(
        session, Actor.system(), kind, workspace_id=conv.workspace_id, conversation_id=conv.id, at=now,
        webhook_id=webhook_id, ticket=fields,
    )  # fmt: skip


def ticket_update(rt: Runtime, webhook_id: int, body: bytes, signature: str | None) -> dict[str, Any]:
    """The ticket system reports a ticket's new status: `{"conversation_id", "ticket_id", "status", "url"}`,
    signed with the ticketing webhook's secret. A bad signature or an unknown pair changes nothing."""
    now = rt.clock.now()
    with rt.db.write() as session:
        hook = session.get(m.OutgoingWebhook, webhook_id)
        if hook is None or not hook.active or not hook.ticketing:
            raise NotFound("ticketing webhook not found")
        secret = str(rt.vault.decrypt(hook.secret_encrypted).get("secret", ""))
        signing.verify(secret, signature, body, now.timestamp())
        try:
            data = json.loads(body)
        except ValueError:
            raise InvalidInput("body is not JSON") from None
        fields = _ticket_fields(data)
        conv_id = data.get("conversation_id") if isinstance(data, dict) else None
        if fields is None or not isinstance(conv_id, int) or isinstance(conv_id, bool):
            raise InvalidInput("body needs conversation_id (integer), ticket_id and status")
        conv = session.get(m.Conversation, conv_id)
        if conv is None or conv.workspace_id != hook.workspace_id:
            raise NotFound("conversation not found")
        current = conv.external_ticket or {}
        if current.get("id") not in (None, fields["id"]):
            raise Conflict("this conversation is linked to another ticket")
        _set_ticket(session, conv, hook.id, fields, now, "ticket.updated")
        result = dict(conv.external_ticket)
    rt.bus.publish("conversations.changed", {"ids": [conv_id], "kind": "ticket"})
    return result
