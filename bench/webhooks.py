"""Webhook accept rate of one API process (B3): signature check, validation and the durable spool, over
HTTP. Prints figures; asserts nothing.

The real server (`caredesk serve --no-workers`: uvicorn, one process, 127.0.0.1, a free port) receives N
distinct, correctly signed deliveries, one event each, half from X (Account Activity API: mentions and
DMs, `x-twitter-webhooks-signature`) and half from a Facebook Page (feed comments and Messenger,
`X-Hub-Signature-256`). The payloads are made and signed by the fake networks (caredesk.fakes.x,
caredesk.fakes.meta) exactly as the networks make them. A separate load-generator process sends them
with httpx over keep-alive connections, `--concurrency` requests in flight. Without workers nothing
drains the spool, so afterwards the spool holds exactly what was accepted; the bench counts it.

    python bench/webhooks.py [--n 20000] [--concurrency 64] [--db postgresql+psycopg://...]

On PostgreSQL the bench works in a schema of its own (created, then dropped), as the tests do.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from cryptography.fernet import Fernet

from caredesk.actions import admin
from caredesk.actions.base import Actor
from caredesk.config import Settings
from caredesk.connectors.x import signing
from caredesk.fakes.meta import FakeMetaGraph
from caredesk.fakes.x import FakeX
from caredesk.runtime import Runtime
from caredesk.security.vault import SecretBox
from caredesk.storage import models as m
from caredesk.storage.db import Database

PAGE_ID = "104000000000001"
PAGE_TOKEN = "EAAGbenchPageToken"  # noqa: S105 (the fake Page's, made up)
APP_SECRET = "meta-app-secret-bench"  # noqa: S105
VERIFY_TOKEN = "verify-bench"  # noqa: S105
CUSTOMERS = 500
RETRIES = 2  # a delivery that got no answer (connection dropped) is sent again, as X and Meta do
COMMENTS_PER_POST = 20
TEXTS = [
    "my internet has been down since this morning, any news?",
    "why is my bill so high this month?",
    "Thanks for the quick help yesterday!",
    "I want to cancel my contract, switching to another provider",
    "¿Por qué no funciona mi móvil en el extranjero?",
    "Meine Rechnung ist falsch, bitte prüfen",
    "我的订单还没有到，已经一个星期了",
]


@dataclass(frozen=True, slots=True)
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes


# --- the deliveries, made and signed by the fake networks ------------------------------------------------


def x_deliveries(x: FakeX, channel_id: int, n: int) -> list[Delivery]:
    """Account Activity deliveries: customers mentioning the brand (some as replies) and DMing it."""
    t0 = datetime.now(UTC) - timedelta(days=1)
    users = [x.user(f"cust{k}", name=f"Customer {k}", followers=k) for k in range(CUSTOMERS)]
    ids: list[str] = []
    for i in range(n):
        who = users[i % CUSTOMERS].username
        text = f"{TEXTS[i % len(TEXTS)]} (#{i})"
        at = t0 + timedelta(milliseconds=3 * i)
        if i % 3 == 2:
            ids.append(x.dm(who, text, at=at).id)
        else:
            ids.append(x.post(who, f"@{x.brand.username} {text}", at=at).id)
    out = []
    for object_id in ids:
        body = _json(x.activity(object_id))
        headers = {"Content-Type": "application/json", signing.HEADER: signing.sign(x.consumer_secret, body)}
        out.append(Delivery(f"/hooks/{channel_id}", headers, body))
    return out


def facebook_deliveries(meta: FakeMetaGraph, channel_id: int, n: int) -> list[Delivery]:
    """Page webhooks (object "page"), one entry each: comments on the Page's posts and Messenger messages."""
    t0 = datetime.now(UTC) - timedelta(days=1)
    post_id = ""
    for i in range(n):
        text = f"{TEXTS[i % len(TEXTS)]} (#{i})"
        at = t0 + timedelta(milliseconds=3 * i)
        who = i % CUSTOMERS
        if i % 2:
            psid = str(6_100_000_000_000_000 + who)
            meta.add_message(PAGE_ID, psid, text, name=f"Customer {who}", created=at)
            continue
        if i % (2 * COMMENTS_PER_POST) == 0:
            post_id = meta.add_post(PAGE_ID, "Our new autumn collection is here", created=at)
        meta.add_comment(
            PAGE_ID, post_id, text, author_id=str(3_000_000_000_000 + who), author_name=f"Customer {who}",
            created=at,
        )  # fmt: skip
    out = []
    for entry in meta.pending_entries(PAGE_ID, "page"):
        body = meta.body("page", [entry])
        out.append(Delivery(f"/hooks/{channel_id}", meta.signed(PAGE_ID, body), body))
    return out


def _json(payload: dict[str, Any]) -> bytes:
    """As X serialises it: compact JSON."""
    return json.dumps(payload, separators=(",", ":")).encode()


# --- the workspace and the server --------------------------------------------------------------------------


def setup_channels(rt: Runtime, x: FakeX, meta: FakeMetaGraph) -> tuple[int, int]:
    system = Actor.system()
    ws = admin.create_workspace(rt, system, slug="bench", name="Bench")
    x_channel = admin.create_channel(
        rt, system, workspace_id=ws.id, connector="x", name=f"X @{x.brand.username}",
        config={"base_url": "http://127.0.0.1:9", "user_id": x.brand.id},
        credentials={"bearer_token": x.bearer_token, "user_token": x.user_token,
                     "consumer_secret": x.consumer_secret},
        own_account_id=x.brand.id,
    )  # fmt: skip
    page = meta.pages[PAGE_ID]
    fb_channel = admin.create_channel(
        rt, system, workspace_id=ws.id, connector="facebook", name="Acme on Facebook",
        config={"graph_url": "http://127.0.0.1:9", "api_version": "v25.0", "page_id": PAGE_ID,
                "verify_token": page.verify_token},
        credentials={"page_access_token": page.token, "app_secret": page.app_secret},
        own_account_id=PAGE_ID,
    )  # fmt: skip
    return x_channel.id, fb_channel.id


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(url: str, port: int, key: bytes, data: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CAREDESK_SECRET_KEYS": key.decode(), "CAREDESK_DATA_DIR": str(data)}
    command = [sys.executable, "-m", "caredesk.cli", "serve", "--db", url, "--host", "127.0.0.1",
               "--port", str(port), "--no-workers"]  # fmt: skip
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            err = server.stderr.read().decode(errors="replace") if server.stderr else ""
            raise SystemExit(f"the server exited at start-up ({server.returncode}):\n{err}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.kill()
    raise SystemExit("the server did not answer /healthz within 60 s")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the load generator (a process of its own) ----------------------------------------------------------


def load(base_url: str, deliveries: list[Delivery], concurrency: int, out: Any) -> None:
    out.put(asyncio.run(_load(base_url, deliveries, concurrency)))


async def _load(base_url: str, deliveries: list[Delivery], concurrency: int) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    statuses: Counter[int] = Counter()
    errors: list[str] = []
    latencies: list[float] = []
    todo = iter(deliveries)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=120) as client:

        async def worker() -> None:
            for d in todo:
                for attempt in range(RETRIES + 1):
                    start = time.perf_counter()
                    try:
                        response = await client.post(d.path, content=d.body, headers=d.headers)
                        break
                    except httpx.HTTPError as exc:  # no answer: the networks deliver again
                        errors.append(f"attempt {attempt + 1}: {type(exc).__name__}: {exc}")
                else:
                    statuses[0] += 1
                    continue
                latencies.append(time.perf_counter() - start)
                statuses[response.status_code] += 1
                if response.status_code >= 300 and len(errors) < 5:
                    errors.append(f"{response.status_code} {response.text[:200]}")

        cpu0, t0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {"statuses": dict(statuses), "errors": errors, "latencies": latencies, "elapsed": elapsed,
            "cpu": cpu}  # fmt: skip


# --- the run -----------------------------------------------------------------------------------------------


def spooled(rt: Runtime, channel_ids: tuple[int, ...]) -> tuple[int, int]:
    with rt.db.read() as s:
        spool = s.scalar(
            sa.select(sa.func.count(m.SpoolEvent.id)).where(m.SpoolEvent.channel_id.in_(channel_ids))
        )
        digests = s.scalar(
            sa.select(sa.func.count(m.WebhookDelivery.id)).where(
                m.WebhookDelivery.channel_id.in_(channel_ids)
            )
        )
    return int(spool or 0), int(digests or 0)


def pg_schema(url: str) -> tuple[str, str]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    scoped = sa.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    return schema, scoped.render_as_string(hide_password=False)


def drop_schema(url: str, schema: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def busy_note(load1: float, cores: int) -> str:
    if load1 >= 0.5 * cores:
        return "  <- BUSY: other work is running on this machine; figures are lower than on an idle one"
    return ""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=20_000, help="deliveries to send (one event each)")
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight")
    parser.add_argument("--db", default=None, help="database URL (default: a fresh SQLite file)")
    args = parser.parse_args()

    cores = os.cpu_count() or 1
    print(
        f"machine: {platform.machine()} {platform.system()} {platform.release()}, {cores} cores, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    )
    load_before = os.getloadavg()
    print(f"load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}"
          + busy_note(load_before[0], cores))  # fmt: skip

    with tempfile.TemporaryDirectory() as tmp:
        schema = None
        if args.db:
            schema, url = pg_schema(args.db) if not args.db.startswith("sqlite") else (None, args.db)
        else:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        key = Fernet.generate_key()
        rt = Runtime(
            db=Database(url), settings=Settings(database_url=url, data_dir=Path(tmp)), vault=SecretBox([key])
        )
        server: subprocess.Popen[bytes] | None = None
        try:
            rt.db.migrate()
            x = FakeX()
            meta = FakeMetaGraph()
            meta.add_page(
                PAGE_ID, name="Acme", token=PAGE_TOKEN, app_secret=APP_SECRET, verify_token=VERIFY_TOKEN
            )
            meta.subscribe(PAGE_ID, {"feed", "messages"})
            x_id, fb_id = setup_channels(rt, x, meta)

            t0 = time.perf_counter()
            half = args.n // 2
            from_x, from_fb = x_deliveries(x, x_id, args.n - half), facebook_deliveries(meta, fb_id, half)
            deliveries = [d for pair in zip(from_x, from_fb, strict=False) for d in pair]
            deliveries += from_x[len(from_fb) :] + from_fb[len(from_x) :]
            sizes = sorted(len(d.body) for d in deliveries)
            print(f"database: {rt.db.dialect}{f' (schema {schema})' if schema else ''}; "
                  f"{len(deliveries)} deliveries ({len(from_x)} X, {len(from_fb)} Facebook), "
                  f"bodies {sizes[0]}-{sizes[-1]} bytes (median {sizes[len(sizes) // 2]}), "
                  f"made and signed in {time.perf_counter() - t0:.1f} s")  # fmt: skip

            port = free_port()
            server = start_server(url, port, key, Path(tmp) / "server")
            base = f"http://127.0.0.1:{port}"
            # The networks' ownership checks, once each: the channels answer as configured.
            with httpx.Client(timeout=10) as http:
                crc = x.crc_check(f"{base}/hooks/{x_id}", http=http)
                meta.set_hook(PAGE_ID, f"{base}/hooks/{fb_id}")
                handshake = meta.handshake(PAGE_ID, http=http).ok
            checks = f"X CRC {'ok' if crc else 'FAILED'}, Meta handshake {'ok' if handshake else 'FAILED'}"
            print(f"server: pid {server.pid}, {base}, 1 process, no workers; {checks}")

            cpu0 = cpu_seconds(server.pid)
            ctx = multiprocessing.get_context("spawn")
            results = ctx.Queue()
            loader = ctx.Process(target=load, args=(base, deliveries, args.concurrency, results))
            loader.start()
            result: dict[str, Any] = results.get()
            loader.join()
            cpu1 = cpu_seconds(server.pid)
            load_after = os.getloadavg()

            statuses: dict[int, int] = result["statuses"]
            accepted = sum(v for k, v in statuses.items() if 200 <= k < 300)
            lat = sorted(result["latencies"])
            elapsed = result["elapsed"]
            answers = ", ".join(f"{k or 'no answer'}: {v}" for k, v in sorted(statuses.items()))
            print(f"sent {len(deliveries)}, accepted {accepted} (answers: {answers})")
            for error in result["errors"][:5]:
                print(f"  refused or unanswered: {error}")
            if len(result["errors"]) > 5:
                print(f"  ... {len(result['errors'])} in all")
            print(f"accepted per second:   {accepted / elapsed:10.0f} /s  ({elapsed:.1f} s, "
                  f"{args.concurrency} in flight, keep-alive, 1 load-generator process)")  # fmt: skip
            print(f"request latency:       p50 {percentile(lat, 0.50) * 1000:.1f} ms, "
                  f"p99 {percentile(lat, 0.99) * 1000:.1f} ms, max {lat[-1] * 1000 if lat else 0:.1f} ms, "
                  f"mean {statistics.fmean(lat) * 1000 if lat else 0:.1f} ms")  # fmt: skip
            if cpu0 is not None and cpu1 is not None and accepted:
                server_cpu = cpu1 - cpu0
                per = server_cpu / accepted * 1e6
                client = f"load generator {result['cpu']:.1f} s ({result['cpu'] / elapsed:.0%} of one core)"
                print(f"CPU:                   server {server_cpu:.1f} s ({per:.0f} µs per delivery, "
                      f"{server_cpu / elapsed:.0%} of one core), {client}")  # fmt: skip
            print(f"load average after:    {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f} "
                  f"(includes this run)")  # fmt: skip

            spool, digests = spooled(rt, (x_id, fb_id))
            ok = spool == digests == len(deliveries)
            line = (f"in the database:       {spool} spool rows, {digests} delivery digests "
                    f"(expected {len(deliveries)})")  # fmt: skip
            if ok:
                print(line + ": match")
            else:
                print("!" * 100)
                print(line + ": MISMATCH")
                print("!" * 100)
        finally:
            if server is not None:
                server.terminate()
                try:
                    server.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    server.kill()
            rt.close()
            if schema is not None and args.db:
                drop_schema(args.db, schema)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
