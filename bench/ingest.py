"""Intake throughput: N messages through the whole intake (spool -> every pipeline stage -> stored and
routed), and in the same run the storage floor: a plain batched INSERT of the same spool and message
rows, with the same batch size and one commit per batch. Prints figures; asserts nothing.

    python bench/ingest.py [--n 20000] [--batch 500] [--db postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.fernet import Fernet

from caredesk.actions import admin, intake
from caredesk.actions.base import Actor
from caredesk.config import Settings
from caredesk.domain.codec import event_to_dict
from caredesk.domain.types import Author, Direction, InboundEvent, Presence, Role
from caredesk.pipeline.runner import Pipeline
from caredesk.runtime import Runtime
from caredesk.security.vault import SecretBox
from caredesk.storage import models as m
from caredesk.storage.db import Database

TEXTS = [
    "My internet has been down since this morning, any news?",
    "Hvorfor er min regning så høj denne måned?",
    "我的订单还没有到，已经一个星期了",
    "ההזמנה שלי לא הגיעה ואף אחד לא עונה",
    "Thanks for the quick help yesterday!",
    "I want to cancel my contract, switching to another provider",
    "¿Por qué no funciona mi móvil en el extranjero?",
    "Meine Rechnung ist falsch, bitte prüfen",
]


def generate(n: int, seed: int = 7) -> list[InboundEvent]:
    """Customers writing, some answering earlier messages, some in private threads; in time order."""
    rng = random.Random(seed)
    t0 = datetime(2026, 11, 1, 8, tzinfo=UTC)
    customers = max(10, n // 4)
    events: list[InboundEvent] = []
    for i in range(n):
        who = rng.randrange(customers)
        private = who % 3 == 0
        parent = events[rng.randrange(len(events))].external_id if events and rng.random() < 0.3 else None
        brand = rng.random() < 0.2
        events.append(
            InboundEvent(
                external_id=f"b{i}",
                created_at=t0 + timedelta(seconds=i * 2),
                text=rng.choice(TEXTS),
                author=Author(id="brand")
                if brand
                else Author(id=f"c{who}", handle=f"@c{who}", name=f"Customer {who}"),
                direction=Direction.OUT if brand else Direction.IN,
                public=not private,
                in_reply_to=None if private else parent,
                thread=f"dm-{who}" if private else None,
                recipient=Author(id=f"c{who}") if brand else None,
            )
        )
    return events


def runtime(url: str, data: Path) -> Runtime:
    rt = Runtime(
        db=Database(url),
        settings=Settings(database_url=url, data_dir=data),
        vault=SecretBox([Fernet.generate_key()]),
    )
    rt.db.migrate()
    return rt


def setup_workspace(rt: Runtime) -> int:
    system = Actor.system()
    ws = admin.create_workspace(rt, system, slug="bench", name="Bench")
    for k in range(5):
        agent = admin.create_agent(
            rt,
            system,
            email=f"a{k}@bench.example",
            name=f"Agent {k}",
            password=None,
            languages=["en", "da"],
            max_concurrent=200,
        )
        admin.add_member(rt, system, workspace_id=ws.id, agent_id=agent.id, role=Role.AGENT)
        admin.set_presence(rt, system, Presence.ONLINE, agent_id=agent.id)
    channel = admin.create_channel(
        rt,
        system,
        workspace_id=ws.id,
        connector="webhook",
        name="Bench",
        credentials={"secret": "x"},
        own_account_id="brand",
    )
    return channel.id


def floor(rt: Runtime, channel_id: int, events: list[InboundEvent], batch: int) -> float:
    """Plain batched INSERTs of the same spool and message rows: what storage alone costs."""
    now = datetime.now(UTC)
    with rt.db.write() as s:
        contact = m.Contact(workspace_id=1, name="floor", created_at=now)
        s.add(contact)
        s.flush()
        conv = m.Conversation(
            workspace_id=1,
            channel_id=channel_id,
            contact_id=contact.id,
            last_message_at=now,
            created_at=now,
            updated_at=now,
        )
        s.add(conv)
        s.flush()
        conv_id = conv.id
    start = time.perf_counter()
    for i in range(0, len(events), batch):
        chunk = events[i : i + batch]
        with rt.db.write() as s:
            s.execute(
                m.SpoolEvent.__table__.insert(),
                [
                    {
                        "channel_id": channel_id,
                        "external_id": "f" + e.external_id,
                        "payload": event_to_dict(e),
                        "status": "done",
                        "attempts": 1,
                        "received_at": now,
                    }
                    for e in chunk
                ],
            )
            s.execute(
                m.Message.__table__.insert(),
                [
                    {
                        "workspace_id": 1,
                        "conversation_id": conv_id,
                        "channel_id": channel_id,
                        "direction": e.direction.value,
                        "is_public": e.public,
                        "is_automatic": False,
                        "external_id": "f" + e.external_id,
                        "in_reply_to": e.in_reply_to,
                        "thread": e.thread,
                        "references": [],
                        "text": e.text,
                        "triage": {},
                        "listening": False,
                        "raw": {},
                        "created_at": e.created_at,
                        "received_at": now,
                    }
                    for e in chunk
                ],
            )
    return len(events) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--db", default=None, help="database URL (default: a fresh SQLite file)")
    args = parser.parse_args()

    print(
        f"machine: {platform.machine()} {platform.system()} {platform.release()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    )
    events = generate(args.n)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'bench.db'}"
        rt = runtime(url, Path(tmp))
        print(f"database: {rt.db.dialect}, {args.n} messages, batch {args.batch}")
        channel_id = setup_workspace(rt)

        t0 = time.perf_counter()
        for i in range(0, len(events), args.batch):
            intake.accept(rt, channel_id, events[i : i + args.batch])
        t_spool = time.perf_counter() - t0
        t1 = time.perf_counter()
        result = Pipeline(rt, batch_size=args.batch).drain()
        t_pipe = time.perf_counter() - t1
        if result.processed != args.n or result.dead:
            raise SystemExit(f"intake did not process every message: {result}")

        floor_rate = floor(rt, channel_id, events, args.batch)
        end_to_end = args.n / (t_spool + t_pipe)
        print(f"spool (accept):        {args.n / t_spool:10.0f} msg/s")
        print(f"pipeline (all stages): {args.n / t_pipe:10.0f} msg/s")
        print(f"intake end to end:     {end_to_end:10.0f} msg/s")
        print(f"storage floor:         {floor_rate:10.0f} msg/s  (plain batched INSERT of the same rows)")
        print(f"end to end / floor:    {end_to_end / floor_rate:10.2f}")
        rt.close()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
