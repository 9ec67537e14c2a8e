"""Dashboard query time over a long history: N messages (3 million by default) in conversations spread
over 90 days with a weekly rhythm, then every report the dashboards ask for, timed. Prints the median
and the slowest of each query, the roll-up rows and the machine; asserts nothing.

    python bench/analytics.py [--messages 3000000] [--days 90] [--runs 5] [--db postgresql+psycopg://...]
    python bench/analytics.py --existing --db URL   # the queries again, over a history built before

Conversations and messages are written with plain batched INSERTs (customers' messages, agents'
replies naming what they answer, resolutions), then the product computes their report facts and
roll-ups itself (analytics/facts.py, the path every transaction takes), so the figures are the
dashboards' over what the product keeps, not over a table built for the benchmark.
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from cryptography.fernet import Fernet

from caredesk.actions import admin, service_levels
from caredesk.actions.base import Actor
from caredesk.analytics import charts, planning, reports, staffing, upkeep
from caredesk.config import Settings
from caredesk.domain.types import Role
from caredesk.runtime import Runtime
from caredesk.security.vault import SecretBox
from caredesk.storage import models as m
from caredesk.storage.db import Database

END = datetime(2026, 12, 1, tzinfo=UTC)
NETWORKS = ["x", "facebook", "instagram", "email", "mastodon"]
LANGUAGES = ["en"] * 6 + ["da", "de", "es", "fr"]
TOPICS = ["billing", "delivery", "outage", "account", "returns", None]
# arrivals per hour of the day (local), weekdays and weekends
DAY_SHAPE = [1, 1, 1, 1, 1, 2, 4, 7, 10, 12, 12, 11, 10, 11, 12, 12, 11, 10, 9, 8, 7, 5, 3, 2]
WEEKEND = 0.6
PLAN = staffing.Demand(0.0, 3600, 300, 0.8, 3600, None, 1, 0.85, 0.3)  # the report page's assumptions


def setup(rt: Runtime) -> tuple[int, list[int], list[int], list[int]]:
    system = Actor.system()
    ws = admin.create_workspace(rt, system, slug="bench", name="Bench", timezone="Europe/Copenhagen")
    agents = []
    for i in range(20):
        a = admin.create_agent(rt, system, email=f"a{i}@bench.example", name=f"Agent {i}", password="x" * 12)
        admin.add_member(rt, system, workspace_id=ws.id, agent_id=a.id, role=Role.AGENT)
        agents.append(a.id)
    teams = [
        admin.create_team(rt, system, workspace_id=ws.id, name=f"Team {t}", agent_ids=agents[t::3]).id
        for t in range(3)
    ]
    channels = [
        admin.create_channel(
            rt, system, workspace_id=ws.id, connector="webhook", name=f"{network} care",
            config={"outbound_url": "http://127.0.0.1:9/x"}, credentials={"secret": "s"},
        ).id
        for network in NETWORKS
    ]  # fmt: skip
    with rt.db.write() as session:
        for cid, network in zip(channels, NETWORKS, strict=True):
            session.execute(sa.update(m.Channel).where(m.Channel.id == cid).values(network=network))
    week = {d: [["08:00", "20:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
    week["sat"] = [["10:00", "16:00"]]
    service_levels.save_calendar(
        rt, system, workspace_id=ws.id,
        data={"name": "Care", "time_zone": "Europe/Copenhagen", "week": week, "channel_ids": channels},
    )  # fmt: skip
    service_levels.save_policy(
        rt, system, workspace_id=ws.id, data={"name": "Social", "first_reply_minutes": 60}
    )
    return ws.id, agents, teams, channels


def arrival(rng: random.Random, days: int) -> datetime:
    """A customer's first message: a day of the range, an hour by the weekly rhythm."""
    while True:
        day = rng.randrange(days)
        at = END - timedelta(days=days - day)
        weight = WEEKEND if at.weekday() >= 5 else 1.0
        hour = rng.choices(range(24), DAY_SHAPE)[0]
        if rng.random() < weight:
            return at + timedelta(hours=hour - 1, seconds=rng.randrange(3600))  # Copenhagen is UTC+1


def build(rt: Runtime, target: int, days: int) -> tuple[int, int, int]:
    ws, agents, teams, channels = setup(rt)
    sla = None
    with rt.db.read() as session:
        sla = session.scalar(sa.select(m.SlaPolicy.id).where(m.SlaPolicy.workspace_id == ws))
    rng = random.Random(20261201)
    written = conversations = 0
    serial = 0
    while written < target:
        batch = min(5000, max(1, (target - written) // 3))
        with rt.db.write() as session:
            contacts = [
                {"workspace_id": ws, "name": f"Customer {serial + i}", "created_at": END}
                for i in range(batch)
            ]
            session.execute(sa.insert(m.Contact), contacts)
            first_contact = int(session.scalar(sa.select(sa.func.max(m.Contact.id))) or 0) - batch + 1
            convs, threads = [], []
            for i in range(batch):
                start = arrival(rng, days)
                channel = rng.choice(channels)
                public = rng.random() < 0.4
                msgs: list[dict[str, Any]] = []
                at = start
                for k in range(rng.choice([1, 1, 1, 2, 2, 3])):
                    ext = f"m{serial}-{k}"
                    msgs.append(
                        {"direction": "in", "external_id": ext, "created_at": at, "in_reply_to": None}
                    )
                    if rng.random() < 0.85:
                        delay = timedelta(seconds=min(rng.lognormvariate(6.8, 1.3), 3 * 86400))
                        sent = at + delay
                        msgs.append({"direction": "out", "external_id": f"r{serial}-{k}", "created_at": sent,
                                     "sent_at": sent, "in_reply_to": ext, "delivery": "sent"})  # fmt: skip
                        at = sent + timedelta(seconds=rng.randrange(60, 6 * 3600))
                    else:
                        at += timedelta(seconds=rng.randrange(30, 1800))
                last = max(x["created_at"] for x in msgs)
                resolved = rng.random() < 0.75
                convs.append(
                    {
                        "workspace_id": ws, "channel_id": channel, "contact_id": first_contact + i,
                        "status": "resolved" if resolved else rng.choice(["open", "pending"]),
                        "priority": rng.randint(0, 100), "priority_reasons": [],
                        "assignee_id": rng.choice([None, *agents]), "team_id": rng.choice([None, *teams]),
                        "is_public": public, "is_direct": rng.random() < 0.9,
                        "language": rng.choice(LANGUAGES), "topic": rng.choice(TOPICS),
                        "sla_policy_id": sla, "first_inbound_at": start, "last_inbound_at": start,
                        "last_message_at": last,
                        "resolved_at": last + timedelta(minutes=30) if resolved else None,
                        "sla_pauses": [], "sla_alerts": {}, "external_ticket": {},
                        "message_count": len(msgs), "created_at": start, "updated_at": last,
                    }
                )  # fmt: skip
                threads.append((msgs, channel, public, first_contact + i))
                serial += 1
            session.execute(sa.insert(m.Conversation), convs)
            first_conv = int(session.scalar(sa.select(sa.func.max(m.Conversation.id))) or 0) - batch + 1
            rows = []
            for i, (msgs, channel, public, contact) in enumerate(threads):
                for x in msgs:
                    inbound = x["direction"] == "in"
                    rows.append(
                        {
                            "workspace_id": ws, "conversation_id": first_conv + i, "channel_id": channel,
                            "is_public": public, "contact_id": contact if inbound else None,
                            "text": "where is my order?" if inbound else "Sorry about that, checking now",
                            "sentiment": rng.choice(["negative", "neutral", "positive"]) if inbound else None,
                            "references": [], "raw": {}, "triage": {}, "received_at": x["created_at"],
                            "sent_at": None, "delivery": None, **x,
                        }
                    )  # fmt: skip
            session.execute(sa.insert(m.Message), rows)
            written += len(rows)
            conversations += batch
    upkeep.recompute(rt.db)  # the facts, then the roll-ups from them
    with rt.db.write() as session:  # planner statistics, as autovacuum (PostgreSQL) would gather them
        session.execute(sa.text("ANALYZE"))
    return ws, written, conversations


def queries(ws: int) -> list[tuple[str, Callable[[Any], Any]]]:
    local = END.astimezone(ZoneInfo("Europe/Copenhagen")).replace(hour=0)  # ranges of whole local days
    month = local - timedelta(days=30)
    week = local - timedelta(days=7)
    odd = month.replace(hour=10, minute=23)  # a range starting inside a day: that day from the facts
    out: list[tuple[str, Callable[[Any], Any]]] = [
        ("summary, all time", lambda s: reports.summary(s, ws)),
        ("summary, 30 days", lambda s: reports.summary(s, ws, since=month, until=local)),
        (
            "summary, 7 days, business hours",
            lambda s: reports.summary(s, ws, since=week, business_hours=True),
        ),
        ("summary, from 10:23 a month ago", lambda s: reports.summary(s, ws, since=odd)),
    ]
    for by in reports.SLICES:
        out.append((f"summary by {by}", lambda s, by=by: reports.summary(s, ws, by=by)))
    out += [
        ("reply times, all time", lambda s: reports.reply_times(s, workspace_ids=[ws])),
        ("reply times, 30 days, bh", lambda s: reports.reply_times(s, workspace_ids=[ws], since=month,
                                                                   business_hours=True)),
        ("heatmap, all time", lambda s: reports.hour_of_week(s, ws)),
        ("heatmap, 30 days, bh", lambda s: reports.hour_of_week(s, ws, since=month, business_hours=True)),
        ("per day, 30 days", lambda s: charts.daily_figures(s, ws, month, local)),
        ("staffing plan, 4 weeks", lambda s: planning.weekly_plan(s, ws, END, PLAN, until=local)),
    ]  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=3_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db", default=None)
    parser.add_argument(
        "--existing",
        action="store_true",
        help="time the queries over the history an earlier run left in --db",
    )
    args = parser.parse_args()
    if args.existing and not args.db:
        raise SystemExit("--existing needs --db")
    folder = Path(tempfile.mkdtemp(prefix="caredesk-bench-"))
    url = args.db or f"sqlite:///{folder / 'bench.db'}"
    db = Database(url)
    if not args.existing:
        db.migrate()
    rt = Runtime(
        db=db, settings=Settings(database_url=url, data_dir=folder), vault=SecretBox([Fernet.generate_key()])
    )
    print(f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()}")
    started = time.perf_counter()
    if args.existing:
        with rt.db.read() as s:
            ws = int(s.scalar(sa.select(m.Workspace.id).where(m.Workspace.slug == "bench")) or 0)
            written = int(s.scalar(sa.select(sa.func.count()).select_from(m.Message)) or 0)
            conversations = int(s.scalar(sa.select(sa.func.count()).select_from(m.Conversation)) or 0)
    else:
        ws, written, conversations = build(rt, args.messages, args.days)
    with rt.db.read() as s:
        rolled = s.scalar(sa.select(sa.func.count()).select_from(m.daily_rollups))
        bins = s.scalar(sa.select(sa.func.count()).select_from(m.rollup_histograms))
    print(
        f"database: {db.dialect}; {written:,} messages in {conversations:,} conversations"
        f" over {args.days} days,"
        f" facts and roll-ups ({rolled:,} day rows, {bins:,} histogram rows)"
        + ("" if args.existing else f" written in {time.perf_counter() - started:.0f} s")
    )
    slowest = 0.0
    for name, query in queries(ws):
        times = []
        for _ in range(args.runs):
            with rt.db.read() as session:
                t0 = time.perf_counter()
                result = query(session)
                times.append((time.perf_counter() - t0) * 1000)
        if not result:
            raise SystemExit(f"{name}: no figures")
        slowest = max(slowest, *times)
        print(f"{name:<36} median {statistics.median(times):7.1f} ms   max {max(times):7.1f} ms")
    print(f"slowest dashboard query: {slowest:.0f} ms")
    rt.close()


if __name__ == "__main__":
    main()
