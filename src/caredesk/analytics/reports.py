"""Report figures read from the facts tables (analytics/facts.py), never from raw messages.
Definitions: docs/metrics.md ("Per-message reply time" and the sections it links)."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from caredesk.analytics import rollups
from caredesk.analytics.kpis import quantile
from caredesk.domain.clock import as_utc
from caredesk.storage import models as m


@dataclass(frozen=True, slots=True)
class ReplyTimes:
    workspace: str
    customer_messages: int
    replied: int  # customer messages with an agent reply to them
    median_minutes: float | None
    p90_minutes: float | None
    mean_minutes: float | None
    within_60_minutes: float | None  # of the replied
    within_24_hours: float | None
    business_hours: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def reply_times(
    session: Session,
    *,
    workspace_ids: list[int] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    business_hours: bool = False,
    exact: bool = False,
) -> list[ReplyTimes]:
    """Per workspace: customer messages in [since, until) by their creation, and the time from each to
    the first agent reply to it. From the roll-ups (median and p90 within 1%), or `exact` from the facts."""
    if exact:
        return _exact_reply_times(session, workspace_ids, since, until, business_hours)
    measure = "reply_bh" if business_hours else "reply"
    workspaces = session.execute(sa.select(m.Workspace.id, m.Workspace.slug).order_by(m.Workspace.slug))
    out = []
    for ws_id, ws_slug in workspaces:
        if workspace_ids is not None and ws_id not in workspace_ids:
            continue
        totals = rollups.read(session, ws_id, "all", since=since, until=until, measures=[measure]).get("")
        if totals is None or not totals.counts["messages_in"]:
            continue
        t = totals.times(measure)
        out.append(
            ReplyTimes(
                workspace=ws_slug,
                customer_messages=int(totals.counts["messages_in"]),
                replied=int(t["count"] or 0),
                median_minutes=t["median"],
                p90_minutes=t["p90"],
                mean_minutes=t["mean"],
                within_60_minutes=t["within_60_minutes"],
                within_24_hours=t["within_24_hours"],
                business_hours=business_hours,
            )
        )
    return out


def _exact_reply_times(
    session: Session,
    workspace_ids: list[int] | None,
    since: datetime | None,
    until: datetime | None,
    business_hours: bool,
) -> list[ReplyTimes]:
    f = m.MessageFact
    value = f.reply_bh_s if business_hours else f.reply_s
    query = sa.select(m.Workspace.slug, value).join(m.Workspace, m.Workspace.id == f.workspace_id)
    if workspace_ids is not None:
        query = query.where(f.workspace_id.in_(workspace_ids))
    query = _in_range(query, f.created_at, since, until)
    per_ws: dict[str, list[float]] = {}
    counts: dict[str, int] = {}
    for slug, seconds in session.execute(query):
        counts[slug] = counts.get(slug, 0) + 1
        if seconds is not None:
            per_ws.setdefault(slug, []).append(seconds / 60)
    out = []
    for slug in sorted(counts):
        values = sorted(per_ws.get(slug, []))
        n = len(values)
        out.append(
            ReplyTimes(
                workspace=slug,
                customer_messages=counts[slug],
                replied=n,
                median_minutes=_r(quantile(values, 0.5)),
                p90_minutes=_r(quantile(values, 0.9)),
                mean_minutes=_r(sum(values) / n) if n else None,
                within_60_minutes=_r(sum(1 for v in values if v <= 60) / n) if n else None,
                within_24_hours=_r(sum(1 for v in values if v <= 1440) / n) if n else None,
                business_hours=business_hours,
            )
        )
    return out


def _in_range(query: Any, column: Any, since: datetime | None, until: datetime | None) -> Any:
    """Rows whose `column` is in [since, until); either end may be open."""
    if since is not None:
        query = query.where(column >= since)
    if until is not None:
        query = query.where(column < until)
    return query


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


EXPORT_COLUMNS = (
    "conversation_id", "workspace", "channel", "network", "public", "direct", "team", "assignee", "language",
    "topic", "priority", "status", "started_at", "first_reply_at", "first_response_minutes",
    "first_response_business_minutes", "resolved_at", "resolution_minutes", "resolution_business_minutes",
    "customer_messages", "replies", "reopens", "moved_to_private", "approvals_decided", "approval_minutes",
)  # fmt: skip


def conversation_rows(
    session: Session, workspace_id: int, *, since: datetime | None = None, until: datetime | None = None
) -> list[dict[str, Any]]:
    """One row per conversation started in [since, until) (by its first customer message), times in the
    workspace's time zone (ISO 8601 with offset) and minutes; the export behind `report conversations`."""
    f = m.ConversationFact
    ws = session.get(m.Workspace, workspace_id)
    tz = ZoneInfo(ws.timezone if ws and ws.timezone else "UTC")

    def named(model: Any) -> dict[int, str]:
        rows = session.execute(sa.select(model.id, model.name).where(model.workspace_id == workspace_id))
        return dict(rows.all())

    names = {"channel": named(m.Channel), "team": named(m.Team)}
    names["agent"] = dict(session.execute(sa.select(m.Agent.id, m.Agent.name)).all())
    query = sa.select(f).where(f.workspace_id == workspace_id, f.started_at.is_not(None))
    query = _in_range(query, f.started_at, since, until)

    def when(value: datetime | None) -> str | None:
        return None if value is None else as_utc(value).astimezone(tz).isoformat()

    def minutes(seconds: float | None) -> float | None:
        return None if seconds is None else round(seconds / 60, 2)

    return [
        {
            "conversation_id": r.conversation_id,
            "workspace": ws.slug if ws else "",
            "channel": names["channel"].get(r.channel_id, ""),
            "network": r.network,
            "public": r.is_public,
            "direct": r.is_direct,
            "team": names["team"].get(r.team_id or 0, ""),
            "assignee": names["agent"].get(r.assignee_id or 0, ""),
            "language": r.language,
            "topic": r.topic,
            "priority": r.priority,
            "status": r.status,
            "started_at": when(r.started_at),
            "first_reply_at": when(r.first_reply_at),
            "first_response_minutes": minutes(r.first_response_s),
            "first_response_business_minutes": minutes(r.first_response_bh_s),
            "resolved_at": when(r.resolved_at),
            "resolution_minutes": minutes(r.resolution_s),
            "resolution_business_minutes": minutes(r.resolution_bh_s),
            "customer_messages": r.inbound_count,
            "replies": r.reply_count,
            "reopens": r.reopen_count,
            "moved_to_private": r.moved_private,
            "approvals_decided": len(r.approval_s or []),
            "approval_minutes": minutes(sum(r.approval_s)) if r.approval_s else None,  # all of them, summed
        }
        for r in session.scalars(query.order_by(f.started_at, f.conversation_id))
    ]


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula gets a leading apostrophe (shown as text)."""
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return value


def write_csv(rows: list[dict[str, Any]], columns: tuple[str, ...] = EXPORT_COLUMNS) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: safe_cell(v) for k, v in row.items()})
    return buffer.getvalue()


DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def hour_of_week(
    session: Session,
    workspace_id: int,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    business_hours: bool = False,
    exact: bool = False,
) -> dict[str, Any]:
    """Customer messages per hour of the week (the workspace's local clock: rows Monday to Sunday,
    columns 00 to 23), and the median response time of the waits that started in each hour."""
    ws = session.get(m.Workspace, workspace_id)
    tz = ZoneInfo(ws.timezone if ws and ws.timezone else "UTC")
    volume = [[0] * 24 for _ in range(7)]
    medians: list[list[float | None]] = [[None] * 24 for _ in range(7)]
    if exact:
        f = m.MessageFact
        response = f.response_bh_s if business_hours else f.response_s
        query = sa.select(f.created_at, f.wait, response).where(f.workspace_id == workspace_id)
        query = _in_range(query, f.created_at, since, until)
        waits: list[list[list[float]]] = [[[] for _ in range(24)] for _ in range(7)]
        for created, wait, seconds in session.execute(query):
            local = as_utc(created).astimezone(tz)
            day, hour = local.weekday(), local.hour
            volume[day][hour] += 1
            if wait is not None and seconds is not None:
                waits[day][hour].append(seconds / 60)
        medians = [[_r(quantile(sorted(cell), 0.5)) for cell in row] for row in waits]
    else:
        measure = "response_bh" if business_hours else "response"
        cells = rollups.read(session, workspace_id, "hour", since=since, until=until, measures=[measure])
        for key, totals in cells.items():
            day, hour = int(key[0]), int(key[2:])
            volume[day][hour] = int(totals.counts["messages_in"])
            medians[day][hour] = totals.times(measure)["median"]
    return {
        "workspace": ws.slug if ws else "",
        "time_zone": str(tz),
        "days": list(DAY_NAMES),
        "volume": volume,
        "response_median_minutes": medians,
        "business_hours": business_hours,
    }


SLICES = (
    "channel",
    "network",
    "public",
    "direct",
    "team",
    "agent",
    "language",
    "topic",
    "priority",
    "status",
)


_BANDS = {"high": "high (70+)", "medium": "medium (40-69)", "low": "low (0-39)"}


def _priority_band(p: int) -> str:
    return _BANDS[rollups.priority_band(p)]


def _times(values: list[float]) -> dict[str, float | None]:
    """Median, p90 and mean in minutes, and the shares within 60 minutes and 24 hours, of seconds."""
    minutes = sorted(v / 60 for v in values)
    n = len(minutes)
    return {
        "median": _r(quantile(minutes, 0.5)),
        "p90": _r(quantile(minutes, 0.9)),
        "mean": _r(sum(minutes) / n) if n else None,
        "within_60_minutes": _r(sum(1 for v in minutes if v <= 60) / n) if n else None,
        "within_24_hours": _r(sum(1 for v in minutes if v <= 1440) / n) if n else None,
        "count": n,
    }


def summary(
    session: Session,
    workspace_id: int,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    by: str | None = None,
    business_hours: bool = False,
    exact: bool = False,
) -> list[dict[str, Any]]:
    """The care figures of the conversations started in [since, until), in all or per slice `by`
    (one of SLICES). Definitions: docs/metrics.md, "Summary". From the roll-ups (medians and p90s within
    1%), or `exact` from the facts."""
    if by is not None and by not in SLICES:
        raise ValueError(f"by: one of {', '.join(SLICES)}")
    if exact:
        return _exact_summary(session, workspace_id, since, until, by, business_hours)
    bh = "_bh" if business_hours else ""
    measures = {"first_response": f"first_response{bh}", "next_response": f"next_response{bh}",
                "resolution": f"resolution{bh}", "approval": "approval"}  # fmt: skip
    rows = rollups.read(
        session, workspace_id, by or "all", since=since, until=until, measures=measures.values()
    )
    names = _slice_names(session, workspace_id, by)
    out = []
    for value, totals in rows.items():
        c = totals.counts
        n = int(c["conversations"])
        if n <= 0:
            continue  # every conversation of this slice has moved to another
        resolved = int(c["resolved"])
        with_due, met = int(c["sla_with_target"]), int(c["sla_met"])
        out.append(
            {
                "slice": names(value),
                "conversations": n,
                "customer_messages": int(c["customer_messages"]),
                "replies": int(c["replies"]),
                "response_rate": _r(c["responded"] / n),
                **{name: totals.times(measure) for name, measure in measures.items()},
                "resolved": resolved,
                "replies_per_resolution": _r(c["resolved_replies"] / resolved) if resolved else None,
                "reopen_rate": _r(c["reopened"] / n),
                "moved_to_private": _r(c["moved_private"] / n),
                "first_reply_sla": {
                    "with_target": with_due,
                    "met": met,
                    "attainment": _r(met / with_due) if with_due else None,
                },
                "business_hours": business_hours,
            }
        )
    out.sort(key=lambda r: r["slice"])
    return [{k: r[k] for k in _SUMMARY_ORDER} for r in out]


_SUMMARY_ORDER = (
    "slice", "conversations", "customer_messages", "replies", "response_rate", "first_response",
    "next_response", "resolution", "resolved", "replies_per_resolution", "reopen_rate", "moved_to_private",
    "first_reply_sla", "approval", "business_hours",
)  # fmt: skip


def _slice_names(session: Session, workspace_id: int, by: str | None) -> Any:
    """How a roll-up's slice value is shown: names for ids, words for empty values."""
    model = {"channel": m.Channel, "team": m.Team}.get(by or "")
    ids: dict[str, str] = {}
    if model is not None:
        rows = session.execute(sa.select(model.id, model.name).where(model.workspace_id == workspace_id))
        ids = {str(i): name for i, name in rows}
    elif by == "agent":
        ids = {str(i): name for i, name in session.execute(sa.select(m.Agent.id, m.Agent.name))}
    empty = {"team": "(no team)", "agent": "(nobody)", "language": "(unknown)", "topic": "(none)"}

    def name(value: str) -> str:
        if by is None:
            return "all"
        if by == "priority":
            return _BANDS.get(value, value)
        if not value and by in empty:
            return empty[by]
        return ids.get(value, value)

    return name


def _exact_summary(
    session: Session,
    workspace_id: int,
    since: datetime | None,
    until: datetime | None,
    by: str | None,
    business_hours: bool,
) -> list[dict[str, Any]]:
    f = m.ConversationFact
    query = sa.select(f).where(f.workspace_id == workspace_id, f.started_at.is_not(None))
    query = _in_range(query, f.started_at, since, until)
    convs = list(session.scalars(query))
    names: dict[str, dict[int, str]] = {
        "channel": dict(session.execute(sa.select(m.Channel.id, m.Channel.name)).all()),
        "team": dict(session.execute(sa.select(m.Team.id, m.Team.name)).all()),
        "agent": dict(session.execute(sa.select(m.Agent.id, m.Agent.name)).all()),
    }

    def key(c: m.ConversationFact) -> str:
        if by is None:
            return "all"
        value: Any = {
            "channel": names["channel"].get(c.channel_id),
            "network": c.network,
            "public": "public" if c.is_public else "private",
            "direct": "direct" if c.is_direct else "listening",
            "team": names["team"].get(c.team_id or 0, "(no team)"),
            "agent": names["agent"].get(c.assignee_id or 0, "(nobody)"),
            "language": c.language or "(unknown)",
            "topic": c.topic or "(none)",
            "priority": _priority_band(c.priority),
            "status": c.status,
        }[by]
        return str(value)

    groups: dict[str, list[m.ConversationFact]] = {}
    for c in convs:
        groups.setdefault(key(c), []).append(c)
    waits: dict[int, list[tuple[int, float | None]]] = {}
    mf = m.MessageFact
    response = mf.response_bh_s if business_hours else mf.response_s
    ids = [c.conversation_id for c in convs]
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        for cid, wait, seconds in session.execute(
            sa.select(mf.conversation_id, mf.wait, response).where(
                mf.conversation_id.in_(chunk), mf.wait.is_not(None)
            )
        ):
            waits.setdefault(cid, []).append((wait, seconds))
    out = []
    for name in sorted(groups):
        rows = groups[name]
        n = len(rows)
        responded = [c for c in rows if c.first_reply_at is not None]
        resolved = [c for c in rows if c.resolved_at is not None]
        frt = [c.first_response_bh_s if business_hours else c.first_response_s for c in responded]
        nrt = [s for c in rows for w, s in waits.get(c.conversation_id, []) if w > 1 and s is not None]
        res = [c.resolution_bh_s if business_hours else c.resolution_s for c in resolved]
        with_due = [c for c in rows if c.first_reply_due_at is not None]
        met = [
            c
            for c in with_due
            if c.first_reply_at is not None and as_utc(c.first_reply_at) <= as_utc(c.first_reply_due_at)
        ]  # type: ignore[arg-type]
        out.append(
            {
                "slice": name,
                "conversations": n,
                "customer_messages": sum(c.inbound_count for c in rows),
                "replies": sum(c.reply_count for c in rows),
                "response_rate": _r(len(responded) / n) if n else None,
                "first_response": _times([v for v in frt if v is not None]),
                "next_response": _times(nrt),
                "resolution": _times([v for v in res if v is not None]),
                "resolved": len(resolved),
                "replies_per_resolution": _r(sum(c.reply_count for c in resolved) / len(resolved))
                if resolved
                else None,
                "reopen_rate": _r(sum(1 for c in rows if c.reopen_count) / n) if n else None,
                "moved_to_private": _r(sum(1 for c in rows if c.moved_private) / n) if n else None,
                "approval": _times([float(s) for c in rows for s in c.approval_s or []]),
                "first_reply_sla": {
                    "with_target": len(with_due),
                    "met": len(met),
                    "attainment": _r(len(met) / len(with_due)) if with_due else None,
                },
                "business_hours": business_hours,
            }
        )
    return out
