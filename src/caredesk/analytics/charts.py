"""Report charts as SVG or PNG, drawn with matplotlib (no pyplot: a Figure per chart, safe in threads):
the hour-of-week heatmaps of customer messages and of response time, the weekly staffing plan against
the roster, and customer messages with their median reply time day by day. The CLI writes them for a
weekly report (`caredesk report charts`); the inbox's report page shows the SVGs.

Text in an SVG is drawn as outlines, not as text elements, so a name in a title can never be markup.
The same figures give the same bytes (no dates in the metadata, a fixed hash salt)."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from typing import Any

import matplotlib as mpl
from matplotlib.figure import Figure
from sqlalchemy.orm import Session

from caredesk.analytics import rollups

FORMATS = ("svg", "png")
CHARTS = ("volume", "response", "staffing", "daily")
mpl.rcParams.update({"svg.fonttype": "path", "svg.hashsalt": "caredesk", "font.size": 9})
_METADATA = {"svg": {"Date": None, "Creator": "caredesk"}, "png": {"Software": "caredesk"}}


def render(fig: Figure, fmt: str) -> bytes:
    if fmt not in FORMATS:
        raise ValueError(f"a chart is one of {', '.join(FORMATS)}")
    out = io.BytesIO()
    fig.savefig(out, format=fmt, dpi=120, metadata=_METADATA[fmt], bbox_inches="tight")
    return out.getvalue()


def heatmap(grid: dict[str, Any], metric: str, title: str) -> Figure:
    """A 7 x 24 grid from reports.hour_of_week: `volume`, or `response` (median minutes; blank where
    no wait started)."""
    cells = grid["volume"] if metric == "volume" else grid["response_median_minutes"]
    values = [[float("nan") if v is None else float(v) for v in row] for row in cells]
    fig = Figure(figsize=(9, 3.2))
    ax = fig.add_subplot()
    image = ax.imshow(values, aspect="auto", cmap="Blues" if metric == "volume" else "Oranges", vmin=0)
    ax.set_yticks(range(7), grid["days"])
    ax.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
    ax.set_xlabel(f"hour ({grid['time_zone']})")
    label = "customer messages" if metric == "volume" else "median response, minutes"
    fig.colorbar(image, ax=ax, label=label, fraction=0.04)
    ax.set_title(title)
    return fig


def staffing(plan: dict[str, Any], title: str) -> Figure:
    """Agents to schedule (with shrinkage) and agents rostered, hour by hour through the week, from
    planning.weekly_plan."""
    hours = range(168)
    scheduled = [plan["scheduled"][h // 24][h % 24] for h in hours]
    rostered = [plan["rostered"][h // 24][h % 24] for h in hours]
    fig = Figure(figsize=(9, 3.2))
    ax = fig.add_subplot()
    ax.step(hours, scheduled, where="post", label="agents needed (scheduled)", color="#c2410c")
    ax.step(hours, rostered, where="post", label="agents rostered", color="#1d4ed8")
    short = [max(0, s - r) for s, r in zip(scheduled, rostered, strict=True)]
    ax.fill_between(hours, rostered, scheduled, where=[s > 0 for s in short], step="post",
                    color="#c2410c", alpha=0.2, label="short")  # fmt: skip
    ax.set_xticks(range(0, 168, 24), plan["days"])
    ax.set_xlim(0, 168)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("agents")
    ax.legend(loc="upper right", frameon=False)
    ax.set_title(title)
    return fig


def daily_figures(
    session: Session, workspace_id: int, since: datetime, until: datetime
) -> list[dict[str, Any]]:
    """Each local day in [since, until): customer messages and the median reply time (roll-ups)."""
    tz = rollups.time_zone(session, workspace_id)
    day: date = since.astimezone(tz).date()
    out = []
    while rollups.midnight(day, tz) < until:
        start = max(since, rollups.midnight(day, tz))
        end = min(until, rollups.midnight(day + timedelta(days=1), tz))
        totals = rollups.read(session, workspace_id, "all", since=start, until=end, measures=["reply"]).get(
            ""
        )
        out.append(
            {
                "day": day.isoformat(),
                "messages_in": int(totals.counts["messages_in"]) if totals else 0,
                "reply_median_minutes": totals.times("reply")["median"] if totals else None,
            }
        )
        day += timedelta(days=1)
    return out


def daily(days: list[dict[str, Any]], title: str) -> Figure:
    """Customer messages per day (bars) and their median reply time (line, right axis)."""
    fig = Figure(figsize=(9, 3.2))
    ax = fig.add_subplot()
    x = range(len(days))
    ax.bar(x, [d["messages_in"] for d in days], color="#93c5fd", label="customer messages")
    ax.set_ylabel("customer messages")
    step = max(1, len(days) // 10)
    ax.set_xticks(list(x)[::step], [d["day"][5:] for d in days][::step])
    right = ax.twinx()
    medians = [float("nan") if d["reply_median_minutes"] is None else d["reply_median_minutes"] for d in days]
    right.plot(x, medians, color="#c2410c", marker="o", label="median reply, minutes")
    right.set_ylim(bottom=0)
    right.set_ylabel("median reply, minutes")
    ax.set_title(title)
    bars, lines = ax.get_legend_handles_labels(), right.get_legend_handles_labels()
    ax.legend(bars[0] + lines[0], bars[1] + lines[1], loc="upper left", frameon=False)
    return fig
