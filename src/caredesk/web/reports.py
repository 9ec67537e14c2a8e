"""The report page: the care figures of today so far or of the last 7, 30 or 90 whole days (calendar
or business hours), per network and per team, the hour-of-week heatmaps, messages and reply time day
by day, and the staffing plan against next week's roster, as charts (SVG from analytics/charts.py),
with the CSV export.

For the workspace's analysts, supervisors and admins, as the report API is. Every figure comes from the
roll-ups (analytics/rollups.py); definitions: docs/metrics.md.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from caredesk.analytics import charts, planning, reports, rollups, staffing
from caredesk.api.deps import RtDep, session_agent
from caredesk.domain.types import Role
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from caredesk.web.i18n import set_language, templates
from caredesk.web.pages import workspace_where

report_pages = APIRouter(include_in_schema=False, dependencies=[Depends(set_language)])
RANGES = (0, 7, 30, 90)  # 0: today so far
# the plan the page shows: 5 minutes a message, 80% answered within the hour, 85% occupancy at most,
# 30% shrinkage; the API and the CLI take other assumptions
PAGE_DEMAND = staffing.Demand(0.0, 3600, 300, 0.8, 3600, None, 1, 0.85, 0.3)
DaysQuery = Annotated[int, Query(ge=0, le=366)]


def _readable(session: Session, agent: m.Agent, ws: int | None) -> m.Workspace | None:
    """The workspace whose reports this agent may read (analyst, supervisor or admin there), the one
    asked for if any."""
    return workspace_where(session, agent, ws, lambda role: role != Role.AGENT)


def _range(rt: Runtime, ws: m.Workspace, days: int) -> tuple[datetime, datetime]:
    """The last `days` whole local days, up to today's local midnight; 0: today so far."""
    tz = ZoneInfo(ws.timezone or "UTC")
    now = rt.clock.now()
    today = rollups.today_start(now, tz)
    return (today, now) if days == 0 else (today - timedelta(days=days), today)


def _chart(session: Session, rt: Runtime, ws: m.Workspace, name: str, days: int, bh: bool) -> bytes:
    since, until = _range(rt, ws, days)
    if name == "staffing":
        plan = planning.weekly_plan(session, ws.id, rt.clock.now(), PAGE_DEMAND)
        fig = charts.staffing(plan, f"Agents needed and rostered, week of {plan['roster_week']}")
    elif name == "daily":
        fig = charts.daily(charts.daily_figures(session, ws.id, since, until), "Customer messages per day")
    else:
        grid = reports.hour_of_week(session, ws.id, since=since, until=until, business_hours=bh)
        title = "Customer messages per hour" if name == "volume" else "Median response per hour"
        fig = charts.heatmap(grid, name, title)
    return charts.render(fig, "svg")


def _page_context(session: Session, rt: Runtime, ws: m.Workspace, days: int, bh: bool) -> dict[str, Any]:
    since, until = _range(rt, ws, days)
    whole = reports.summary(session, ws.id, since=since, until=until, business_hours=bh)
    per_message = reports.reply_times(
        session, workspace_ids=[ws.id], since=since, until=until, business_hours=bh
    )
    plan = planning.weekly_plan(session, ws.id, rt.clock.now(), PAGE_DEMAND)
    return {
        "days": days,
        "bh": bh,
        "ranges": RANGES,
        "since": since,
        "until": until,
        "last_day": since if days == 0 else until - timedelta(days=1),
        "all": whole[0] if whole else None,
        "reply": per_message[0] if per_message else None,
        "by_network": reports.summary(
            session, ws.id, since=since, until=until, by="network", business_hours=bh
        ),
        "by_team": reports.summary(session, ws.id, since=since, until=until, by="team", business_hours=bh),
        "plan": plan,
        "charts": list(charts.CHARTS),
    }


@report_pages.get("/reports", response_class=HTMLResponse)
def reports_page(
    request: Request, rt: RtDep, ws: int | None = None, days: DaysQuery = 7, bh: bool = False
) -> Response:
    found = session_agent(rt, request)
    if found is None:
        return RedirectResponse("/", status_code=303)
    agent, web_session = found
    with rt.db.read() as session:
        current = _readable(session, agent, ws)
        if current is None:
            return templates.TemplateResponse(request, "missing.html", {"agent": agent}, status_code=403)
        context = _page_context(session, rt, current, days, bh)
    return templates.TemplateResponse(
        request,
        "reports.html",
        {"agent": agent, "csrf": web_session.csrf_token, "current": current, "workspaces": [], **context},
    )


@report_pages.get("/reports/chart/{name}.svg")
def report_chart(
    request: Request,
    rt: RtDep,
    name: Annotated[str, Path(pattern="^(volume|response|staffing|daily)$")],
    ws: int,
    days: DaysQuery = 7,
    bh: bool = False,
) -> Response:
    found = session_agent(rt, request)
    if found is None:
        return Response(status_code=401)
    with rt.db.read() as session:
        current = _readable(session, found[0], ws)
        if current is None or current.id != ws:
            return Response(status_code=404)
        body = _chart(session, rt, current, name, days, bh)
    return Response(body, media_type="image/svg+xml", headers={"Cache-Control": "private, max-age=60"})
