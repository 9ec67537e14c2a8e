"""Read side: the inbox list (filters, keyset pagination) and a conversation with its contact's history."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from caredesk.domain.errors import InvalidInput
from caredesk.domain.types import ACTIVE_STATUSES, Role, Status
from caredesk.storage import models as m

C = m.Conversation

# sort name -> ((column, descending), ...); the last column is unique so pages never overlap or skip.
SORTS: dict[str, tuple[tuple[Any, bool], ...]] = {
    "priority": ((C.priority, True), (C.id, False)),
    "newest": ((C.last_message_at, True), (C.id, True)),
    "oldest": ((C.last_message_at, False), (C.id, False)),
}


@dataclass(frozen=True, slots=True)
class ConversationFilter:
    workspace_id: int
    statuses: tuple[str, ...] = ()
    assignee_id: int | None = None
    unassigned: bool = False
    team_id: int | None = None
    channel_id: int | None = None
    min_priority: int | None = None
    language: str | None = None
    tag: str | None = None
    text: str | None = None
    direct: bool | None = None  # False: listening results (mentions without @), True: addressed to the brand
    team_ids: tuple[int, ...] = ()


def encode_cursor(values: list[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: tuple[tuple[Any, bool], ...]) -> list[Any]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(sort):
            raise ValueError
        out = []
        for (col, _desc), value in zip(sort, raw, strict=True):
            if isinstance(col.type, m.UTCDateTime):
                out.append(datetime.fromisoformat(value))
            elif isinstance(value, int) and not isinstance(value, bool):
                out.append(value)
            else:
                raise ValueError
        return out
    except (ValueError, TypeError, json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidInput("cursor is not valid (use the next_cursor of a previous page)") from None


def _after(sort: tuple[tuple[Any, bool], ...], values: list[Any]) -> sa.ColumnElement[bool]:
    """Rows strictly after `values` in the sort order (mixed directions allowed)."""
    clauses = []
    for i, (col, desc) in enumerate(sort):
        equal = [sort[j][0] == values[j] for j in range(i)]
        beyond = col < values[i] if desc else col > values[i]
        clauses.append(sa.and_(*equal, beyond))
    return sa.or_(*clauses)


def _conditions(f: ConversationFilter) -> list[Any]:
    """The WHERE clauses of `f` (the text search needs the contact joined)."""
    where: list[Any] = [C.workspace_id == f.workspace_id]
    if f.statuses:
        bad = set(f.statuses) - {s.value for s in Status}
        if bad:
            raise InvalidInput(f"unknown status {', '.join(sorted(bad))}")
        where.append(C.status.in_(f.statuses))
    if f.unassigned:
        where.append(C.assignee_id.is_(None))
    elif f.assignee_id is not None:
        where.append(C.assignee_id == f.assignee_id)
    if f.team_id is not None:
        where.append(C.team_id == f.team_id)
    if f.team_ids:
        where.append(C.team_id.in_(f.team_ids))
    if f.direct is not None:
        where.append(C.is_direct.is_(f.direct))
    if f.channel_id is not None:
        where.append(C.channel_id == f.channel_id)
    if f.min_priority is not None:
        where.append(C.priority >= f.min_priority)
    if f.language:
        where.append(C.language == f.language.lower())
    if f.tag:
        where.append(
            sa.exists().where(
                m.ConversationTag.conversation_id == C.id,
                m.ConversationTag.tag_id == m.Tag.id,
                m.Tag.name == f.tag.lower(),
                m.Tag.workspace_id == f.workspace_id,
            )
        )
    if f.text:
        pattern = "%" + f.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append(
            sa.or_(
                m.Contact.name.ilike(pattern, escape="\\"),
                sa.exists().where(
                    m.Message.conversation_id == C.id, m.Message.text.ilike(pattern, escape="\\")
                ),
            )
        )
    return where


def filtered_query(f: ConversationFilter) -> sa.Select[Any]:
    """The conversations `f` selects, with their contact's and channel's names, unordered."""
    return (
        sa.select(
            C,
            m.Contact.name.label("contact_name"),
            m.Channel.name.label("channel_name"),
            m.Channel.network.label("network"),
        )
        .outerjoin(m.Contact, m.Contact.id == C.contact_id)
        .join(m.Channel, m.Channel.id == C.channel_id)
        .where(*_conditions(f))
    )


def count_conversations(session: Session, f: ConversationFilter) -> int:
    """How many conversations `f` selects (no joins unless the text search needs the contact)."""
    query = sa.select(sa.func.count()).select_from(C)
    if f.text:
        query = query.outerjoin(m.Contact, m.Contact.id == C.contact_id)
    return int(session.scalar(query.where(*_conditions(f))) or 0)


def list_conversations(
    session: Session,
    f: ConversationFilter,
    *,
    sort: str = "priority",
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    if sort not in SORTS:
        raise InvalidInput(f"sort must be one of {', '.join(SORTS)}")
    order = SORTS[sort]
    query = filtered_query(f)
    if cursor:
        query = query.where(_after(order, decode_cursor(cursor, order)))
    query = query.order_by(*[col.desc() if desc else col.asc() for col, desc in order]).limit(limit + 1)
    rows = session.execute(query).all()
    page = rows[:limit]
    tags = _tags_for(session, [r[0].id for r in page])
    items = [
        conversation_summary(r[0], r.contact_name, r.channel_name, r.network, tags.get(r[0].id, []))
        for r in page
    ]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1][0]
        next_cursor = encode_cursor([getattr(last, col.key) for col, _ in order])
    return items, next_cursor


def latest_inbound(session: Session, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Each conversation's newest customer message: its text, sentiment and triage (for the inbox rows)."""
    if not ids:
        return {}
    newest = (
        sa.select(sa.func.max(m.Message.id))
        .where(m.Message.conversation_id.in_(ids), m.Message.direction == "in")
        .group_by(m.Message.conversation_id)
    )
    rows = session.execute(
        sa.select(m.Message.conversation_id, m.Message.text, m.Message.sentiment, m.Message.triage).where(
            m.Message.id.in_(newest)
        )
    ).all()
    return {
        cid: {"text": text, "sentiment": sentiment, "triage": triage or {}}
        for cid, text, sentiment, triage in rows
    }


def _tags_for(session: Session, ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    if not ids:
        return out
    for cid, name in session.execute(
        sa.select(m.ConversationTag.conversation_id, m.Tag.name)
        .join(m.Tag, m.Tag.id == m.ConversationTag.tag_id)
        .where(m.ConversationTag.conversation_id.in_(ids))
        .order_by(m.Tag.name)
    ):
        out.setdefault(cid, []).append(name)
    return out


def conversation_summary(
    c: m.Conversation, contact_name: str | None, channel_name: str, network: str, tags: list[str]
) -> dict[str, Any]:
    return {
        "id": c.id,
        "workspace_id": c.workspace_id,
        "channel_id": c.channel_id,
        "channel_name": channel_name,
        "network": network,
        "contact_id": c.contact_id,
        "contact_name": contact_name,
        "status": c.status,
        "priority": c.priority,
        "priority_reasons": c.priority_reasons,
        "assignee_id": c.assignee_id,
        "team_id": c.team_id,
        "is_public": c.is_public,
        "is_direct": c.is_direct,
        "subject": c.subject,
        "language": c.language,
        "topic": c.topic,
        "first_inbound_at": c.first_inbound_at,
        "first_reply_at": c.first_reply_at,
        "last_message_at": c.last_message_at,
        "waiting_since": c.waiting_since,
        "waiting_count": c.waiting_count,
        "first_reply_due_at": c.first_reply_due_at,
        "next_reply_due_at": c.next_reply_due_at,
        "resolution_due_at": c.resolution_due_at,
        "sla_policy_id": c.sla_policy_id,
        "snoozed_until": c.snoozed_until,
        "resolved_at": c.resolved_at,
        "erased_at": c.erased_at,  # its personal data was erased (texts are empty)
        "message_count": c.message_count,
        "tags": tags,
        "external_ticket": c.external_ticket or None,
        "version": c.version,
    }


def message_view(msg: m.Message) -> dict[str, Any]:
    return {
        "id": msg.id,
        "conversation_id": msg.conversation_id,
        "channel_id": msg.channel_id,
        "direction": msg.direction,
        "is_public": msg.is_public,
        "is_automatic": msg.is_automatic,
        "author_handle": msg.author_handle,
        "author_name": msg.author_name,
        "agent_id": msg.agent_id,
        "external_id": msg.external_id,
        "in_reply_to": msg.in_reply_to,
        "text": msg.text,
        "language": msg.language,
        "sentiment": msg.sentiment,
        "triage": msg.triage,
        "listening": msg.listening,
        "delivery": msg.delivery,
        "delivery_error": msg.delivery_error,
        "created_at": msg.created_at,
        "sent_at": msg.sent_at,
    }


HISTORY_LIMIT = 200


def conversation_detail(session: Session, conv: m.Conversation) -> dict[str, Any]:
    channel = session.get(m.Channel, conv.channel_id)
    assert channel is not None
    contact = session.get(m.Contact, conv.contact_id) if conv.contact_id else None
    summary = conversation_summary(
        conv,
        contact.name if contact else None,
        channel.name,
        channel.network,
        _tags_for(session, [conv.id]).get(conv.id, []),
    )
    messages = session.scalars(
        sa.select(m.Message)
        .where(m.Message.conversation_id == conv.id)
        .order_by(m.Message.created_at, m.Message.id)
    )
    notes = session.execute(
        sa.select(m.Note, m.Agent.name)
        .join(m.Agent, m.Agent.id == m.Note.agent_id)
        .where(m.Note.conversation_id == conv.id)
        .order_by(m.Note.created_at)
    )
    history: list[dict[str, Any]] = []
    identities: list[dict[str, Any]] = []
    if contact is not None:
        identities = [
            {"kind": i.kind, "value": i.value, "handle": i.handle}
            for i in session.scalars(
                sa.select(m.ContactIdentity).where(m.ContactIdentity.contact_id == contact.id)
            )
        ]
        others = session.scalars(
            sa.select(m.Message)
            .join(C, C.id == m.Message.conversation_id)
            .where(C.contact_id == contact.id, C.id != conv.id)
            .order_by(m.Message.created_at.desc(), m.Message.id.desc())
            .limit(HISTORY_LIMIT)
        )
        history = [message_view(x) for x in reversed(list(others))]
    return {
        **summary,
        "contact": {"id": contact.id, "name": contact.name, "identities": identities} if contact else None,
        "messages": [message_view(x) for x in messages],
        "notes": [
            {
                "id": n.id,
                "agent_id": n.agent_id,
                "agent_name": name,
                "text": n.text,
                "created_at": n.created_at,
            }
            for n, name in notes
        ],
        "history": history,
    }


AT_RISK = timedelta(minutes=15)


def supervisor_figures(session: Session, workspace_id: int, now: datetime) -> dict[str, Any]:
    """What a supervisor watches: the waiting queue per team and network (size, oldest wait), SLAs on
    time, at risk (due within 15 minutes) and breached, each agent's load against capacity, and the
    replies waiting for approval. Definitions in docs/metrics.md (Supervisor view)."""
    waiting = session.execute(
        sa.select(
            C.id,
            C.team_id,
            C.waiting_since,
            C.first_reply_due_at,
            C.next_reply_due_at,
            C.assignee_id,
            m.Channel.network,
            m.Contact.name,
        )
        .join(m.Channel, m.Channel.id == C.channel_id)
        .outerjoin(m.Contact, m.Contact.id == C.contact_id)
        .where(C.workspace_id == workspace_id, C.status == Status.OPEN.value, C.waiting_since.is_not(None))
    ).all()
    teams = dict(
        session.execute(sa.select(m.Team.id, m.Team.name).where(m.Team.workspace_id == workspace_id)).all()
    )
    by_team: dict[str, dict[str, Any]] = {}
    by_network: dict[str, dict[str, Any]] = {}
    sla = {"on_time": 0, "at_risk": 0, "breached": 0}
    urgent: list[dict[str, Any]] = []
    for row in waiting:
        for key, table in ((teams.get(row.team_id, "No team"), by_team), (row.network, by_network)):
            entry = table.setdefault(key, {"name": key, "waiting": 0, "oldest": None})
            entry["waiting"] += 1
            if entry["oldest"] is None or row.waiting_since < entry["oldest"]:
                entry["oldest"] = row.waiting_since
        dues = [d for d in (row.first_reply_due_at, row.next_reply_due_at) if d is not None]
        if not dues:
            continue
        due = min(dues)
        state = "breached" if due <= now else "at_risk" if due - now <= AT_RISK else "on_time"
        sla[state] += 1
        if state != "on_time":
            urgent.append(
                {"id": row.id, "customer": row.name, "due": due, "state": state, "network": row.network}
            )
    urgent.sort(key=lambda u: u["due"])
    members = session.execute(
        sa.select(m.Agent.id, m.Agent.name, m.Agent.presence, m.Agent.max_concurrent, m.Membership.role)
        .join(m.Membership, m.Membership.agent_id == m.Agent.id)
        .where(m.Membership.workspace_id == workspace_id, m.Agent.active)
        .order_by(m.Agent.name)
    ).all()
    loads = dict(
        session.execute(
            sa.select(C.assignee_id, sa.func.count())
            .where(
                C.workspace_id == workspace_id,
                C.status.in_([s.value for s in ACTIVE_STATUSES]),
                C.assignee_id.is_not(None),
            )
            .group_by(C.assignee_id)
        ).all()
    )
    agents = [
        {
            "id": a.id,
            "name": a.name,
            "presence": a.presence,
            "load": int(loads.get(a.id, 0)),
            "capacity": a.max_concurrent,
        }
        for a in members
        if Role(a.role).allows(Role.AGENT)
    ]
    approvals = session.execute(
        sa.select(sa.func.count(), sa.func.min(m.Approval.requested_at)).where(
            m.Approval.workspace_id == workspace_id, m.Approval.status == "pending"
        )
    ).one()
    return {
        "waiting": len(waiting),
        "oldest": min((r.waiting_since for r in waiting), default=None),
        "by_team": sorted(by_team.values(), key=lambda e: (-e["waiting"], e["name"])),
        "by_network": sorted(by_network.values(), key=lambda e: (-e["waiting"], e["name"])),
        "sla": sla,
        "urgent": urgent[:20],
        "agents": agents,
        "approvals": {"pending": int(approvals[0] or 0), "oldest": approvals[1]},
    }
