"""The team page: each team's hours and whether it is open now, who is on shift, and the channels'
greeting schedule (the next greeting and sign-off post). Live: presence changes swap in a fresh panel.

"On shift" means online or away while the team's hours are open (always open without a calendar);
the definition is in docs/metrics.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from caredesk.actions.greetings import DEFAULT_TEXTS
from caredesk.api.deps import RtDep, session_agent
from caredesk.domain.calendar import DAYS, BusinessCalendar
from caredesk.domain.types import Presence
from caredesk.routing.sla import calendar_of
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from caredesk.web.i18n import N_, gettext, set_language, templates
from caredesk.web.pages import member_workspaces

team_pages = APIRouter(include_in_schema=False, dependencies=[Depends(set_language)])
DAY_NAMES = {
    "mon": N_("Mon"), "tue": N_("Tue"), "wed": N_("Wed"), "thu": N_("Thu"),
    "fri": N_("Fri"), "sat": N_("Sat"), "sun": N_("Sun"),
}  # fmt: skip
WORKING = (Presence.ONLINE.value, Presence.AWAY.value)


def _local(at: datetime | None, cal: BusinessCalendar | None) -> str:
    if at is None:
        return "–"
    local = at.astimezone(cal.tz) if cal is not None else at
    return local.strftime("%a %d %b %H:%M")


def _week(row: m.BusinessCalendarRow | None) -> list[tuple[str, str]]:
    if row is None:
        return []
    week = dict(row.settings().get("week") or {})
    return [
        (
            gettext(DAY_NAMES[d]),
            ", ".join(f"{a}–{b}" for a, b in week[d]) if week.get(d) else gettext("closed"),
        )
        for d in DAYS
    ]


def _hours(cal: BusinessCalendar | None, now: datetime) -> dict[str, Any]:
    """Open now, until when, and the next opening: what a team's or channel's calendar says at `now`."""
    if cal is None:
        return {"open": True, "until": None, "next_open": None, "next_close": None}
    periods = cal.periods(now)
    first = next(periods, None)
    if first is None:
        return {"open": False, "until": None, "next_open": None, "next_close": None}
    is_open = first[0] <= now
    following = next(periods, None) if is_open else first
    return {
        "open": is_open,
        "until": _local(first[1], cal) if is_open else None,
        "next_open": _local(following[0], cal) if following else None,
        "next_close": _local(first[1], cal),
    }


def team_view(session: Session, workspace_id: int, now: datetime) -> dict[str, Any]:
    agents = session.execute(
        sa.select(m.Agent.id, m.Agent.name, m.Agent.presence, m.Membership.role)
        .join(m.Membership, m.Membership.agent_id == m.Agent.id)
        .where(m.Membership.workspace_id == workspace_id, m.Agent.active)
        .order_by(m.Agent.name)
    ).all()
    by_id = {a.id: a for a in agents}
    members: dict[int, list[int]] = {}
    teams = list(
        session.scalars(sa.select(m.Team).where(m.Team.workspace_id == workspace_id).order_by(m.Team.name))
    )
    for team_id, agent_id in session.execute(
        sa.select(m.TeamMember.team_id, m.TeamMember.agent_id).where(
            m.TeamMember.team_id.in_([t.id for t in teams])
        )
    ):
        members.setdefault(team_id, []).append(agent_id)
    out_teams = []
    in_a_team: set[int] = set()
    for team in teams:
        row = session.get(m.BusinessCalendarRow, team.calendar_id) if team.calendar_id else None
        cal = BusinessCalendar.from_settings(row.settings()) if row is not None else None
        hours = _hours(cal, now)
        people = [
            by_id[a]
            for a in sorted(members.get(team.id, []), key=lambda a: by_id[a].name if a in by_id else "")
            if a in by_id
        ]
        in_a_team.update(p.id for p in people)
        out_teams.append(
            {
                "name": team.name,
                "calendar": row.name if row is not None else None,
                "time_zone": cal.time_zone if cal is not None else None,
                "week": _week(row),
                **hours,
                "members": [
                    {
                        "id": p.id,
                        "name": p.name,
                        "presence": p.presence,
                        "on_shift": hours["open"] and p.presence in WORKING,
                    }
                    for p in people
                ],
            }
        )
    on_shift = sorted({mb["name"] for t in out_teams for mb in t["members"] if mb["on_shift"]})
    on_shift += [a.name for a in agents if a.id not in in_a_team and a.presence in WORKING]
    greetings = dict(
        (session.get(m.Workspace, workspace_id).settings or {}).get("greetings") or {}  # type: ignore[union-attr]
    )
    schedule = []
    for channel in session.scalars(
        sa.select(m.Channel).where(m.Channel.workspace_id == workspace_id).order_by(m.Channel.name)
    ):
        setting = dict(greetings.get(str(channel.id)) or {})
        if not setting.get("enabled"):
            continue
        cal = calendar_of(session, channel.id, channel.team_id)
        hours = _hours(cal, now) if cal is not None else None
        texts = DEFAULT_TEXTS.get(setting.get("language", "en"), DEFAULT_TEXTS["en"])
        schedule.append(
            {
                "channel": channel.name,
                "has_calendar": cal is not None,
                "next_greeting": (hours or {}).get("next_open"),
                "next_sign_off": (hours or {}).get("next_close"),
                "greeting": setting.get("greeting") or texts["greeting"],
                "sign_off": setting.get("sign_off") or texts["sign_off"],
            }
        )
    return {
        "teams": out_teams,
        "on_shift": on_shift,
        "unteamed": [a for a in agents if a.id not in in_a_team],
        "schedule": schedule,
    }


def _member_workspace(session: Session, agent: m.Agent, ws: int | None) -> m.Workspace | None:
    rows = member_workspaces(session, agent.id)
    return next((w for w in rows if w.id == ws), rows[0] if rows else None)


def _load(rt: Runtime, agent: m.Agent, ws: int | None) -> tuple[m.Workspace | None, dict[str, Any]]:
    with rt.db.read() as session:
        current = _member_workspace(session, agent, ws)
        return current, (team_view(session, current.id, rt.clock.now()) if current is not None else {})


@team_pages.get("/team", response_class=HTMLResponse)
def team_page(request: Request, rt: RtDep, ws: int | None = None) -> Response:
    found = session_agent(rt, request)
    if found is None:
        return RedirectResponse("/", status_code=303)
    agent, web_session = found
    current, view = _load(rt, agent, ws)
    if current is None:
        return templates.TemplateResponse(request, "missing.html", {"agent": agent}, status_code=404)
    context = {
        "agent": agent,
        "csrf": web_session.csrf_token,
        "current": current,
        "workspaces": [],
        "t": view,
    }
    return templates.TemplateResponse(request, "team.html", context)


@team_pages.get("/partials/team", response_class=HTMLResponse)
def team_part(request: Request, rt: RtDep, ws: int | None = None) -> Response:
    found = session_agent(rt, request)
    if found is None:
        return Response(status_code=401)
    current, view = _load(rt, found[0], ws)
    if current is None:
        return Response(status_code=404)
    return templates.TemplateResponse(request, "_team.html", {"current": current, "t": view})
