"""Business calendars, SLA policies and the automatic acknowledgement: set by a workspace admin."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from caredesk.actions.base import Actor, get_or_404, record, require
from caredesk.domain.calendar import BusinessCalendar
from caredesk.domain.errors import Conflict, InvalidInput, NotFound
from caredesk.domain.types import ACTIVE_STATUSES, Role
from caredesk.routing import acknowledge
from caredesk.routing import sla as sla_rules
from caredesk.runtime import Runtime
from caredesk.storage import models as m

_MATCH_KEYS = {"channel_ids", "public", "min_priority", "languages", "team_ids", "topics"}


def _calendar_settings(data: dict[str, Any]) -> dict[str, Any]:
    """Checked and normalised calendar fields; InvalidInput names what is wrong."""
    try:
        closed = sorted({date.fromisoformat(str(d)).isoformat() for d in data.get("closed_dates") or []})
    except ValueError:
        raise InvalidInput("closed_dates: dates as YYYY-MM-DD") from None
    settings = {
        "time_zone": str(data.get("time_zone") or "UTC"),
        "week": {day: [list(w) for w in windows] for day, windows in dict(data.get("week") or {}).items()},
        "holiday_country": (data.get("holiday_country") or None),
        "holiday_subdivision": (data.get("holiday_subdivision") or None),
        "closed_dates": closed,
    }
    BusinessCalendar.from_settings(settings)  # raises InvalidInput for an unknown zone, day, time or country
    return settings


def _attach(session: Session, workspace_id: int, calendar_id: int, model: Any, ids: list[int] | None) -> None:
    if ids is None:
        return
    session.execute(
        sa.update(model)
        .where(model.workspace_id == workspace_id, model.calendar_id == calendar_id, model.id.not_in(ids))
        .values(calendar_id=None)
    )
    for row_id in ids:
        row = session.get(model, row_id)
        if row is None or row.workspace_id != workspace_id:
            raise NotFound(f"{model.__tablename__[:-1]} {row_id} not found")
        row.calendar_id = calendar_id


def recompute(session: Session, workspace_id: int) -> int:
    """Due times of the workspace's active conversations, after its policies or calendars changed."""
    ctx = sla_rules.context_for(session, workspace_id)
    convs = session.scalars(
        sa.select(m.Conversation).where(
            m.Conversation.workspace_id == workspace_id,
            m.Conversation.status.in_([s.value for s in ACTIVE_STATUSES]),
        )
    ).all()
    for conv in convs:
        sla_rules.apply(conv, ctx)
    return len(convs)


def calendar_out(session: Session, row: m.BusinessCalendarRow) -> dict[str, Any]:
    teams = session.scalars(
        sa.select(m.Team.id).where(m.Team.calendar_id == row.id).order_by(m.Team.id)
    ).all()
    channels = session.scalars(
        sa.select(m.Channel.id).where(m.Channel.calendar_id == row.id).order_by(m.Channel.id)
    ).all()
    return {
        "id": row.id,
        "name": row.name,
        **row.settings(),
        "team_ids": list(teams),
        "channel_ids": list(channels),
    }


def save_calendar(
    rt: Runtime,
    actor: Actor,
    *,
    workspace_id: int,
    data: dict[str, Any],
    calendar_id: int | None = None,
) -> dict[str, Any]:
    """Create (calendar_id None) or replace a calendar; `team_ids` / `channel_ids` say where it applies."""
    name = str(data.get("name") or "").strip()
    if not name:
        raise InvalidInput("calendar name is empty")
    settings = _calendar_settings(data)
    now = rt.clock.now()
    with rt.db.write() as session:
        require(session, actor, workspace_id, Role.ADMIN)
        clash = session.scalar(
            sa.select(m.BusinessCalendarRow.id).where(
                m.BusinessCalendarRow.workspace_id == workspace_id, m.BusinessCalendarRow.name == name
            )
        )
        if clash is not None and clash != calendar_id:
            raise Conflict(f"calendar {name!r} exists already")
        if calendar_id is None:
            row = m.BusinessCalendarRow(workspace_id=workspace_id, name=name, created_at=now, updated_at=now)
            session.add(row)
        else:
            row = get_or_404(session, m.BusinessCalendarRow, calendar_id, "calendar")
            if row.workspace_id != workspace_id:
                raise NotFound(f"calendar {calendar_id} not found")
            row.name, row.updated_at = name, now
        row.time_zone, row.week = settings["time_zone"], settings["week"]
        row.holiday_country, row.holiday_subdivision = (
            settings["holiday_country"],
            settings["holiday_subdivision"],
        )
        row.closed_dates = settings["closed_dates"]
        session.flush()
        _attach(session, workspace_id, row.id, m.Team, data.get("team_ids"))
        _attach(session, workspace_id, row.id, m.Channel, data.get("channel_ids"))
        session.flush()
        recompute(session, workspace_id)
        kind = "calendar.created" if calendar_id is None else "calendar.updated"
        record(session, actor, kind, workspace_id=workspace_id, at=now, calendar_id=row.id)
        return calendar_out(session, row)


def policy_out(row: m.SlaPolicy) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "position": row.position,
        "match": row.match,
        "first_reply_minutes": row.first_reply_minutes,
        "next_reply_minutes": row.next_reply_minutes,
        "resolution_minutes": row.resolution_minutes,
        "business_hours": row.business_hours,
        "calendar_id": row.calendar_id,
        "warn_before_minutes": row.warn_before_minutes,
        "escalation": row.escalation,
    }


def save_policy(
    rt: Runtime,
    actor: Actor,
    *,
    workspace_id: int,
    data: dict[str, Any],
    policy_id: int | None = None,
) -> dict[str, Any]:
    """Create or replace an SLA policy; the lowest `position` whose `match` fits a conversation applies."""
    name = str(data.get("name") or "").strip()
    if not name:
        raise InvalidInput("policy name is empty")
    match = dict(data.get("match") or {})
    unknown = set(match) - _MATCH_KEYS
    if unknown:
        raise InvalidInput(f"match: unknown keys {sorted(unknown)}; known: {sorted(_MATCH_KEYS)}")
    for key in ("first_reply_minutes", "next_reply_minutes", "resolution_minutes"):
        value = data.get(key)
        if value is not None and not 0 < int(value) <= 525_600:
            raise InvalidInput(f"{key}: between 1 minute and a year")
    now = rt.clock.now()
    with rt.db.write() as session:
        require(session, actor, workspace_id, Role.ADMIN)
        calendar_id = data.get("calendar_id")
        if calendar_id is not None:
            cal = session.get(m.BusinessCalendarRow, calendar_id)
            if cal is None or cal.workspace_id != workspace_id:
                raise NotFound(f"calendar {calendar_id} not found")
        if policy_id is None:
            row = m.SlaPolicy(workspace_id=workspace_id)
            session.add(row)
        else:
            row = get_or_404(session, m.SlaPolicy, policy_id, "SLA policy")
            if row.workspace_id != workspace_id:
                raise NotFound(f"SLA policy {policy_id} not found")
        row.name, row.position, row.match = name, int(data.get("position") or 0), match
        row.first_reply_minutes = data.get("first_reply_minutes")
        row.next_reply_minutes = data.get("next_reply_minutes")
        row.resolution_minutes = data.get("resolution_minutes")
        business = data.get("business_hours")
        row.business_hours = calendar_id is not None if business is None else bool(business)
        row.calendar_id = calendar_id
        row.warn_before_minutes = int(data.get("warn_before_minutes", 10))
        row.escalation = dict(data.get("escalation") or {})
        session.flush()
        recompute(session, workspace_id)
        kind = "sla_policy.created" if policy_id is None else "sla_policy.updated"
        record(session, actor, kind, workspace_id=workspace_id, at=now, sla_policy_id=row.id)
        return policy_out(row)


def list_calendars(rt: Runtime, actor: Actor, workspace_id: int) -> list[dict[str, Any]]:
    with rt.db.read() as session:
        require(session, actor, workspace_id, Role.ANALYST)
        rows = session.scalars(
            sa.select(m.BusinessCalendarRow)
            .where(m.BusinessCalendarRow.workspace_id == workspace_id)
            .order_by(m.BusinessCalendarRow.id)
        ).all()
        return [calendar_out(session, r) for r in rows]


def list_policies(rt: Runtime, actor: Actor, workspace_id: int) -> list[dict[str, Any]]:
    with rt.db.read() as session:
        require(session, actor, workspace_id, Role.ANALYST)
        return [policy_out(p) for p in sla_rules.context_for(session, workspace_id).policies]


def auto_ack_of(rt: Runtime, actor: Actor, workspace_id: int) -> dict[str, Any]:
    with rt.db.read() as session:
        require(session, actor, workspace_id, Role.ANALYST)
        ws = get_or_404(session, m.Workspace, workspace_id, "workspace")
        return acknowledge.settings_of(dict(ws.settings or {}))


def set_auto_ack(rt: Runtime, actor: Actor, *, workspace_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """The automatic acknowledgement: on or off, also when nobody is online, texts per language."""
    texts = {str(k): str(v) for k, v in dict(data.get("texts") or {}).items()}
    offline = {str(k): str(v) for k, v in dict(data.get("offline_texts") or {}).items()}
    for lang, text in [*texts.items(), *offline.items()]:
        if not text.strip():
            raise InvalidInput(f"the {lang} text is empty")
    now = rt.clock.now()
    with rt.db.write() as session:
        require(session, actor, workspace_id, Role.ADMIN)
        ws = get_or_404(session, m.Workspace, workspace_id, "workspace")
        settings = dict(ws.settings or {})
        settings["auto_ack"] = {
            "enabled": bool(data.get("enabled", False)),
            "when_nobody_online": bool(data.get("when_nobody_online", True)),
            "texts": texts,
            "offline_texts": offline,
        }
        ws.settings = settings
        record(
            session,
            actor,
            "workspace.auto_ack",
            workspace_id=workspace_id,
            at=now,
            enabled=data.get("enabled"),
        )
        return acknowledge.settings_of(settings)


def set_policy(
    rt: Runtime, actor: Actor, *, workspace_id: int, words: list[str], patterns: list[str]
) -> dict[str, Any]:
    """The workspace's policy words and patterns (regular expressions), checked in every public reply."""
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise InvalidInput(f"pattern {pattern!r} is not a regular expression: {exc}") from None
    now = rt.clock.now()
    with rt.db.write() as session:
        require(session, actor, workspace_id, Role.ADMIN)
        ws = get_or_404(session, m.Workspace, workspace_id, "workspace")
        policy = {"words": sorted(set(words)), "patterns": list(dict.fromkeys(patterns))}
        ws.settings = {**(ws.settings or {}), "policy": policy}
        record(session, actor, "workspace.policy", workspace_id=workspace_id, at=now, words=len(words))
        return policy
