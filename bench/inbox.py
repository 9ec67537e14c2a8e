"""Inbox list server time: the queue page's partial (`/partials/queue`, rows and the count of every view)
rendered for an agent, with N conversations in the database. Prints the median, p95 and max of the
server time per view; asserts nothing.

    python bench/inbox.py [--n 100000] [--runs 30] [--db postgresql+psycopg://...]

The conversations are written with plain batched INSERTs (one message each, spread over the workspace's
channels, teams, statuses, owners and listening results), so the figure is the inbox's, not intake's.
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient

from caredesk.actions import admin, sessions
from caredesk.actions.base import Actor
from caredesk.api.app import create_app
from caredesk.api.deps import SESSION_COOKIE
from caredesk.config import Settings
from caredesk.domain.types import Role
from caredesk.runtime import Runtime
from caredesk.security.vault import SecretBox
from caredesk.storage import models as m
from caredesk.storage.db import Database

PASSWORD = "bench pass 1"  # noqa: S105 (a throwaway database)
STATUSES = ["open"] * 5 + ["pending", "snoozed"] + ["resolved"] * 13
TEXTS = [
    "My internet has been down since this morning, any news?",
    "Hvorfor er min regning så høj denne måned?",
    "我的订单还没有到，已经一个星期了",
    "I want to cancel my contract, switching to another provider",
    "Thanks for the quick help yesterday!",
]


def build(rt: Runtime, n: int) -> str:
    system = Actor.system()
    ws = admin.create_workspace(rt, system, slug="bench", name="Bench")
    agents = []
    for i in range(8):
        a = admin.create_agent(rt, system, email=f"a{i}@bench.example", name=f"Agent {i}", password=PASSWORD)
        admin.add_member(
            rt, system, workspace_id=ws.id, agent_id=a.id, role=Role.SUPERVISOR if i == 0 else Role.AGENT
        )
        agents.append(a.id)
    teams = [
        admin.create_team(rt, system, workspace_id=ws.id, name=f"Team {t}", agent_ids=agents[t::2]).id
        for t in range(2)
    ]
    channels = [
        admin.create_channel(
            rt,
            system,
            workspace_id=ws.id,
            connector="webhook",
            name=f"Chat {c}",
            config={"outbound_url": "http://127.0.0.1:9/x"},
            credentials={"secret": "s"},
        ).id
        for c in range(3)
    ]
    rng = random.Random(7)
    now = datetime.now(UTC)
    with rt.db.write() as session:
        for start in range(0, n, 5000):
            count = min(5000, n - start)
            contacts = [
                {"workspace_id": ws.id, "name": f"Customer {start + i}", "created_at": now}
                for i in range(count)
            ]
            session.execute(sa.insert(m.Contact), contacts)
            first = int(session.scalar(sa.select(sa.func.max(m.Contact.id))) or 0) - count + 1
            convs = []
            for i in range(count):
                status = rng.choice(STATUSES)
                at = now - timedelta(minutes=rng.randint(1, 60 * 24 * 60))
                waiting = at if status == "open" and rng.random() < 0.7 else None
                convs.append(
                    {
                        "workspace_id": ws.id,
                        "channel_id": rng.choice(channels),
                        "contact_id": first + i,
                        "status": status,
                        "priority": rng.randint(0, 100),
                        "priority_reasons": [],
                        "assignee_id": rng.choice([None, None, *agents]),
                        "team_id": rng.choice([None, *teams]),
                        "is_public": rng.random() < 0.5,
                        "is_direct": rng.random() < 0.9,
                        "language": "en",
                        "first_inbound_at": at,
                        "last_inbound_at": at,
                        "last_message_at": at,
                        "waiting_since": waiting,
                        "waiting_count": 1 if waiting else 0,
                        "first_reply_due_at": at + timedelta(hours=1) if waiting else None,
                        "sla_pauses": [],
                        "sla_alerts": {},
                        "external_ticket": {},
                        "message_count": 1,
                        "created_at": at,
                        "updated_at": at,
                    }
                )
            session.execute(sa.insert(m.Conversation), convs)
            first_conv = int(session.scalar(sa.select(sa.func.max(m.Conversation.id))) or 0) - count + 1
            session.execute(
                sa.insert(m.Message),
                [
                    {
                        "workspace_id": ws.id,
                        "conversation_id": first_conv + i,
                        "channel_id": convs[i]["channel_id"],
                        "direction": "in",
                        "is_public": convs[i]["is_public"],
                        "contact_id": convs[i]["contact_id"],
                        "external_id": f"b-{start + i}",
                        "text": rng.choice(TEXTS),
                        "sentiment": "negative",
                        "triage": {"topic": "billing"},
                        "references": [],
                        "raw": {},
                        "created_at": convs[i]["last_message_at"],
                        "received_at": convs[i]["last_message_at"],
                    }
                    for i in range(count)
                ],
            )
    with rt.db.write() as session:  # planner statistics, as autovacuum (PostgreSQL) would gather them
        session.execute(sa.text("ANALYZE"))
    return sessions.start_session(rt, "a1@bench.example", PASSWORD).token


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--db", default=None)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="caredesk-bench-"))
    url = args.db or f"sqlite:///{folder / 'bench.db'}"
    db = Database(url)
    db.migrate()
    rt = Runtime(
        db=db, settings=Settings(database_url=url, data_dir=folder), vault=SecretBox([Fernet.generate_key()])
    )
    started = time.perf_counter()
    token = build(rt, args.n)
    print(f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()}")
    print(
        f"database: {db.dialect}; {args.n:,} conversations written in {time.perf_counter() - started:.1f} s"
    )
    with TestClient(create_app(rt)) as client:
        client.cookies.set(SESSION_COOKIE, token)
        for view in ("all", "mine", "unassigned", "team", "listening"):
            times = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                r = client.get(f"/partials/queue?view={view}")
                times.append((time.perf_counter() - t0) * 1000)
                if r.status_code != 200:
                    raise SystemExit(f"the partial answered {r.status_code}")
            times.sort()
            p95 = times[int(len(times) * 0.95) - 1]
            median = statistics.median(times)
            print(f"view {view:<10} median {median:7.1f} ms   p95 {p95:7.1f} ms   max {times[-1]:7.1f} ms")
    rt.close()


if __name__ == "__main__":
    main()
