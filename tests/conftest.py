"""Test fixtures: a fresh database per test on SQLite and on PostgreSQL.

PostgreSQL: CAREDESK_TEST_PG_URL names it (CI sets it, so a broken server fails the run). Without it, the
machine's 127.0.0.1:5432 is used when something listens there; when nothing does, the PostgreSQL half is
skipped with a message saying so. Each test session works in a schema of its own.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient

from caredesk.actions import admin, intake
from caredesk.actions.base import Actor
from caredesk.api.app import create_app
from caredesk.config import Settings
from caredesk.domain.types import Author, InboundEvent, Role
from caredesk.pipeline.runner import Pipeline
from caredesk.runtime import Runtime
from caredesk.security.vault import SecretBox
from caredesk.storage import models as m
from caredesk.storage.db import Database
from caredesk.storage.models import Base

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def shared_file(relative: str) -> Path:
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"{path} is not on this machine (../shared/data holds the public data sets)")
    return path


def _pg_url() -> str | None:
    explicit = os.environ.get("CAREDESK_TEST_PG_URL")
    if explicit:
        return explicit
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return DEFAULT_PG
    except OSError:
        return None


@pytest.fixture(scope="session")
def pg_schema_url() -> Iterator[str]:
    url = _pg_url()
    if url is None:
        pytest.skip("no PostgreSQL listens on 127.0.0.1:5432 and CAREDESK_TEST_PG_URL is not set")
    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin_engine = sa.create_engine(url)
    # A configured but broken server fails here, loudly: it is not skipped.
    with admin_engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    scoped = sa.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    scoped_url = scoped.render_as_string(hide_password=False)
    db = Database(scoped_url)
    db.migrate()
    db.dispose()
    yield scoped_url
    with admin_engine.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    admin_engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "caredesk.db"
    db = Database(f"sqlite:///{path}")
    db.migrate()
    db.dispose()
    with sqlite3.connect(path) as conn:  # fold the WAL into the file, so one file is the whole template
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def _truncate_pg(url: str) -> None:
    engine = sa.create_engine(url)
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


def make_runtime(url: str, data_dir: Path) -> Runtime:
    settings = Settings(database_url=url, data_dir=data_dir)
    return Runtime(db=Database(url), settings=settings, vault=SecretBox([Fernet.generate_key()]))


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "caredesk.db"
        shutil.copy(template, target)
        return f"sqlite:///{target}"
    url: str = request.getfixturevalue("pg_schema_url")
    _truncate_pg(url)
    return url


@pytest.fixture
def rt(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    runtime = make_runtime(database_url, tmp_path / "data")
    yield runtime
    runtime.close()


@pytest.fixture
def pg_rt(pg_schema_url: str, tmp_path: Path) -> Iterator[Runtime]:
    """A runtime on PostgreSQL alone, for what only PostgreSQL does (many processes on one database)."""
    _truncate_pg(pg_schema_url)
    runtime = make_runtime(pg_schema_url, tmp_path / "data")
    yield runtime
    runtime.close()


@pytest.fixture
def sqlite_rt(sqlite_template: Path, tmp_path: Path) -> Iterator[Runtime]:
    target = tmp_path / "caredesk.db"
    shutil.copy(sqlite_template, target)
    runtime = make_runtime(f"sqlite:///{target}", tmp_path / "data")
    yield runtime
    runtime.close()


class World:
    """A small workspace: an admin, a supervisor, two agents, an analyst, an outsider, a webhook channel."""

    def __init__(self, rt: Runtime, outbound_url: str = "http://127.0.0.1:9/replies") -> None:
        system = Actor.system()
        self.rt = rt
        self.ws = admin.create_workspace(rt, system, slug="acme", name="Acme", timezone="Europe/Copenhagen")
        self.other_ws = admin.create_workspace(rt, system, slug="globex", name="Globex")
        self.agents: dict[str, int] = {}
        for key, role, ws in [
            ("admin", Role.ADMIN, self.ws),
            ("supervisor", Role.SUPERVISOR, self.ws),
            ("agent", Role.AGENT, self.ws),
            ("agent2", Role.AGENT, self.ws),
            ("analyst", Role.ANALYST, self.ws),
            ("outsider", Role.ADMIN, self.other_ws),
        ]:
            agent = admin.create_agent(
                rt,
                system,
                email=f"{key}@example.com",
                name=key.title(),
                password="correct horse",
                languages=["en", "da"],
            )
            admin.add_member(rt, system, workspace_id=ws.id, agent_id=agent.id, role=role)
            self.agents[key] = agent.id
        self.secret = "s3cret-webhook-key"
        self.channel = admin.create_channel(
            rt,
            system,
            workspace_id=self.ws.id,
            connector="webhook",
            name="Web chat",
            config={"outbound_url": outbound_url},
            credentials={"secret": self.secret},
            own_account_id="acme",
        )

    def customer_writes(
        self, external_id: str, text: str, *, who: str = "cust-1", name: str | None = None
    ) -> int:
        """A customer's private message on the web chat channel, through intake and the pipeline; returns
        its conversation's id."""
        intake.accept(
            self.rt,
            self.channel.id,
            [
                InboundEvent(
                    external_id=external_id,
                    created_at=self.rt.clock.now(),
                    text=text,
                    author=Author(id=who, handle=f"@{who}", name=name or who.title()),
                    public=False,
                    thread=f"dm-{who}",
                )
            ],
        )
        Pipeline(self.rt).drain()
        with self.rt.db.read() as session:
            conv = session.scalar(
                sa.select(m.Message.conversation_id).where(m.Message.external_id == external_id)
            )
            assert conv is not None
            return int(conv)

    def actor(self, key: str) -> Actor:
        return Actor.agent(self.agents[key])

    def headers(self, key: str) -> dict[str, str]:
        """API headers with a read-write token of this person."""
        return {"Authorization": f"Bearer {self.token(key)}"}

    def token(self, key: str, *, read_only: bool = False) -> str:
        return admin.create_token(
            self.rt,
            Actor.system(),
            agent_id=self.agents[key],
            name="test",
            scopes=["read"] if read_only else ["read", "write"],
        )


@pytest.fixture
def world(rt: Runtime) -> World:
    return World(rt)


@pytest.fixture
def client(rt: Runtime) -> Iterator[TestClient]:
    """The whole app (API, webhooks, pages) in process, without its workers; server errors are answers."""
    with TestClient(create_app(rt), raise_server_exceptions=False) as c:
        yield c


def dump_database(rt: Runtime) -> str:
    """Every row of every table, as text (to look for what must not be anywhere)."""
    rows: list[str] = []
    with rt.db.read() as s:
        for table in Base.metadata.sorted_tables:
            rows.extend(repr(tuple(row)) for row in s.execute(sa.select(table)))
    return "\n".join(rows)


def x_channel(rt: Runtime, workspace_id: int, x: Any, base_url: str) -> Any:
    """An X channel of the workspace, on a fake X (caredesk.fakes.x.FakeX) served at `base_url`."""
    return admin.create_channel(
        rt, Actor.system(), workspace_id=workspace_id, connector="x", name=f"X @{x.brand.username}",
        config={"base_url": base_url, "user_id": x.brand.id},
        credentials={"bearer_token": x.bearer_token, "user_token": x.user_token,
                     "consumer_secret": x.consumer_secret},
        own_account_id=x.brand.id,
    )  # fmt: skip
