"""Facts reports read instead of raw messages: one row per conversation (`conversation_facts`) and one
per customer message (`message_facts`), rebuilt for every conversation a write transaction touched,
inside that transaction, so they are never behind, ahead or half-written. Definitions: docs/metrics.md.

Two listeners on the write sessions (storage/db.py) drive it: `after_flush` notes the conversations
whose messages or own row changed (added, updated, deleted, merged away), and code that changes them
with bulk statements says so with `touch`; `before_commit` rebuilds their facts from the messages, the
conversation and its calendar (the channel's, else its team's: the one SLA policies use). Business-hours
figures use the calendar in force when the conversation last changed, so changing the hours today does
not rewrite history; `caredesk report rebuild-facts` recomputes everything with today's calendars.
The same transaction moves the roll-ups (analytics/rollups.py) by the difference.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, UOWTransaction

from caredesk.analytics import rollups
from caredesk.domain.calendar import BusinessCalendar, add_working_time, working_time
from caredesk.domain.clock import as_utc
from caredesk.storage import models as m
from caredesk.storage.bulk import insert_rows

_PENDING = "caredesk.facts.pending"
_CALENDARS = "caredesk.facts.calendars"
_SLAS = "caredesk.facts.slas"
_CHUNK = 500


def after_flush(session: Session, _flush: UOWTransaction) -> None:
    pending: set[int] = session.info.setdefault(_PENDING, set())
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, m.Message) and obj.conversation_id is not None:
            pending.add(obj.conversation_id)
        elif isinstance(obj, m.Conversation) and obj.id is not None:
            pending.add(obj.id)


def touch(session: Session, conversation_ids: Iterable[int]) -> None:
    """Rebuild these conversations' facts at commit (for changes made with bulk statements)."""
    session.info.setdefault(_PENDING, set()).update(conversation_ids)


def before_commit(session: Session) -> None:
    session.flush()  # commit flushes only after this hook: flush now so every change is noted
    for _ in range(3):  # rebuilding may flush what is left
        ids = session.info.pop(_PENDING, set())
        if not ids:
            return
        rebuild(session, ids)
    session.info.pop(_PENDING, None)


def rebuild(session: Session, conversation_ids: Iterable[int], *, roll_up: bool = True) -> None:
    """Recompute these conversations' facts; with `roll_up`, move the roll-ups by the difference (without,
    the caller rebuilds the roll-ups: rollups.rebuild)."""
    ids = sorted(set(conversation_ids))
    with session.no_autoflush:
        for start in range(0, len(ids), _CHUNK):
            _rebuild_chunk(session, ids[start : start + _CHUNK], roll_up)


@dataclass
class _Msg:
    id: int
    direction: str
    counts_as_reply: bool
    automatic: bool
    created_at: datetime
    at: datetime  # a reply's publication time (the network's), a customer message's creation
    external_id: str | None
    in_reply_to: str | None
    is_public: bool
    language: str | None
    sentiment: str | None


@dataclass
class _Wait:
    first: _Msg
    number: int
    ended_by: _Msg | None = None
    messages: list[_Msg] = field(default_factory=list)


def _calendars(session: Session, workspace_ids: set[int]) -> dict[str, Any]:
    """Channel and team calendars of the workspaces, cached for the transaction."""
    cache: dict[str, Any] = session.info.setdefault(
        _CALENDARS, {"ws": set(), "channel": {}, "team": {}, "cal": {}}
    )
    missing = workspace_ids - cache["ws"]
    if missing:
        cache["ws"] |= missing
        for cid, cal in session.execute(
            sa.select(m.Channel.id, m.Channel.calendar_id).where(m.Channel.workspace_id.in_(missing))
        ):
            cache["channel"][cid] = cal
        for tid, cal in session.execute(
            sa.select(m.Team.id, m.Team.calendar_id).where(m.Team.workspace_id.in_(missing))
        ):
            cache["team"][tid] = cal
        for row in session.scalars(
            sa.select(m.BusinessCalendarRow).where(m.BusinessCalendarRow.workspace_id.in_(missing))
        ):
            cache["cal"][row.id] = BusinessCalendar.from_settings(row.settings())
    return cache


def _sla_contexts(session: Session, workspace_ids: set[int]) -> dict[int, Any]:
    """The SLA policies (with their calendars) of the workspaces, cached for the transaction."""
    from caredesk.routing import sla as sla_rules  # noqa: PLC0415 (routing reads storage; storage.db loads us)

    cache: dict[int, Any] = session.info.setdefault(_SLAS, {})
    for ws in workspace_ids - cache.keys():
        cache[ws] = sla_rules.context_for(session, ws)
    return cache


def _first_reply_target(ctx: Any, conv: m.Conversation, started: datetime | None) -> datetime | None:
    """When the first reply was due under the conversation's SLA policy: kept after the reply, unlike the
    conversation's live due time, so attainment can be counted."""
    if ctx is None or started is None or conv.sla_policy_id is None:
        return None
    policy = next((p for p in ctx.policies if p.id == conv.sla_policy_id), None)
    if policy is None or policy.first_reply_minutes is None:
        return None
    calendar = ctx.calendar_for(policy, conv)
    return add_working_time(calendar, as_utc(started), timedelta(minutes=policy.first_reply_minutes))


def _calendar_for(cache: dict[str, Any], channel_id: int, team_id: int | None) -> BusinessCalendar | None:
    for cal_id in (cache["channel"].get(channel_id), cache["team"].get(team_id) if team_id else None):
        if cal_id is not None and cal_id in cache["cal"]:
            cal: BusinessCalendar = cache["cal"][cal_id]
            return cal
    return None


def _seconds(
    calendar: BusinessCalendar | None, start: datetime | None, end: datetime | None
) -> tuple[float | None, float | None]:
    """(calendar seconds, business seconds) from start to end; business = calendar without a calendar."""
    if start is None or end is None:
        return None, None
    start, end = as_utc(start), as_utc(end)
    plain = max((end - start).total_seconds(), 0.0)
    if calendar is None:
        return plain, plain
    return plain, working_time(calendar, start, end).total_seconds() if end > start else 0.0


def _rebuild_chunk(session: Session, ids: list[int], roll_up: bool) -> None:
    msg = m.Message
    published = sa.or_(msg.delivery.is_(None), msg.delivery == "sent")
    rows = session.execute(
        sa.select(
            msg.conversation_id, msg.id, msg.direction, sa.and_(~msg.is_automatic, published),
            msg.is_automatic, msg.created_at, sa.func.coalesce(msg.sent_at, msg.created_at),
            msg.external_id, msg.in_reply_to,
            msg.is_public, msg.language, msg.sentiment,
        ).where(msg.conversation_id.in_(ids))
    ).all()  # fmt: skip
    by_conv: dict[int, list[_Msg]] = defaultdict(list)
    for cid, *values in rows:
        by_conv[cid].append(_Msg(*values))
    reopened = dict(
        session.execute(
            sa.select(m.Event.conversation_id, sa.func.count())
            .where(m.Event.conversation_id.in_(ids), m.Event.kind == "conversation.reopened")
            .group_by(m.Event.conversation_id)
        ).all()
    )
    approvals: dict[int, list[float]] = defaultdict(list)
    for cid, requested, decided in session.execute(
        sa.select(m.Approval.conversation_id, m.Approval.requested_at, m.Approval.decided_at)
        .where(m.Approval.conversation_id.in_(ids), m.Approval.decided_at.is_not(None))
        .order_by(m.Approval.requested_at, m.Approval.id)
    ):
        approvals[cid].append(max((as_utc(decided) - as_utc(requested)).total_seconds(), 0.0))
    convs = list(session.scalars(sa.select(m.Conversation).where(m.Conversation.id.in_(ids))))
    networks = dict(
        session.execute(
            sa.select(m.Channel.id, m.Channel.network).where(m.Channel.id.in_({c.channel_id for c in convs}))
        ).all()
    )
    cache = _calendars(session, {c.workspace_id for c in convs})
    slas = _sla_contexts(session, {c.workspace_id for c in convs})
    changes: dict[int, rollups.Rollup] = {}
    if roll_up:
        rollups.add_facts(session, changes, *rollups.facts_of(session, ids), sign=-1)
    session.execute(sa.delete(m.MessageFact).where(m.MessageFact.conversation_id.in_(ids)))
    session.execute(sa.delete(m.ConversationFact).where(m.ConversationFact.conversation_id.in_(ids)))
    conv_rows: list[dict[str, Any]] = []
    msg_rows: list[dict[str, Any]] = []
    for conv in convs:
        calendar = _calendar_for(cache, conv.channel_id, conv.team_id)
        messages = by_conv.get(conv.id, [])
        row = _conversation_row(
            conv, messages, calendar, networks.get(conv.channel_id, ""), reopened.get(conv.id, 0)
        )
        row["first_reply_due_at"] = _first_reply_target(slas.get(conv.workspace_id), conv, row["started_at"])
        row["approval_s"] = approvals.get(conv.id, [])
        conv_rows.append(row)
        msg_rows.extend(_message_rows(conv, messages, calendar))
    insert_rows(session, m.ConversationFact, conv_rows)
    for start in range(0, len(msg_rows), 2000):
        insert_rows(session, m.MessageFact, msg_rows[start : start + 2000])
    if roll_up:
        rollups.add_facts(session, changes, conv_rows, msg_rows, sign=1)
    for ws_id, change in sorted(changes.items()):
        change.save(session, ws_id)


def _conversation_row(
    conv: m.Conversation, messages: list[_Msg], calendar: BusinessCalendar | None, network: str, reopens: int
) -> dict[str, Any]:
    inbound = [x for x in messages if x.direction == "in"]
    replies = [x for x in messages if x.direction != "in" and x.counts_as_reply]
    # the same rule as the conversation's own clocks (storage/stats.py), from the same messages
    first_in = min((x.created_at for x in inbound), default=None)
    opening = min(inbound, key=lambda x: (x.created_at, x.id), default=None)
    first_reply = min((x.at for x in replies if first_in is not None and x.at >= first_in), default=None)
    frt, frt_bh = _seconds(calendar, first_in, first_reply)
    resolved = conv.resolved_at if conv.status == "resolved" else None
    res, res_bh = _seconds(calendar, first_in, resolved)
    return {
        "conversation_id": conv.id,
        "workspace_id": conv.workspace_id,
        "channel_id": conv.channel_id,
        "network": network,
        "is_public": conv.is_public,
        "is_direct": conv.is_direct,
        "team_id": conv.team_id,
        "assignee_id": conv.assignee_id,
        "language": conv.language,
        "topic": conv.topic,
        "priority": conv.priority,
        "status": conv.status,
        "started_at": first_in,
        "first_reply_at": first_reply,
        "first_response_s": frt,
        "first_response_bh_s": frt_bh,
        "resolved_at": resolved,
        "resolution_s": res,
        "resolution_bh_s": res_bh,
        "inbound_count": len(inbound),
        "reply_count": len(replies),
        "automatic_count": sum(1 for x in messages if x.automatic),
        "reopen_count": reopens,
        "moved_private": opening is not None and opening.is_public and any(not r.is_public for r in replies),
    }


def _message_rows(
    conv: m.Conversation, messages: list[_Msg], calendar: BusinessCalendar | None
) -> list[dict[str, Any]]:
    inbound = [x for x in messages if x.direction == "in"]
    replies = sorted(
        (x for x in messages if x.direction != "in" and x.counts_as_reply), key=lambda x: (x.at, x.id)
    )
    # the first agent reply to each message (by its reply link)
    first_to: dict[str, _Msg] = {}
    for r in replies:
        if r.in_reply_to and r.in_reply_to not in first_to:
            first_to[r.in_reply_to] = r
    # waits: a customer message with no agent reply since the last one starts a wait; a reply ends it
    timeline = sorted([(x.created_at, 0, x.id, x) for x in inbound] + [(x.at, 1, x.id, x) for x in replies])
    started: dict[int, _Wait] = {}
    current: _Wait | None = None
    for _at, kind, _id, x in timeline:
        if kind == 0 and current is None:
            current = _Wait(first=x, number=len(started) + 1)
            started[x.id] = current
        elif kind == 1 and current is not None:
            current.ended_by = x
            current = None
    out = []
    for x in inbound:
        reply = first_to.get(x.external_id or "") if x.external_id else None
        if reply is not None and reply.at < x.created_at:
            reply = None  # a reply cannot come before what it answers; clocks that disagree say nothing
        reply_s, reply_bh = _seconds(calendar, x.created_at, reply.at if reply else None)
        wait = started.get(x.id)
        ended = wait.ended_by if wait else None
        response, response_bh = _seconds(calendar, x.created_at, ended.at if ended else None)
        out.append(
            {
                "message_id": x.id,
                "workspace_id": conv.workspace_id,
                "conversation_id": conv.id,
                "channel_id": conv.channel_id,
                "created_at": x.created_at,
                "is_public": x.is_public,
                "is_direct": conv.is_direct,
                "language": x.language,
                "sentiment": x.sentiment,
                "reply_message_id": reply.id if reply else None,
                "replied_at": reply.at if reply else None,
                "reply_s": reply_s,
                "reply_bh_s": reply_bh,
                "wait": wait.number if wait else None,
                "response_s": response,
                "response_bh_s": response_bh,
            }
        )
    return out
