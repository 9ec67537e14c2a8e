"""Report figures read from the facts tables (analytics/facts.py), never from raw messages.
Definitions: docs/metrics.md ("Per-message reply time" and the sections it links)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from caredesk.analytics.kpis import quantile
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
) -> list[ReplyTimes]:
    """Per workspace: customer messages in [since, until) by their creation, and the time from each to
    the first agent reply to it."""
    f = m.MessageFact
    value = f.reply_bh_s if business_hours else f.reply_s
    query = sa.select(m.Workspace.slug, value).join(m.Workspace, m.Workspace.id == f.workspace_id)
    if workspace_ids is not None:
        query = query.where(f.workspace_id.in_(workspace_ids))
    if since is not None:
        query = query.where(f.created_at >= since)
    if until is not None:
        query = query.where(f.created_at < until)
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


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
