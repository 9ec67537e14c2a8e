"""The operator commands as a person runs them (real processes), and the demo a newcomer sees."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from caredesk.demo import content
from tests.conftest import shared_file

pytestmark = pytest.mark.slow


def free_port(run: int = 1) -> int:
    """A port that is free, with the `run - 1` ports after it free too (the demo's networks take three)."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            base = int(sock.getsockname()[1])
        if base + run > 65535:
            continue
        try:
            for port in range(base + 1, base + run):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no run of free ports")


def run(*args: str, cwd: Path, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CAREDESK_DATA_DIR": str(cwd / "data"), **(env_extra or {})}
    env.pop("CAREDESK_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "caredesk.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_import_twcs_then_report_kpis_json(tmp_path: Path) -> None:
    path = shared_file("twcs/first5000.csv")
    first = run("import", "twcs", str(path), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "accepted 5008" in first.stdout and "parked 0" in first.stdout  # 8 tweets two brands answered
    again = run("import", "twcs", str(path), cwd=tmp_path)
    assert "accepted 0, already there 5008" in again.stdout
    report = run("report", "kpis", "--format", "json", cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    rows = {r["workspace"]: r for r in json.loads(report.stdout)}
    assert len(rows) == 76
    spotify = rows["spotifycares"]
    assert spotify["inbound_conversations"] > 0 and 0 <= spotify["response_rate"] <= 1
    table = run("report", "kpis", "--format", "table", "--workspace", "spotifycares", cwd=tmp_path)
    assert table.stdout.splitlines()[0].split()[0] == "workspace" and "spotifycares" in table.stdout
    replies = run("report", "reply-times", "--format", "json", "--workspace", "spotifycares", cwd=tmp_path)
    (spotify_replies,) = json.loads(replies.stdout)
    assert spotify_replies["customer_messages"] >= spotify_replies["replied"] > 0
    assert spotify_replies["median_minutes"] > 0 and not spotify_replies["business_hours"]
    rebuilt = run("report", "rebuild-facts", cwd=tmp_path)
    assert rebuilt.returncode == 0 and "facts rebuilt for" in rebuilt.stdout
    again = run("report", "reply-times", "--format", "json", "--workspace", "spotifycares", cwd=tmp_path)
    assert json.loads(again.stdout) == [spotify_replies]
    exported = run(
        "report", "conversations", "--workspace", "spotifycares", "--until", "2017-11-01", cwd=tmp_path
    )
    lines = exported.stdout.splitlines()
    assert (
        exported.returncode == 0
        and lines[0].startswith("conversation_id,workspace,channel")
        and len(lines) > 10
    )
    assert all(",spotifycares," in line for line in lines[1:])
    summary = ("report", "summary", "--workspace", "spotifycares", "--format", "json")
    (whole,) = json.loads(run(*summary, "--exact", cwd=tmp_path).stdout)
    assert whole["conversations"] == spotify["inbound_conversations"]  # the facts agree with the KPIs
    assert whole["response_rate"] == pytest.approx(spotify["response_rate"], abs=1e-4)
    assert whole["first_response"]["median"] == pytest.approx(
        spotify["first_response_median_minutes"], abs=1e-3
    )
    (rolled,) = json.loads(run(*summary, cwd=tmp_path).stdout)  # roll-ups: counts exact, quantiles to 1%
    assert rolled["conversations"] == whole["conversations"]
    assert rolled["first_response"]["median"] == pytest.approx(whole["first_response"]["median"], rel=0.01)
    heat = json.loads(
        run("report", "heatmap", "--workspace", "spotifycares", "--format", "json", cwd=tmp_path).stdout
    )
    assert sum(map(sum, heat["volume"])) == spotify_replies["customer_messages"]
    wrong = run("report", "conversations", "--workspace", "spotifycares", "--since", "soon", cwd=tmp_path)
    assert wrong.returncode != 0 and "--since/--until" in wrong.stderr


def test_import_jsonl_reports_bad_lines_and_keeps_good_ones(tmp_path: Path) -> None:
    assert run("init", cwd=tmp_path).returncode == 0
    ws = run("admin", "add-workspace", "acme", "Acme", cwd=tmp_path)
    assert ws.returncode == 0, ws.stderr
    from caredesk.actions import admin
    from caredesk.actions.base import Actor
    from caredesk.config import load_settings
    from caredesk.runtime import Runtime

    rt = Runtime.open(load_settings(data_dir=tmp_path / "data"))
    channel = admin.create_channel(
        rt, Actor.system(), workspace_id=1, connector="webhook", name="Import", credentials={"secret": "k"}
    )
    rt.close()
    lines = [
        json.dumps(
            {"id": "j1", "created_at": "2026-11-01T10:00:00Z", "text": "hello", "author": {"id": "a"}}
        ),
        "{broken",
        json.dumps(
            {
                "id": "j2",
                "created_at": "2026-11-01T10:01:00Z",
                "text": "hi",
                "author": {"id": "a"},
                "in_reply_to": "j1",
                "direction": "out",
            }
        ),
        json.dumps({"id": "j3", "text": "no time", "author": {"id": "b"}}),
    ]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run("import", "jsonl", str(path), "--channel", str(channel.id), cwd=tmp_path)
    assert result.returncode == 1
    assert "accepted 2" in result.stdout
    assert (
        "line 2: not valid JSON" in result.stderr and "line 4: invalid message: created_at" in result.stderr
    )


def test_demo_workspace_content_and_server(tmp_path: Path) -> None:
    seeded = run("demo", "--no-serve", cwd=tmp_path)
    assert seeded.returncode == 0, seeded.stderr
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'data' / 'caredesk.db'}")
    with engine.connect() as conn:
        channels = conn.execute(sa.text("select count(*) from channels")).scalar()
        agents = conn.execute(
            sa.text(
                "select count(*) from memberships m join workspaces w on w.id = m.workspace_id "
                "where w.slug = 'nordlys' and m.role in ('agent','supervisor','admin')"
            )
        ).scalar()
        conversations = conn.execute(sa.text("select count(*) from conversations")).scalar()
        languages = dict(
            conn.execute(sa.text("select language, count(*) from conversations group by language")).all()
        )
    engine.dispose()
    assert channels >= 3 and agents >= 5 and conversations >= 50
    assert {"en", "zh", "he", "da"} <= set(languages) and len(languages) >= 4
    assert conversations == len(content.CONVERSATIONS)

    env = {**os.environ, "CAREDESK_DATA_DIR": str(tmp_path / "data")}
    web_port, net_port = free_port(), free_port(4)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "caredesk.cli",
            "demo",
            "--port",
            str(web_port),
            "--network-port",
            str(net_port),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{web_port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (
                proc.stdout.read().decode() if proc.stdout else ""
            )
            time.sleep(0.2)
        with httpx.Client(base_url=f"http://127.0.0.1:{web_port}") as web:
            login = web.post("/login", data={"email": "claire@nordlys.example", "password": "caredesk-demo"})
            assert login.status_code == 303
            page = web.get("/")
            assert page.status_code == 200 and page.text.count("data-conversation=") >= 20
            token = web.post(
                "/api/v1/auth/login", json={"email": "claire@nordlys.example", "password": "caredesk-demo"}
            ).json()["token"]
            h = {"Authorization": f"Bearer {token}"}
            # A customer writes through the fake network; the agent's reply lands back on it.
            injected = httpx.post(
                f"http://127.0.0.1:{net_port}/channels/chat/inject",
                json={
                    "id": "live-1",
                    "created_at": "2026-11-23T12:00:00Z",
                    "text": "Is there an outage in Aarhus?",
                    "author": {"id": "visitor-1", "name": "Visitor"},
                },
                timeout=10,
            )
            assert injected.status_code == 202, injected.text
            conv_id = None
            for _ in range(50):
                items = web.get(
                    "/api/v1/workspaces/1/conversations?q=outage%20in%20Aarhus", headers=h
                ).json()["items"]
                if items:
                    conv_id = items[0]["id"]
                    break
                time.sleep(0.1)
            assert conv_id is not None
            assert (
                web.post(
                    f"/api/v1/conversations/{conv_id}/replies",
                    json={"text": "No outage, checking ^CK"},
                    headers=h,
                ).status_code
                == 202
            )
            for _ in range(50):
                posted = httpx.get(f"http://127.0.0.1:{net_port}/channels/chat/replies").json()
                if posted:
                    break
                time.sleep(0.1)
            assert [p["text"] for p in posted] == ["No outage, checking ^CK"]
            # The live networks: a customer's X post, fetched by the X connector, answered in its thread.
            channels = {c["name"]: c for c in web.get("/api/v1/workspaces/1/channels", headers=h).json()}
            assert {"X @nordlys_care", "Mastodon @nordlys", "Email support@nordlys.example"} <= set(channels)
            found: list[dict[str, object]] = []
            for _ in range(100):
                found = web.get(
                    "/api/v1/workspaces/1/conversations?q=outage%20in%20Copenhagen", headers=h
                ).json()["items"]
                if found:
                    break
                time.sleep(0.2)
            assert found and found[0]["channel_name"] == "X @nordlys_care"
            r = web.post(
                f"/api/v1/conversations/{found[0]['id']}/replies",
                json={"text": "Checking the mast ^CK"},
                headers=h,
            )
            assert r.status_code == 202, r.text
            on_x: list[dict[str, object]] = []
            for _ in range(50):
                on_x = httpx.get(f"http://127.0.0.1:{net_port + 1}/_fake/published").json()
                if on_x:
                    break
                time.sleep(0.1)
            assert len(on_x) == 1 and str(on_x[0]["text"]).endswith("Checking the mast ^CK")
            assert on_x[0]["kind"] == "post" and on_x[0]["in_reply_to"]
            # Escalated, the conversation gets a ticket from the demo's ticket system.
            r = web.post(f"/api/v1/conversations/{conv_id}/escalate", json={"note": "mast down"}, headers=h)
            assert r.status_code == 202, r.text
            ticket: dict[str, object] = {}
            for _ in range(50):
                detail = web.get(f"/api/v1/conversations/{conv_id}", headers=h).json()
                ticket = detail["external_ticket"] or {}
                if ticket.get("id"):
                    break
                time.sleep(0.1)
            assert str(ticket.get("id", "")).startswith("T-") and ticket["status"] == "open", ticket
            sent = httpx.get(f"http://127.0.0.1:{net_port + 3}/events").json()
            assert [e["type"] for e in sent] == ["conversation.escalated"]
            # The demo's canned responses are suggested with the conversation's values filled in.
            canned = web.get(f"/api/v1/conversations/{conv_id}/canned-responses?q=outage", headers=h).json()
            assert canned["suggestions"][0]["shortcut"] == "outage"
            assert "https://status.nordlys.example" in canned["suggestions"][0]["text"]
    finally:
        proc.terminate()
        proc.wait(10)


def test_channel_and_watch_commands(tmp_path: Path) -> None:
    assert run("admin", "add-workspace", "acme", "Acme", cwd=tmp_path).returncode == 0
    added = run(
        "channel",
        "add",
        "webhook",
        "--workspace",
        "acme",
        "--name",
        "Widget",
        "--config",
        "outbound_url=http://127.0.0.1:9/replies",
        "--credential",
        "secret=s3cr3t-value",
        cwd=tmp_path,
    )
    assert added.returncode == 0, added.stderr
    assert "channel 1 Widget (webhook); webhooks: /hooks/1" in added.stdout
    listed = run("channel", "list", cwd=tmp_path)
    assert "acme\twebhook\tWidget\tenabled" in listed.stdout and "s3cr3t" not in listed.stdout
    tested = run("channel", "test", "1", cwd=tmp_path)
    assert tested.returncode == 1 and "FAILED" in tested.stdout and "unreachable" in tested.stdout
    bad = run(
        "channel",
        "add",
        "webhook",
        "--workspace",
        "acme",
        "--name",
        "X",
        "--config",
        "nonsense",
        cwd=tmp_path,
    )
    assert bad.returncode == 2 and "key=value" in bad.stderr
    watch = run(
        "watch",
        "add",
        "--workspace",
        "acme",
        "--name",
        "brand",
        "-k",
        "acme",
        "-p",
        "acme care",
        "-x",
        "roadrunner",
        "-l",
        "en",
        cwd=tmp_path,
    )
    assert watch.returncode == 0, watch.stderr
    assert '(acme OR "acme care") -roadrunner lang:en -is:retweet' in watch.stdout
    assert "keywords=acme" in run("watch", "list", "--workspace", "acme", cwd=tmp_path).stdout
