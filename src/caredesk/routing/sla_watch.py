"""SLA warnings and breaches, raised once per due time, and what a breach sets off (rules: docs/metrics.md).

A scan (the timers worker, every 30 s) looks at every active conversation with a due time. For each clock
(first reply, next reply, resolution) it raises `sla.warning` once when the due time is less than the
policy's `warn_before_minutes` away, and `sla.breached` once when it has passed. A new due time (the next
reply's, or one recomputed after a pause or a policy change) can be warned about and breached again. A
breach applies the policy's `escalation`: `raise_priority` points (with the reason `sla_breach`),
`reassign` (an owner who is not online loses the conversation to the queue) and `notify_supervisors`
(the supervisors' ids go with the event, and on the bus as `sla.breached`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from caredesk.domain.types import ACTIVE_STATUSES, Presence, Role
from caredesk.routing.dispatch import dispatch
from caredesk.storage import models as m

CLOCKS = ("first_reply", "next_reply", "resolution")
_LOOKAHEAD = timedelta(hours=24)  # the longest warning a policy may ask for


def _due(conv: m.Conversation, clock: str) -> datetime | None:
    value: datetime | None = getattr(conv, f"{clock}_due_at")
    return value


def scan(session: Session, now: datetime) -> list[dict[str, Any]]:
    """Raise what is due; returns the bus notifications to publish after commit."""
    due_soon = sa.or_(*(getattr(m.Conversation, f"{c}_due_at") <= now + _LOOKAHEAD for c in CLOCKS))
    convs = session.scalars(
        sa.select(m.Conversation)
        .where(m.Conversation.status.in_([s.value for s in ACTIVE_STATUSES]), due_soon)
        .order_by(m.Conversation.id)
    ).all()
    policies: dict[int, m.SlaPolicy | None] = {}
    notices: list[dict[str, Any]] = []
    requeue: set[int] = set()
    for conv in convs:
        if conv.sla_policy_id is None:
            continue
        if conv.sla_policy_id not in policies:
            policies[conv.sla_policy_id] = session.get(m.SlaPolicy, conv.sla_policy_id)
        policy = policies[conv.sla_policy_id]
        if policy is None:
            continue
        alerts = {k: dict(v) for k, v in (conv.sla_alerts or {}).items()}
        for clock in CLOCKS:
            due = _due(conv, clock)
            if due is None:
                continue
            state = alerts.get(clock, {})
            if state.get("due") != due.isoformat():
                state = {"due": due.isoformat()}
            if now >= due and not state.get("breached"):
                state["breached"] = state["warned"] = True
                notices.append(_breach(session, conv, policy, clock, due, now, requeue))
            elif (
                now < due
                and now >= due - timedelta(minutes=policy.warn_before_minutes)
                and not state.get("warned")
            ):
                state["warned"] = True
                _event(
                    session, conv, now, "sla.warning", clock=clock, due=due.isoformat(), policy_id=policy.id
                )
                notices.append({"kind": "sla.warning", "conversation_id": conv.id, "clock": clock})
            alerts[clock] = state
        if alerts != (conv.sla_alerts or {}):
            conv.sla_alerts = alerts
    if requeue:
        session.flush()
        for workspace_id in sorted(requeue):
            dispatch(session, workspace_id, now)
    return notices


def _breach(
    session: Session,
    conv: m.Conversation,
    policy: m.SlaPolicy,
    clock: str,
    due: datetime,
    now: datetime,
    requeue: set[int],
) -> dict[str, Any]:
    escalation = dict(policy.escalation or {})
    done: dict[str, Any] = {}
    points = int(escalation.get("raise_priority") or 0)
    if points:
        conv.priority = min(100, conv.priority + points)
        conv.priority_reasons = [*(conv.priority_reasons or []), {"signal": "sla_breach", "points": points}]
        done["raised_priority"] = points
    if escalation.get("reassign") and conv.assignee_id is not None:
        owner = session.get(m.Agent, conv.assignee_id)
        if owner is None or owner.presence != Presence.ONLINE.value:
            done["unassigned"] = conv.assignee_id
            conv.assignee_id = None
            requeue.add(conv.workspace_id)
    if escalation.get("notify_supervisors"):
        rows = session.execute(
            sa.select(m.Membership.agent_id, m.Membership.role).where(
                m.Membership.workspace_id == conv.workspace_id
            )
        ).all()
        done["notified"] = sorted(a for a, role in rows if Role(role).allows(Role.SUPERVISOR))
    conv.updated_at = now
    conv.version = (conv.version or 1) + 1
    _event(session, conv, now, "sla.breached", clock=clock, due=due.isoformat(), policy_id=policy.id, **done)
    return {"kind": "sla.breached", "conversation_id": conv.id, "clock": clock, **done}


def _event(session: Session, conv: m.Conversation, now: datetime, kind: str, **data: Any) -> None:
    session.add(
        m.Event(
            workspace_id=conv.workspace_id,
            at=now,
            kind=kind,
            actor_type="system",
            conversation_id=conv.id,
            data=data,
        )
    )
