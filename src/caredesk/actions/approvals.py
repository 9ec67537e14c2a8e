"""Approvals: replies that wait for a reviewer before they are published.

Rules live in the workspace settings: `{"approvals": {"mode": "off" | "public" | "all", "agents":
{"<agent id>": "off" | "public" | "all"}}}`. The workspace mode applies to members with the agent role; a
per-agent rule applies to anyone and wins. A held reply is written at once (the message, with delivery
"approval", and an `approvals` row with the checks' findings) but gets no outbox item. A supervisor or
admin other than the requester approves it (it is queued for the sender, and the conversation resolved
if the requester asked) or rejects it with a reason; either way the requester is told, on the bus and
in the event log. Approval time (requested to decided) is defined in docs/metrics.md.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from caredesk.actions import outbound
from caredesk.actions.base import Actor, get_or_404, record, require
from caredesk.actions.conversations import APPROVAL_MODES, _set_status, _touch
from caredesk.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from caredesk.domain.types import OutboundReply, Role, Status
from caredesk.runtime import Runtime
from caredesk.storage import models as m

MAX_REASON = 2000


def rules_of(rt: Runtime, actor: Actor, workspace_id: int) -> dict[str, Any]:
    with rt.db.read() as session:
        require(session, actor, workspace_id, Role.SUPERVISOR)
        ws = get_or_404(session, m.Workspace, workspace_id, "workspace")
        return _rules(dict(ws.settings or {}))


def _rules(settings: dict[str, Any]) -> dict[str, Any]:
    rules = dict(settings.get("approvals") or {})
    return {"mode": rules.get("mode", "off"), "agents": dict(rules.get("agents") or {})}


def set_rules(rt: Runtime, actor: Actor, workspace_id: int, data: dict[str, Any]) -> dict[str, Any]:
    mode = str(data.get("mode", "off"))
    if mode not in APPROVAL_MODES:
        raise InvalidInput(f"mode: one of {list(APPROVAL_MODES)}")
    agents: dict[str, str] = {}
    for key, value in dict(data.get("agents") or {}).items():
        if value not in APPROVAL_MODES:
            raise InvalidInput(f"agents[{key}]: one of {list(APPROVAL_MODES)}")
        agents[str(int(key))] = str(value)
    now = rt.clock.now()
    with rt.db.write() as session:
        require(session, actor, workspace_id, Role.ADMIN)
        ws = get_or_404(session, m.Workspace, workspace_id, "workspace")
        members = set(
            session.scalars(sa.select(m.Membership.agent_id).where(m.Membership.workspace_id == workspace_id))
        )
        strangers = [a for a in agents if int(a) not in members]
        if strangers:
            raise NotFound(f"agents {strangers} are not members of this workspace")
        ws.settings = {**(ws.settings or {}), "approvals": {"mode": mode, "agents": agents}}
        record(
            session, actor, "workspace.approvals", workspace_id=workspace_id, at=now, mode=mode, agents=agents
        )
        return _rules(ws.settings)


def approval_out(row: m.Approval, text: str, requester: str | None) -> dict[str, Any]:
    return {
        "id": row.id,
        "conversation_id": row.conversation_id,
        "message_id": row.message_id,
        "requester_id": row.requester_id,
        "requester_name": requester,
        "text": text,
        "public": bool(row.request.get("public")),
        "resolve": row.resolve,
        "checks": row.checks,
        "status": row.status,
        "reviewer_id": row.reviewer_id,
        "reason": row.reason,
        "requested_at": row.requested_at,
        "decided_at": row.decided_at,
    }


def list_approvals(
    rt: Runtime, actor: Actor, workspace_id: int, status: str = "pending", limit: int = 100
) -> list[dict[str, Any]]:
    """Replies waiting for review, oldest first (decided ones newest first)."""
    if status not in ("pending", "approved", "rejected"):
        raise InvalidInput("status: pending, approved or rejected")
    with rt.db.read() as session:
        require(session, actor, workspace_id, Role.SUPERVISOR)
        order = m.Approval.requested_at if status == "pending" else m.Approval.decided_at.desc()
        rows = session.execute(
            sa.select(m.Approval, m.Message.text, m.Agent.name)
            .join(m.Message, m.Message.id == m.Approval.message_id)
            .join(m.Agent, m.Agent.id == m.Approval.requester_id)
            .where(m.Approval.workspace_id == workspace_id, m.Approval.status == status)
            .order_by(order, m.Approval.id)
            .limit(min(limit, 500))
        ).all()
        return [approval_out(row, text, name) for row, text, name in rows]


def decide(
    rt: Runtime, actor: Actor, approval_id: int, *, approve: bool, reason: str | None = None
) -> dict[str, Any]:
    reason = (reason or "").strip() or None
    if reason is not None and len(reason) > MAX_REASON:
        raise InvalidInput(f"reason longer than {MAX_REASON} characters")
    if not approve and reason is None:
        raise InvalidInput("a rejection needs a reason for the requester")
    now = rt.clock.now()
    with rt.db.write() as session:
        row = get_or_404(session, m.Approval, approval_id, "approval")
        require(session, actor, row.workspace_id, Role.SUPERVISOR)
        if actor.agent_id is not None and actor.agent_id == row.requester_id:
            raise Forbidden("a reply is reviewed by someone other than its author")
        if row.status != "pending":
            raise Conflict(f"this approval was already decided ({row.status})")
        conv = get_or_404(session, m.Conversation, row.conversation_id, "conversation")
        msg = get_or_404(session, m.Message, row.message_id, "message")
        row.status = "approved" if approve else "rejected"
        row.reviewer_id, row.reason, row.decided_at = actor.agent_id, reason, now
        waited = (now - row.requested_at).total_seconds()
        if approve:
            outbound.queue(session, conv, msg, OutboundReply(**row.request), now)
            if row.resolve:
                _set_status(session, actor, conv, Status.RESOLVED, now, None)
            record(
                session, actor, "reply.queued", workspace_id=conv.workspace_id, conversation_id=conv.id,
                message_id=msg.id, at=now, public=msg.is_public, approval_id=row.id,
            )  # fmt: skip
        else:
            msg.delivery, msg.delivery_error = "rejected", reason
        _touch(conv, now)
        record(
            session, actor, f"approval.{row.status}", workspace_id=conv.workspace_id, conversation_id=conv.id,
            message_id=msg.id, at=now, approval_id=row.id, requester_id=row.requester_id,
            waited_seconds=waited, reason=reason,
        )  # fmt: skip
        requester = session.get(m.Agent, row.requester_id)
        out = approval_out(row, msg.text, requester.name if requester else None)
    if approve:
        rt.wake("outbox")
    rt.bus.publish(
        "agent.notice",
        {"agent_id": out["requester_id"], "kind": f"approval.{out['status']}", "approval_id": approval_id,
         "conversation_id": out["conversation_id"], "reason": reason},
    )  # fmt: skip
    rt.bus.publish("conversations.changed", {"ids": [out["conversation_id"]], "kind": "approval"})
    return out
