"""Attach an SLA policy to a conversation and keep its due times current, in business or calendar time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from caredesk.domain import sla
from caredesk.domain.calendar import BusinessCalendar, Interval
from caredesk.domain.types import Status
from caredesk.storage import models as m


@dataclass
class SlaContext:
    """A workspace's policies and calendars, read once per batch or action."""

    policies: list[m.SlaPolicy]
    calendars: dict[int, BusinessCalendar] = field(default_factory=dict)
    channel_calendars: dict[int, int | None] = field(default_factory=dict)
    team_calendars: dict[int, int | None] = field(default_factory=dict)

    def calendar_for(self, policy: m.SlaPolicy, conv: m.Conversation) -> BusinessCalendar | None:
        """The policy's calendar, else the channel's, else the team's (None: calendar time)."""
        if not policy.business_hours:
            return None
        for cid in (
            policy.calendar_id,
            self.channel_calendars.get(conv.channel_id),
            self.team_calendars.get(conv.team_id) if conv.team_id else None,
        ):
            if cid is not None and cid in self.calendars:
                return self.calendars[cid]
        return None


def calendar_of(session: Session, channel_id: int, team_id: int | None) -> BusinessCalendar | None:
    """A channel's hours: its own calendar, else its team's (the order SLA policies follow too)."""
    channel = session.get(m.Channel, channel_id)
    team = session.get(m.Team, team_id) if team_id else None
    for cid in (channel.calendar_id if channel else None, team.calendar_id if team else None):
        row = session.get(m.BusinessCalendarRow, cid) if cid else None
        if row is not None:
            return BusinessCalendar.from_settings(row.settings())
    return None


def context_for(session: Session, workspace_id: int) -> SlaContext:
    policies = list(
        session.scalars(
            sa.select(m.SlaPolicy)
            .where(m.SlaPolicy.workspace_id == workspace_id)
            .order_by(m.SlaPolicy.position, m.SlaPolicy.id)
        )
    )
    ctx = SlaContext(policies)
    if not any(p.business_hours for p in policies):
        return ctx
    rows = session.scalars(
        sa.select(m.BusinessCalendarRow).where(m.BusinessCalendarRow.workspace_id == workspace_id)
    )
    ctx.calendars = {row.id: BusinessCalendar.from_settings(row.settings()) for row in rows}
    ctx.channel_calendars = {
        row[0]: row[1]
        for row in session.execute(
            sa.select(m.Channel.id, m.Channel.calendar_id).where(m.Channel.workspace_id == workspace_id)
        )
    }
    ctx.team_calendars = {
        row[0]: row[1]
        for row in session.execute(
            sa.select(m.Team.id, m.Team.calendar_id).where(m.Team.workspace_id == workspace_id)
        )
    }
    return ctx


def pauses_of(conv: m.Conversation) -> list[Interval]:
    """Closed pause periods; an open one (still pending) is left out: the caller treats it as paused."""
    out: list[Interval] = []
    for start, end in conv.sla_pauses or []:
        if end is not None:
            out.append((datetime.fromisoformat(start), datetime.fromisoformat(end)))
    return out


def open_pause(conv: m.Conversation, now: datetime) -> None:
    pauses = list(conv.sla_pauses or [])
    if not pauses or pauses[-1][1] is not None:
        pauses.append([now.isoformat(), None])
        conv.sla_pauses = pauses


def close_pause(conv: m.Conversation, now: datetime) -> None:
    pauses = list(conv.sla_pauses or [])
    if pauses and pauses[-1][1] is None:
        start = datetime.fromisoformat(pauses[-1][0])
        pauses[-1] = [pauses[-1][0], max(now, start).isoformat()]
        conv.sla_pauses = pauses


def apply(conv: m.Conversation, ctx: SlaContext) -> None:
    policy = next(
        (
            p
            for p in ctx.policies
            if sla.policy_matches(
                p.match,
                channel_id=conv.channel_id,
                is_public=conv.is_public,
                priority=conv.priority,
                language=conv.language,
                team_id=conv.team_id,
                topic=conv.topic,
            )
        ),
        None,
    )
    conv.sla_policy_id = policy.id if policy else None
    if policy is None:
        conv.first_reply_due_at = conv.next_reply_due_at = conv.resolution_due_at = None
        return
    due = sla.due_times(
        sla.Clock(
            first_inbound_at=conv.first_inbound_at,
            first_reply_at=conv.first_reply_at,
            waiting_since=conv.waiting_since,
            resolved=conv.status == Status.RESOLVED.value,
            paused=conv.status == Status.PENDING.value,
            pauses=tuple(pauses_of(conv)),
        ),
        sla.Targets(policy.first_reply_minutes, policy.next_reply_minutes, policy.resolution_minutes),
        ctx.calendar_for(policy, conv),
    )
    conv.first_reply_due_at, conv.next_reply_due_at, conv.resolution_due_at = (
        due.first_reply,
        due.next_reply,
        due.resolution,
    )
