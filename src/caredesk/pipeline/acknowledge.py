"""The pipeline stage that queues the automatic acknowledgement (rules: routing/acknowledge.py)."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from caredesk.actions import outbound
from caredesk.connectors import length, registry
from caredesk.domain.calendar import BusinessCalendar
from caredesk.domain.types import Capability, Direction, OutboundReply, Status
from caredesk.pipeline.core import Item, StageContext
from caredesk.routing import acknowledge
from caredesk.storage import models as m
from caredesk.storage.bulk import insert_rows


class _Workspace:
    """What one workspace's acknowledgements need, read once per batch."""

    def __init__(self, ctx: StageContext, workspace_id: int) -> None:
        ws = ctx.session.get(m.Workspace, workspace_id)
        self.settings = acknowledge.settings_of(dict(ws.settings or {}) if ws else {})
        self.calendars: dict[int, BusinessCalendar] = {}
        self.online = False
        self.last_change = None
        if not self.settings["enabled"]:
            return
        rows = ctx.session.scalars(
            sa.select(m.BusinessCalendarRow).where(m.BusinessCalendarRow.workspace_id == workspace_id)
        )
        self.calendars = {r.id: BusinessCalendar.from_settings(r.settings()) for r in rows}
        members = (
            sa.select(m.Agent.presence, m.Agent.presence_changed_at)
            .join(m.Membership, m.Membership.agent_id == m.Agent.id)
            .where(m.Membership.workspace_id == workspace_id, m.Agent.active, m.Membership.role != "analyst")
        )
        for presence, changed in ctx.session.execute(members):
            self.online = self.online or presence == "online"
            if changed is not None and (self.last_change is None or changed > self.last_change):
                self.last_change = changed

    def calendar_for(
        self, ctx: StageContext, conv: m.Conversation, channel: m.Channel
    ) -> BusinessCalendar | None:
        team = ctx.session.get(m.Team, conv.team_id) if conv.team_id else None
        for cid in (channel.calendar_id, team.calendar_id if team else None):
            if cid is not None and cid in self.calendars:
                return self.calendars[cid]
        return None


class Acknowledge:
    name = "acknowledge"

    def process(self, ctx: StageContext, items: list[Item]) -> None:
        workspaces: dict[int, _Workspace] = {}
        events: list[dict[str, Any]] = []
        for item in items:
            ev, conv, msg = item.event, item.conversation, item.message
            if (
                not item.live
                or conv is None
                or msg is None
                or ev.direction != Direction.IN
                or ev.listening
                or conv.status == Status.RESOLVED.value
            ):
                continue
            if conv.workspace_id not in workspaces:
                workspaces[conv.workspace_id] = _Workspace(ctx, conv.workspace_id)
            ws = workspaces[conv.workspace_id]
            if not ws.settings["enabled"]:
                continue
            channel = item.channel
            decision = acknowledge.decide(
                at=min(ev.created_at, ctx.now),
                now=ctx.now,
                calendar=ws.calendar_for(ctx, conv, channel),
                anyone_online=ws.online,
                last_presence_change=ws.last_change,
                language=conv.language or item.triage.get("language"),
                settings=ws.settings,
            )
            if decision is None or decision[0] == conv.ack_period:
                continue
            period, text = decision
            queued = _queue(ctx, conv, channel, msg, text)
            if queued is None:
                continue
            conv.ack_period = period
            events.append(
                {
                    "workspace_id": conv.workspace_id,
                    "at": ctx.now,
                    "kind": "reply.queued",
                    "actor_type": "system",
                    "actor_id": None,
                    "conversation_id": conv.id,
                    "message_id": queued.id,
                    "data": {"public": queued.is_public, "automatic": True, "period": period},
                }
            )
        if events:
            insert_rows(ctx.session, m.Event, events)


def _queue(
    ctx: StageContext, conv: m.Conversation, channel: m.Channel, target: m.Message, text: str
) -> m.Message | None:
    """An automatic reply to `target`, in its visibility, queued for the sender; None if it cannot go."""
    spec = registry.get(channel.connector).spec
    public = target.is_public
    needed = Capability.PUBLIC_REPLY if public else Capability.PRIVATE_REPLY
    if needed not in spec.capabilities:
        return None
    rule = spec.length_rule.public if public else spec.length_rule.private
    if not length.count(rule, text).valid:
        return None
    key = uuid.uuid4().hex
    request = OutboundReply(
        idempotency_key=key,
        text=text,
        public=public,
        in_reply_to=target.external_id,
        thread=target.thread,
        recipient=outbound.recipient_of(ctx.session, conv, channel),
        subject=conv.subject,
        automatic=True,
    )
    return outbound.add_message(ctx.session, conv, request, ctx.now, language=conv.language)
