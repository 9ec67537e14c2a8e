"""The headline KPIs per workspace (definitions: docs/metrics.md, "KPIs")."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from caredesk.storage import models as m


@dataclass(frozen=True, slots=True)
class Kpis:
    workspace: str
    inbound_conversations: int
    responded_conversations: int
    response_rate: float | None
    first_response_median_minutes: float | None
    first_response_p90_minutes: float | None
    answered_within_60_minutes: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def quantile(sorted_values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default, 'linear')."""
    if not sorted_values:
        return None
    pos = (len(sorted_values) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def kpis(
    session: Session,
    *,
    workspace_ids: list[int] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Kpis]:
    conv = m.Conversation
    query = (
        sa.select(m.Workspace.slug, conv.first_inbound_at, conv.first_reply_at)
        .join(m.Workspace, m.Workspace.id == conv.workspace_id)
        .where(conv.first_inbound_at.is_not(None))
    )
    if workspace_ids is not None:
        query = query.where(conv.workspace_id.in_(workspace_ids))
    if since is not None:
        query = query.where(conv.first_inbound_at >= since)
    if until is not None:
        query = query.where(conv.first_inbound_at < until)
    per_ws: dict[str, list[float | None]] = {}
    for slug, first_in, first_reply in session.execute(query):
        minutes = (first_reply - first_in).total_seconds() / 60 if first_reply is not None else None
        per_ws.setdefault(slug, []).append(minutes)
    slugs_query = sa.select(m.Workspace.slug).order_by(m.Workspace.slug)
    if workspace_ids is not None:
        slugs_query = slugs_query.where(m.Workspace.id.in_(workspace_ids))
    out = []
    for slug in session.scalars(slugs_query):
        values = per_ws.get(slug, [])
        answered = sorted(v for v in values if v is not None)
        n = len(values)
        out.append(
            Kpis(
                workspace=slug,
                inbound_conversations=n,
                responded_conversations=len(answered),
                response_rate=_r(len(answered) / n) if n else None,
                first_response_median_minutes=_r(quantile(answered, 0.5)),
                first_response_p90_minutes=_r(quantile(answered, 0.9)),
                answered_within_60_minutes=_r(sum(1 for v in answered if v <= 60) / n) if n else None,
            )
        )
    return out


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
