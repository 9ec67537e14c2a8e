"""Spike and crisis alerts: each workspace's inbound volume and its negative messages, per evaluation
interval, against what is usual for that time of the week. Definitions: docs/metrics.md, "Spike alerts".

The timers worker calls `evaluate_due` every 30 seconds; a workspace is evaluated once per interval
that has ended (`spike_watch.evaluated_until`), on the report facts. An alert is raised at most once
per surge: it stays open while intervals keep surging, closes after `CALM_INTERVALS` normal ones, and
a new one needs the previous to be closed and `COOLDOWN` to have passed. Raising one records a
`spike.alert` event (outgoing webhooks deliver it), publishes `spike` on the bus (the supervisor view's
banner) and keeps the top terms and example messages of the surge.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from caredesk.actions.base import Actor, record
from caredesk.domain.clock import as_utc
from caredesk.runtime import Runtime
from caredesk.storage import models as m

INTERVAL = timedelta(minutes=15)
HISTORY_WEEKS = 4
CALM_INTERVALS = 2
COOLDOWN = timedelta(hours=2)
MIN_COUNT = 10  # fewer messages than this in an interval is never a surge
FACTOR = 3.0  # at least this many times the usual count ...
SIGMAS = 4.0  # ... and this many Poisson standard deviations above it
CATCH_UP = 8  # intervals evaluated at most per call (a worker that was down does not replay a day)
_WORD = re.compile(r"[^\W\d_][\w'’-]{2,}", re.UNICODE)
_STOP = frozenset(
    re.split(
        r"\s+",
        """the and for you your are was were this that with have has had not but can cant can't don't dont
    just what when why how all any our out get got from they them their there been being its it's i'm
    im will would could should about into over again still even also very more most than then only
    now here help please thanks thank hello hey one two day days time way like know need want make
    les des une est pas que qui pour dans avec der die das und ist nicht ein eine mit für den det og
    ikke jeg har til som los las por para con una del que""",
    )
)


@dataclass(frozen=True, slots=True)
class Reading:
    metric: str  # "negative" or "volume"
    observed: int
    expected: float
    surging: bool


def _slot_starts(end: datetime, tz: ZoneInfo) -> list[datetime]:
    """The same interval of the week in the previous weeks, by the workspace's local clock."""
    local = end.astimezone(tz)
    return [
        (local - timedelta(weeks=k)).replace(tzinfo=None).replace(tzinfo=tz).astimezone(end.tzinfo) - INTERVAL
        for k in range(1, HISTORY_WEEKS + 1)
    ]


def _counts(session: Session, workspace_id: int, start: datetime, end: datetime) -> tuple[int, int]:
    f = m.MessageFact
    total, negative = session.execute(
        sa.select(sa.func.count(), sa.func.count().filter(f.sentiment == "negative")).where(
            f.workspace_id == workspace_id, f.created_at >= start, f.created_at < end
        )
    ).one()
    return int(total), int(negative)


def read(session: Session, workspace_id: int, tz: ZoneInfo, end: datetime) -> list[Reading]:
    """Volume and negative messages in [end - INTERVAL, end) against the same interval of the previous
    weeks that have any traffic (a week with none tells nothing of the usual level)."""
    observed = _counts(session, workspace_id, end - INTERVAL, end)
    history = [_counts(session, workspace_id, s, s + INTERVAL) for s in _slot_starts(end, tz)]
    first = session.scalar(
        sa.select(sa.func.min(m.MessageFact.created_at)).where(m.MessageFact.workspace_id == workspace_id)
    )
    # weeks before the workspace's first message are not "quiet weeks": they are no history at all
    known = [h for h, s in zip(history, _slot_starts(end, tz), strict=True) if first and as_utc(first) <= s]
    out = []
    for index, metric in ((0, "volume"), (1, "negative")):
        expected = sum(h[index] for h in known) / len(known) if known else 0.0
        n = observed[index]
        threshold = max(MIN_COUNT, FACTOR * expected, expected + SIGMAS * max(expected, 1.0) ** 0.5)
        out.append(Reading(metric, n, expected, bool(known) and n >= threshold))
    return out


def _top_terms(texts: list[str], own: set[str], limit: int = 8) -> list[dict[str, Any]]:
    counts: Counter[str] = Counter()
    for text in texts:
        words = {w.lower() for w in _WORD.findall(re.sub(r"https?://\S+|[@#]\w+", " ", text))}
        counts.update(w for w in words if w not in _STOP and w not in own)
    return [{"term": t, "messages": n} for t, n in counts.most_common(limit) if n >= 2]


def _surge_detail(
    session: Session, workspace_id: int, start: datetime, end: datetime, metric: str
) -> dict[str, Any]:
    f = m.MessageFact
    query = (
        sa.select(m.Message.id, m.Message.text, m.Message.conversation_id)
        .join(f, f.message_id == m.Message.id)
        .where(f.workspace_id == workspace_id, f.created_at >= start, f.created_at < end)
        .order_by(f.created_at.desc())
        .limit(500)
    )
    if metric == "negative":
        query = query.where(f.sentiment == "negative")
    rows = session.execute(query).all()
    handles = {
        (h or "").lstrip("@").lower()
        for h in session.scalars(
            sa.select(m.Channel.own_account_id).where(m.Channel.workspace_id == workspace_id)
        )
    }
    return {
        "top_terms": _top_terms([r.text for r in rows], handles),
        "examples": [
            {"message_id": r.id, "conversation_id": r.conversation_id, "text": r.text[:280]} for r in rows[:3]
        ],
    }


def evaluate(rt: Runtime, session: Session, ws: m.Workspace, end: datetime) -> m.SpikeAlert | None:
    """Evaluate the interval ending at `end` for one workspace; the alert raised, if one is."""
    watch = session.get(m.SpikeWatch, ws.id)
    if watch is None:
        watch = m.SpikeWatch(workspace_id=ws.id, evaluated_until=None, calm=0, open_alert_id=None)
        session.add(watch)
    tz = ZoneInfo(ws.timezone or "UTC")
    readings = read(session, ws.id, tz, end)
    surging = [r for r in readings if r.surging]
    watch.evaluated_until = end
    open_alert = session.get(m.SpikeAlert, watch.open_alert_id) if watch.open_alert_id else None
    if open_alert is not None:
        if surging:
            watch.calm = 0
            open_alert.peak = max(open_alert.peak, *(r.observed for r in surging))
        else:
            watch.calm += 1
            if watch.calm >= CALM_INTERVALS:
                open_alert.ended_at = end
                watch.open_alert_id = None
                rt.bus.publish("spike", {"workspace_id": ws.id, "id": open_alert.id, "open": False})
        return None
    if not surging:
        return None
    last = session.scalar(
        sa.select(sa.func.max(m.SpikeAlert.raised_at)).where(m.SpikeAlert.workspace_id == ws.id)
    )
    if last is not None and end - as_utc(last) < COOLDOWN:
        return None
    main = max(surging, key=lambda r: (r.metric == "negative", r.observed / max(r.expected, 1.0)))
    detail = _surge_detail(session, ws.id, end - INTERVAL, end, main.metric)
    alert = m.SpikeAlert(
        workspace_id=ws.id,
        metric=main.metric,
        interval_start=end - INTERVAL,
        raised_at=end,
        observed=main.observed,
        expected=round(main.expected, 3),
        peak=main.observed,
        detail=detail,
    )
    session.add(alert)
    session.flush()
    watch.open_alert_id, watch.calm = alert.id, 0
    # The examples' texts stay on the alert (erasure reaches it), not in the log.
    record(
        session, Actor.system(), "spike.alert", workspace_id=ws.id, at=rt.clock.now(), alert_id=alert.id,
        metric=main.metric, observed=main.observed, expected=alert.expected,
        interval_start=alert.interval_start.isoformat(), top_terms=detail["top_terms"],
        examples=[{k: v for k, v in x.items() if k != "text"} for x in detail["examples"]],
    )  # fmt: skip
    rt.bus.publish("spike", {"workspace_id": ws.id, "id": alert.id, "open": True})
    return alert


def _boundary(at: datetime) -> datetime:
    """The latest interval end at or before `at` (intervals are aligned to the hour, in UTC)."""
    at = as_utc(at)
    step = int(INTERVAL.total_seconds())
    epoch = int(at.timestamp())
    return datetime.fromtimestamp(epoch - epoch % step, tz=at.tzinfo)


def evaluate_due(rt: Runtime) -> int:
    """Evaluate every interval that has ended since each workspace's last evaluation; alerts raised."""
    now = _boundary(rt.clock.now())
    raised = 0
    with rt.db.write() as session:
        watches = dict(
            session.execute(sa.select(m.SpikeWatch.workspace_id, m.SpikeWatch.evaluated_until)).all()
        )
        for ws in session.scalars(sa.select(m.Workspace).order_by(m.Workspace.id)):
            if not dict(ws.settings or {}).get("spike_alerts", True):
                continue
            done = watches.get(ws.id)
            start = max(as_utc(done) + INTERVAL, now - (CATCH_UP - 1) * INTERVAL) if done else now
            end = start
            while end <= now:
                raised += evaluate(rt, session, ws, end) is not None
                end += INTERVAL
    return raised


def open_alerts(session: Session, workspace_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(
        sa.select(m.SpikeAlert)
        .where(m.SpikeAlert.workspace_id == workspace_id, m.SpikeAlert.ended_at.is_(None))
        .order_by(m.SpikeAlert.raised_at.desc())
    )
    return [alert_out(a) for a in rows]


def alert_out(a: m.SpikeAlert) -> dict[str, Any]:
    return {
        "id": a.id,
        "metric": a.metric,
        "interval_start": a.interval_start,
        "raised_at": a.raised_at,
        "ended_at": a.ended_at,
        "observed": a.observed,
        "expected": a.expected,
        "peak": a.peak,
        **dict(a.detail or {}),
    }
