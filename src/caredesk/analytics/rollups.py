"""Roll-ups: what every dashboard adds up, per workspace, local day and slice, so no report reads more
rows than days x slices, however long the history. Definitions: docs/metrics.md, "Roll-ups".

`daily_rollups` holds counts and sums (exact); `rollup_histograms` holds, per time measure, one array of
how many values fell in each log-spaced bucket (each bucket 2% wide), from which medians and p90s are
read to within 1% of the exact figure. Both are kept current by the facts' own transactions
(analytics/facts.py): when a conversation's facts are rebuilt, what its old facts added is taken away and
what its new facts add is added, so roll-ups move with the facts and are never rescanned.

A conversation counts on the local day of its first customer message (the day the summary reports it
under), a customer message on the local day it arrived (reply times, the hour-of-week heatmap). A range
that does not start or end at a local midnight reads whole days here and the part days from the facts.
"""

from __future__ import annotations

import math
import zlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

from caredesk.domain.clock import as_utc
from caredesk.storage import models as m

GAMMA = 1.02  # a bucket's upper bound over its lower bound
_LOG_GAMMA = math.log(GAMMA)
SLOTS = (
    902  # slot 0: no time at all; slot k: (GAMMA^(k-2), GAMMA^(k-1)] seconds; the last: 1.7 years and more
)
_KEY = ("workspace_id", "dimension", "day", "value")
_HKEY = ("workspace_id", "dimension", "measure", "day", "value")
COUNT_COLUMNS = tuple(c.name for c in m.daily_rollups.c if c.name not in _KEY)
_TZ = "caredesk.rollups.tz"

DIMENSIONS = (
    "all", "channel", "network", "public", "direct", "team", "agent", "language", "topic", "priority",
    "status", "hour",
)  # fmt: skip
CONVERSATION_TIMES = {  # roll-up measure: conversation fact column
    "first_response": "first_response_s",
    "first_response_bh": "first_response_bh_s",
    "resolution": "resolution_s",
    "resolution_bh": "resolution_bh_s",
}
MESSAGE_TIMES = {"reply": "reply_s", "reply_bh": "reply_bh_s"}
WAIT_TIMES = {"response": "response_s", "response_bh": "response_bh_s"}
NEXT_TIMES = {"next_response": "response_s", "next_response_bh": "response_bh_s"}  # waits after the first


def slot_of(seconds: float) -> int:
    """A time's bucket; a time of zero (or less: clocks that disagree) has its own, times under a second
    count as one second."""
    if seconds <= 0:
        return 0
    return min(max(math.ceil(math.log(seconds) / _LOG_GAMMA), 0), SLOTS - 2) + 1


def value_of(slot: int) -> float:
    """The figure a bucket stands for: within 1% of every value in it, (GAMMA - 1) / (GAMMA + 1)."""
    if slot == 0:
        return 0.0
    return float(2 * GAMMA ** (slot - 1) / (GAMMA + 1))


def quantile(histogram: np.ndarray, q: float) -> float | None:
    """As kpis.quantile (linear between the closest ranks), with each value read as its bucket's."""
    total = int(histogram.sum())
    if total <= 0:
        return None
    pos = (total - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    cumulative = np.cumsum(histogram)
    a, b = (value_of(int(np.searchsorted(cumulative, rank, side="right"))) for rank in (lo, hi))
    return a + (b - a) * (pos - lo)


def encode(counts: np.ndarray) -> bytes:
    return zlib.compress(counts.astype("<i4").tobytes(), 1)


def decode(blob: bytes) -> np.ndarray:
    if not blob:
        return np.zeros(SLOTS, dtype=np.int64)
    return np.frombuffer(zlib.decompress(blob), dtype="<i4").astype(np.int64)


def priority_band(priority: int) -> str:
    return "high" if priority >= 70 else "medium" if priority >= 40 else "low"


def conversation_slices(f: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The (dimension, value) pairs a conversation counts under: ids, not names, so renaming keeps them."""
    return [
        ("all", ""),
        ("channel", str(f["channel_id"])),
        ("network", f["network"] or ""),
        ("public", "public" if f["is_public"] else "private"),
        ("direct", "direct" if f["is_direct"] else "listening"),
        ("team", str(f["team_id"] or "")),
        ("agent", str(f["assignee_id"] or "")),
        ("language", f["language"] or ""),
        ("topic", f["topic"] or ""),
        ("priority", priority_band(f["priority"])),
        ("status", f["status"]),
    ]


def hour_key(local: datetime) -> str:
    """An hour of the week: '0-09' is Monday 09:00 to 10:00."""
    return f"{local.weekday()}-{local.hour:02d}"


def _zero() -> dict[str, float]:
    return dict.fromkeys(COUNT_COLUMNS, 0.0)


@dataclass
class Rollup:
    """Sums keyed as the tables are: counts[(dimension, day, value)][column], and
    histograms[(dimension, measure, day, value)][slot]."""

    counts: dict[tuple[str, date, str], dict[str, float]] = field(default_factory=lambda: defaultdict(_zero))
    histograms: dict[tuple[str, str, date, str], dict[int, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    only: str | None = None  # one dimension, for a report's part day; None: every dimension (the tables)

    def _time(self, key: tuple[str, date, str], measure: str, seconds: float | None, sign: int) -> None:
        if seconds is None:
            return
        row = self.counts[key]
        row[f"{measure}_n"] += sign
        row[f"{measure}_sum"] += sign * seconds
        row[f"{measure}_60"] += sign * (seconds <= 3600)
        row[f"{measure}_1440"] += sign * (seconds <= 86400)
        dim, day, value = key
        self.histograms[(dim, measure, day, value)][slot_of(seconds)] += sign

    def conversation(
        self, f: Mapping[str, Any], waits: Iterable[Mapping[str, Any]], tz: ZoneInfo, sign: int = 1
    ) -> None:
        """What one conversation's facts (and its waits, from its message facts) add."""
        if f["started_at"] is None:
            return
        day = as_utc(f["started_at"]).astimezone(tz).date()
        responded = f["first_reply_at"] is not None
        resolved = f["resolved_at"] is not None
        due = f["first_reply_due_at"]
        met = due is not None and responded and as_utc(f["first_reply_at"]) <= as_utc(due)
        later = [w for w in waits if w["wait"] is not None and w["wait"] > 1]
        for dim, value in conversation_slices(f):
            if self.only is not None and dim != self.only:
                continue
            key = (dim, day, value)
            row = self.counts[key]
            row["conversations"] += sign
            row["customer_messages"] += sign * f["inbound_count"]
            row["replies"] += sign * f["reply_count"]
            row["automatic"] += sign * f["automatic_count"]
            row["responded"] += sign * responded
            row["resolved"] += sign * resolved
            row["resolved_replies"] += sign * (f["reply_count"] if resolved else 0)
            row["reopened"] += sign * (f["reopen_count"] > 0)
            row["sla_with_target"] += sign * (due is not None)
            row["sla_met"] += sign * met
            row["moved_private"] += sign * bool(f["moved_private"])
            for seconds in f["approval_s"] or ():
                self._time(key, "approval", seconds, sign)
            if responded:
                self._time(key, "first_response", f["first_response_s"], sign)
                self._time(key, "first_response_bh", f["first_response_bh_s"], sign)
            if resolved:
                self._time(key, "resolution", f["resolution_s"], sign)
                self._time(key, "resolution_bh", f["resolution_bh_s"], sign)
            for w in later:
                for measure, column in NEXT_TIMES.items():
                    self._time(key, measure, w[column], sign)

    def message(self, f: Mapping[str, Any], tz: ZoneInfo, sign: int = 1) -> None:
        """What one customer message's facts add: to the workspace in all and to its hour of the week."""
        local = as_utc(f["created_at"]).astimezone(tz)
        for dim, value in (("all", ""), ("hour", hour_key(local))):
            if self.only is not None and dim != self.only:
                continue
            key = (dim, local.date(), value)
            row = self.counts[key]
            row["messages_in"] += sign
            row["negative_in"] += sign * (f["sentiment"] == "negative")
            for measure, column in MESSAGE_TIMES.items():
                self._time(key, measure, f[column], sign)
            if f["wait"] is not None:
                for measure, column in WAIT_TIMES.items():
                    self._time(key, measure, f[column], sign)

    def save(self, session: Session, workspace_id: int) -> None:
        """Add these sums to the tables (upserts in key order, so concurrent writers lock alike)."""
        from caredesk.storage.db import insert_for  # noqa: PLC0415 (storage.db loads the facts, and us)

        t = m.daily_rollups
        rows = [
            {"workspace_id": workspace_id, "dimension": k[0], "day": k[1], "value": k[2], **v}
            for k, v in sorted(self.counts.items())
            if any(v.values())
        ]
        if rows:
            ins = insert_for(session, t)
            stmt = ins.on_conflict_do_update(
                index_elements=list(_KEY), set_={c: t.c[c] + ins.excluded[c] for c in COUNT_COLUMNS}
            )
            session.execute(stmt, rows)
        changed = sorted(k for k, v in self.histograms.items() if any(v.values()))
        for start in range(0, len(changed), 500):
            self._save_histograms(session, workspace_id, changed[start : start + 500])

    def _save_histograms(
        self, session: Session, workspace_id: int, keys: list[tuple[str, str, date, str]]
    ) -> None:
        """Every row there first, then locked and read (PostgreSQL: FOR UPDATE, so two writers add in
        turn), then written back with the change added."""
        from caredesk.storage.db import insert_for  # noqa: PLC0415

        h = m.rollup_histograms
        named = [dict(zip(_HKEY, (workspace_id, *k), strict=True)) for k in keys]
        ins = insert_for(session, h).on_conflict_do_nothing(index_elements=list(_HKEY))
        session.execute(ins, [{**k, "counts": b""} for k in named])
        where = sa.tuple_(h.c.dimension, h.c.measure, h.c.day, h.c.value).in_(keys)
        query = sa.select(h.c.dimension, h.c.measure, h.c.day, h.c.value, h.c.counts).where(
            h.c.workspace_id == workspace_id, where
        )
        stored = {
            tuple(row[:4]): row[4]
            for row in session.execute(query.order_by(*h.primary_key.columns).with_for_update())
        }
        updates = []
        for key in keys:
            counts = decode(stored[key])
            for slot, n in self.histograms[key].items():
                counts[slot] += n
            values = dict(zip(("b_dimension", "b_measure", "b_day", "b_value"), key, strict=True))
            updates.append({"b_ws": workspace_id, **values, "b_counts": encode(counts)})
        stmt = (
            sa.update(h)
            .where(
                h.c.workspace_id == sa.bindparam("b_ws"),
                h.c.dimension == sa.bindparam("b_dimension"),
                h.c.measure == sa.bindparam("b_measure"),
                h.c.day == sa.bindparam("b_day"),
                h.c.value == sa.bindparam("b_value"),
            )
            .values(counts=sa.bindparam("b_counts"))
        )
        session.connection().execute(stmt, updates)


def time_zone(session: Session, workspace_id: int) -> ZoneInfo:
    cache: dict[int, ZoneInfo] = session.info.setdefault(_TZ, {})
    if workspace_id not in cache:
        name = session.scalar(sa.select(m.Workspace.timezone).where(m.Workspace.id == workspace_id))
        cache[workspace_id] = ZoneInfo(name or "UTC")
    return cache[workspace_id]


_CONV_COLUMNS = tuple(m.ConversationFact.__table__.c)
_MSG_COLUMNS = tuple(
    m.MessageFact.__table__.c[n]
    for n in ("conversation_id", "workspace_id", "created_at", "sentiment", "reply_s", "reply_bh_s", "wait",
              "response_s", "response_bh_s")
)  # fmt: skip


def facts_of(
    session: Session, conversation_ids: list[int]
) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """The stored facts of these conversations, as mappings the Rollup reads."""
    if not conversation_ids:
        return [], []
    convs = session.execute(
        sa.select(*_CONV_COLUMNS).where(m.ConversationFact.conversation_id.in_(conversation_ids))
    ).mappings()
    msgs = session.execute(
        sa.select(*_MSG_COLUMNS).where(m.MessageFact.conversation_id.in_(conversation_ids))
    ).mappings()
    return list(convs), list(msgs)


def add_facts(
    session: Session,
    per_ws: dict[int, Rollup],
    convs: Iterable[Mapping[str, Any]],
    msgs: Iterable[Mapping[str, Any]],
    sign: int,
) -> None:
    waits: dict[int, list[Mapping[str, Any]]] = defaultdict(list)
    for f in msgs:
        ws = f["workspace_id"]
        per_ws.setdefault(ws, Rollup()).message(f, time_zone(session, ws), sign)
        if f["wait"] is not None:
            waits[f["conversation_id"]].append(f)
    for f in convs:
        ws = f["workspace_id"]
        per_ws.setdefault(ws, Rollup()).conversation(
            f, waits.get(f["conversation_id"], []), time_zone(session, ws), sign
        )


def rebuild(session: Session, workspace_ids: Iterable[int] | None = None, chunk: int = 5000) -> int:
    """Recompute the roll-ups of these workspaces (all by default) from the facts, in the order the
    conversations started (so each chunk's sums fall on a few days); returns the day rows written."""
    ids = (
        list(workspace_ids)
        if workspace_ids is not None
        else list(session.scalars(sa.select(m.Workspace.id).order_by(m.Workspace.id)))
    )
    t = m.daily_rollups
    for ws in ids:
        session.execute(sa.delete(t).where(t.c.workspace_id == ws))
        session.execute(sa.delete(m.rollup_histograms).where(m.rollup_histograms.c.workspace_id == ws))
        cf = m.ConversationFact
        conv_ids = list(
            session.scalars(
                sa.select(cf.conversation_id)
                .where(cf.workspace_id == ws)
                .order_by(cf.started_at, cf.conversation_id)
            )
        )
        for start in range(0, len(conv_ids), chunk):
            per_ws: dict[int, Rollup] = {}
            add_facts(session, per_ws, *facts_of(session, conv_ids[start : start + chunk]), sign=1)
            if ws in per_ws:
                per_ws[ws].save(session, ws)
    query = sa.select(sa.func.count()).select_from(t).where(t.c.workspace_id.in_(ids))
    return int(session.scalar(query) or 0)


# --- reading ---------------------------------------------------------------------------------------


@dataclass
class Totals:
    """One slice's sums over a range: counts by column, and histograms by measure (count per slot)."""

    counts: dict[str, float] = field(default_factory=_zero)
    histograms: dict[str, np.ndarray] = field(
        default_factory=lambda: defaultdict(lambda: np.zeros(SLOTS, dtype=np.int64))
    )

    def times(self, measure: str) -> dict[str, float | None]:
        """Median, p90 and mean in minutes, shares within 60 minutes and 24 hours, and the count."""
        n = int(self.counts[f"{measure}_n"])
        hist = self.histograms.get(measure, np.zeros(SLOTS, dtype=np.int64))
        median, p90 = quantile(hist, 0.5), quantile(hist, 0.9)
        return {
            "median": _r(median / 60) if median is not None else None,
            "p90": _r(p90 / 60) if p90 is not None else None,
            "mean": _r(self.counts[f"{measure}_sum"] / n / 60) if n else None,
            "within_60_minutes": _r(self.counts[f"{measure}_60"] / n) if n else None,
            "within_24_hours": _r(self.counts[f"{measure}_1440"] / n) if n else None,
            "count": n,
        }


def _r(value: float) -> float:
    return round(value, 4)


def midnight(day: date, tz: ZoneInfo) -> datetime:
    """The start of a local day."""
    return datetime.combine(day, time(0), tzinfo=tz)


def today_start(now: datetime, tz: ZoneInfo) -> datetime:
    """The start of the local day `now` falls in."""
    return midnight(as_utc(now).astimezone(tz).date(), tz)


def split_range(
    since: datetime | None, until: datetime | None, tz: ZoneInfo
) -> tuple[date | None, date | None, list[tuple[datetime | None, datetime | None]]]:
    """[since, until) as whole local days [first, last) and the part days around them."""
    first = last = None
    parts: list[tuple[datetime | None, datetime | None]] = []
    if since is not None:
        local = as_utc(since).astimezone(tz)
        first = local.date() if local == midnight(local.date(), tz) else local.date() + timedelta(days=1)
    if until is not None:
        last = as_utc(until).astimezone(tz).date()
    if first is not None and last is not None and first > last:  # inside one day
        return first, first, [(since, until)]
    if since is not None and first is not None and as_utc(since) < midnight(first, tz):
        parts.append((since, midnight(first, tz)))
    if until is not None and last is not None and midnight(last, tz) < as_utc(until):
        parts.append((midnight(last, tz), until))
    return first, last, parts


def read(
    session: Session,
    workspace_id: int,
    dimension: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    measures: Iterable[str] = (),
) -> dict[str, Totals]:
    """Per value of `dimension`: the sums over [since, until), with the histograms of `measures`."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"dimension: one of {', '.join(DIMENSIONS)}")
    measures = list(measures)
    tz = time_zone(session, workspace_id)
    first, last, parts = split_range(since, until, tz)
    out: dict[str, Totals] = defaultdict(Totals)
    t, h = m.daily_rollups, m.rollup_histograms

    def days(query: Any, table: Any) -> Any:
        if first is not None:
            query = query.where(table.c.day >= first)
        if last is not None:
            query = query.where(table.c.day < last)
        return query

    if first is None or last is None or first < last:
        sums = sa.select(t.c.value, *(sa.func.sum(t.c[c]).label(c) for c in COUNT_COLUMNS)).where(
            t.c.workspace_id == workspace_id, t.c.dimension == dimension
        )
        for row in session.execute(days(sums, t).group_by(t.c.value)).mappings():
            out[row["value"]].counts.update({c: float(row[c] or 0) for c in COUNT_COLUMNS})
        if measures:
            bins = sa.select(h.c.value, h.c.measure, h.c.counts).where(
                h.c.workspace_id == workspace_id, h.c.dimension == dimension, h.c.measure.in_(measures)
            )
            for value, measure, blob in session.execute(days(bins, h)):
                out[value].histograms[measure] += decode(blob)
    for start, end in parts:
        _add_part(session, workspace_id, dimension, start, end, out)
    return dict(out)


def _add_part(
    session: Session,
    workspace_id: int,
    dimension: str,
    start: datetime | None,
    end: datetime | None,
    out: dict[str, Totals],
) -> None:
    """A part day, from the facts: conversations started and messages arrived in [start, end)."""
    cf, mf = m.ConversationFact, m.MessageFact

    def within(query: Any, column: Any) -> Any:
        if start is not None:
            query = query.where(column >= start)
        if end is not None:
            query = query.where(column < end)
        return query

    convs: list[Mapping[str, Any]] = []
    if dimension != "hour":  # conversations count under every dimension but the hour of the week
        query = within(sa.select(*_CONV_COLUMNS).where(cf.workspace_id == workspace_id), cf.started_at)
        convs = list(session.execute(query).mappings())
    ids = [c["conversation_id"] for c in convs]
    waits: list[Mapping[str, Any]] = []
    for i in range(0, len(ids), 5000):
        waits += list(
            session.execute(
                sa.select(*_MSG_COLUMNS).where(mf.conversation_id.in_(ids[i : i + 5000]), mf.wait > 1)
            ).mappings()
        )
    msgs: Iterable[Mapping[str, Any]] = []
    if dimension in ("all", "hour"):  # customer messages count in all and per hour of the week
        msgs = session.execute(
            within(sa.select(*_MSG_COLUMNS).where(mf.workspace_id == workspace_id), mf.created_at)
        ).mappings()
    part = Rollup(only=dimension)
    tz = time_zone(session, workspace_id)
    by_conv: dict[int, list[Mapping[str, Any]]] = defaultdict(list)
    for w in waits:
        by_conv[w["conversation_id"]].append(w)
    for f in convs:
        part.conversation(f, by_conv.get(f["conversation_id"], []), tz)
    for f in msgs:
        part.message(f, tz)
    for (dim, _day, value), row in part.counts.items():
        if dim == dimension:
            target = out[value].counts
            for c, v in row.items():
                target[c] += v
    for (dim, measure, _day, value), slots in part.histograms.items():
        if dim == dimension:
            target = out[value].histograms[measure]
            for slot, n in slots.items():
                target[slot] += n
