"""The weekly staffing plan of a workspace: agents needed per hour of the week, from the arrivals of the
past weeks (roll-ups), a handling time and a target, against the agents rostered for the coming week.
Definitions: docs/metrics.md, "Staffing plan"."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from caredesk.analytics import staffing
from caredesk.analytics.reports import DAY_NAMES, hour_of_week
from caredesk.analytics.rollups import midnight, today_start
from caredesk.domain.calendar import BusinessCalendar
from caredesk.domain.clock import as_utc
from caredesk.domain.types import Role
from caredesk.storage import models as m

HISTORY_WEEKS = 4


def history_range(now: datetime, tz: ZoneInfo, weeks: int = HISTORY_WEEKS) -> tuple[datetime, datetime]:
    """The default history: the `weeks` whole weeks of local days before today."""
    today = today_start(now, tz)
    return midnight(today.date() - timedelta(days=7 * weeks), tz), today


def _occurrences(since: datetime, until: datetime, tz: ZoneInfo) -> list[int]:
    """How many times each weekday's local day starts in [since, until)."""
    counts = [0] * 7
    day = as_utc(since).astimezone(tz).date()
    if midnight(day, tz) < since:
        day += timedelta(days=1)
    while midnight(day, tz) < until:
        counts[day.weekday()] += 1
        day += timedelta(days=1)
    return counts


def rostered(session: Session, workspace_id: int, week_start: datetime) -> tuple[list[list[int]], int]:
    """Agents rostered in each hour of the week from `week_start` (a local Monday 00:00): the active
    members of the teams whose hours are open at the middle of that hour (a team without a calendar:
    every hour), each agent once; analysts answer no one. Also how many members who answer are in no
    team (not counted)."""
    tz = week_start.tzinfo
    assert isinstance(tz, ZoneInfo)
    members = set(
        session.scalars(
            sa.select(m.Membership.agent_id)
            .join(m.Agent, m.Agent.id == m.Membership.agent_id)
            .where(
                m.Membership.workspace_id == workspace_id,
                m.Membership.role != Role.ANALYST.value,
                m.Agent.active,
            )
        )
    )
    teams = session.execute(
        sa.select(m.Team.id, m.Team.calendar_id).where(m.Team.workspace_id == workspace_id)
    ).all()
    by_team: dict[int, set[int]] = {}
    for team_id, agent_id in session.execute(
        sa.select(m.TeamMember.team_id, m.TeamMember.agent_id).where(
            m.TeamMember.team_id.in_([t.id for t in teams])
        )
    ):
        if agent_id in members:
            by_team.setdefault(team_id, set()).add(agent_id)
    cells: list[list[set[int]]] = [[set() for _ in range(24)] for _ in range(7)]
    middles = [
        (d, h, (midnight(week_start.date() + timedelta(days=d), tz) + timedelta(hours=h, minutes=30)))
        for d in range(7)
        for h in range(24)
    ]
    for team_id, calendar_id in teams:
        people = by_team.get(team_id)
        if not people:
            continue
        row = session.get(m.BusinessCalendarRow, calendar_id) if calendar_id else None
        if row is None:
            open_hours = [(d, h) for d, h, _ in middles]
        else:
            cal = BusinessCalendar.from_settings(row.settings())
            end = week_start + timedelta(days=8)
            intervals = list(cal.open_intervals(as_utc(week_start), as_utc(end)))
            open_hours = [(d, h) for d, h, at in middles if any(s <= at < e for s, e in intervals)]
        for d, h in open_hours:
            cells[d][h] |= people
    in_a_team = set().union(*by_team.values()) if by_team else set()
    return [[len(c) for c in row] for row in cells], len(members - in_a_team)


def weekly_plan(
    session: Session,
    workspace_id: int,
    now: datetime,
    demand: staffing.Demand,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """Per hour of the week (the workspace's local clock, rows Monday to Sunday, columns 00 to 23): the
    customer messages expected (the mean of that hour over [since, until), by default the last four
    whole weeks), the productive agents the target needs (`demand` gives everything but the arrivals;
    interval one hour), the agents to schedule with shrinkage, and the agents rostered next week."""
    ws = session.get(m.Workspace, workspace_id)
    tz = ZoneInfo(ws.timezone if ws and ws.timezone else "UTC")
    default_since, default_until = history_range(now, tz)
    since, until = since or default_since, until or default_until
    if since >= until:
        raise ValueError("since must be before until")
    grid = hour_of_week(session, workspace_id, since=since, until=until)
    seen = _occurrences(since, until, tz)
    arrivals = [[grid["volume"][d][h] / seen[d] if seen[d] else 0.0 for h in range(24)] for d in range(7)]
    hourly = replace(demand, interval_seconds=3600)
    outcomes = staffing.plan({d * 24 + h: arrivals[d][h] for d in range(7) for h in range(24)}, hourly)
    today = as_utc(now).astimezone(tz).date()
    monday = today + timedelta(days=7 - today.weekday())
    roster, unteamed = rostered(session, workspace_id, midnight(monday, tz))
    needed = [[outcomes[d * 24 + h].agents for h in range(24)] for d in range(7)]
    scheduled = [[outcomes[d * 24 + h].scheduled for h in range(24)] for d in range(7)]
    short = [(d, h) for d in range(7) for h in range(24) if roster[d][h] < scheduled[d][h]]
    return {
        "workspace": ws.slug if ws else "",
        "time_zone": str(tz),
        "days": list(DAY_NAMES),
        "since": since.isoformat(),
        "until": until.isoformat(),
        "weeks_of_history": [seen[d] for d in range(7)],
        "roster_week": monday.isoformat(),
        "model": "erlang_c" if demand.patience_seconds is None else "erlang_a",
        "handle_seconds": demand.handle_seconds,
        "target_share": demand.target_share,
        "target_seconds": demand.target_seconds,
        "concurrency": demand.concurrency,
        "max_occupancy": demand.max_occupancy,
        "shrinkage": demand.shrinkage,
        "arrivals": [[round(v, 2) for v in row] for row in arrivals],
        "needed": needed,
        "scheduled": scheduled,
        "rostered": roster,
        "agents_in_no_team": unteamed,
        "short_hours": len(short),
        "agent_hours_short": sum(scheduled[d][h] - roster[d][h] for d, h in short),
    }
