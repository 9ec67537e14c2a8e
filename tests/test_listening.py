"""Listening end to end: the poller asks a LISTEN connector with the workspace's watch rules and its own
cursor; the pipeline keeps only what a rule really matches and marks it indirect."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa

from caredesk.actions import admin
from caredesk.actions.base import Actor
from caredesk.connectors import registry
from caredesk.connectors.base import Connector, ConnectorSpec, FetchResult
from caredesk.domain.types import Author, Capability, InboundEvent, LengthRule
from caredesk.domain.watch import WatchSpec
from caredesk.pipeline.runner import Pipeline
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from caredesk.workers.poller import LISTEN_KEY, Poller

T0 = datetime(2026, 11, 20, 8, tzinfo=UTC)


class SearchNetwork:
    """A network whose search is coarse: any post containing any query word, regardless of language."""

    posts: ClassVar[list[tuple[str, str, str | None]]] = []  # (id, text, language)
    calls: ClassVar[list[tuple[list[str], dict[str, Any]]]] = []


class ListeningConnector(Connector):
    spec = ConnectorSpec(
        key="listen-test",
        display_name="Listening test",
        network="listen-test",
        capabilities=frozenset({Capability.LISTEN}),
        length_rule=LengthRule("webhook", "webhook"),
    )

    def watch(self, rules: Sequence[WatchSpec], cursor: dict[str, Any]) -> FetchResult:
        words = sorted({w.lower() for r in rules for w in r.keywords})
        SearchNetwork.calls.append((words, dict(cursor)))
        seen = int(cursor.get("position", 0))
        new = SearchNetwork.posts[seen:]
        events = [
            InboundEvent(
                external_id=pid,
                created_at=T0 + timedelta(minutes=i),
                text=text,
                author=Author(id=f"u-{pid}"),
                language=lang,
                listening=True,
            )
            for i, (pid, text, lang) in enumerate(new)
            if any(w in text.lower() for w in words)
        ]
        return FetchResult(events=events, cursor={"position": seen + len(new)})


@pytest.fixture
def listening_channel(rt: Runtime) -> Iterator[int]:
    registry.register(ListeningConnector)
    SearchNetwork.posts, SearchNetwork.calls = [], []
    try:
        system = Actor.system()
        ws = admin.create_workspace(rt, system, slug="listen", name="Listen")
        channel = admin.create_channel(rt, system, workspace_id=ws.id, connector="listen-test", name="Search")
        admin.create_watch_rule(
            rt,
            system,
            workspace_id=ws.id,
            name="brand",
            keywords=["nordlys"],
            exclusions=["aurora"],
            languages=["en", "da"],
        )
        yield channel.id
    finally:
        registry._REGISTRY.pop("listen-test", None)


def _poll(rt: Runtime, channel_id: int) -> None:
    with rt.db.write() as s:
        s.execute(sa.update(m.Channel).where(m.Channel.id == channel_id).values(next_poll_at=None))
    assert Poller(rt).run_once() == 1
    Pipeline(rt).drain()


def test_listening_keeps_what_the_rules_match_and_resumes(rt: Runtime, listening_channel: int) -> None:
    SearchNetwork.posts = [
        ("l1", "Nordlys has been down all morning", "en"),
        ("l2", "What a nordlys tonight, aurora everywhere", "en"),  # excluded by the rule
        ("l3", "Nordlys est en panne", "fr"),  # language not watched
        ("l4", "unrelated post", "en"),
    ]
    _poll(rt, listening_channel)
    assert SearchNetwork.calls[0] == (["nordlys"], {})
    with rt.db.read() as s:
        kept = list(s.scalars(sa.select(m.Message)))
        convs = list(s.scalars(sa.select(m.Conversation)))
        channel = s.get(m.Channel, listening_channel)
    assert [x.external_id for x in kept] == ["l1"]
    assert kept[0].listening and convs[0].is_direct is False
    assert any(r["signal"] == "listening" for r in convs[0].priority_reasons)
    assert channel is not None and channel.cursor == {LISTEN_KEY: {"position": 4}}
    SearchNetwork.posts.append(("l5", "Nordlys mobile er nede", "da"))
    _poll(rt, listening_channel)
    assert SearchNetwork.calls[-1][1] == {"position": 4}  # resumed from the stored cursor
    with rt.db.read() as s:
        assert sorted(s.scalars(sa.select(m.Message.external_id))) == ["l1", "l5"]


def test_no_rules_no_listening_calls(rt: Runtime, listening_channel: int) -> None:
    with rt.db.write() as s:
        s.execute(sa.update(m.WatchRule).values(enabled=False))
    _poll(rt, listening_channel)
    assert SearchNetwork.calls == []
