"""Reply checks through the API: personal data in public with move-to-private, X's limit with the thread
split, spelling with suggestions, policy words."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from caredesk.actions import admin, intake
from caredesk.actions.base import Actor
from caredesk.actions.reply_checks import spelling
from caredesk.connectors import length
from caredesk.domain.types import Author, InboundEvent
from caredesk.pipeline.runner import Pipeline
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from tests.conftest import World

needs_dictionaries = pytest.mark.skipif(
    spelling("hello", "en") is not None and spelling("hello", "en").severity == "info",  # type: ignore[union-attr]
    reason="no Hunspell dictionaries: run scripts/install-system-deps (make test does)",
)


def _conversation(rt: Runtime, channel_id: int, text: str, *, public: bool = True) -> int:
    intake.accept(
        rt,
        channel_id,
        [
            InboundEvent(
                external_id=f"in-{channel_id}-{len(text)}",
                created_at=datetime.now(UTC),
                text=text,
                author=Author(id="cust-7", handle="@seven", name="Seven"),
                public=public,
            )
        ],
    )
    Pipeline(rt).drain()
    with rt.db.read() as session:
        return int(
            session.scalar(
                sa.select(m.Conversation.id)
                .where(m.Conversation.channel_id == channel_id)
                .order_by(m.Conversation.id.desc())
            )
            or 0
        )


def _agent(world: World) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.token('agent')}"}


def test_personal_data_in_public_is_stopped_and_moved_to_private(
    rt: Runtime, world: World, client: TestClient
) -> None:
    conv = _conversation(rt, world.channel.id, "my parcel never came, can someone call me?")
    text = "Sorry about that! Our courier will ring you on +44 7700 900123 this afternoon."
    r = client.post(f"/api/v1/conversations/{conv}/replies", json={"text": text}, headers=_agent(world))
    assert r.status_code == 422, r.text
    found = {c["check"]: c for c in r.json()["checks"]}
    assert found["personal_data"]["severity"] == "block"
    assert found["personal_data"]["spans"][0]["type"] == "phone"
    assert found["personal_data"]["fix"]["move_to_private"]["private_text"] == text
    with rt.db.read() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(m.Outbox)) == 0  # nothing queued

    r = client.post(
        f"/api/v1/conversations/{conv}/replies",
        json={"text": text, "move_to_private": True},
        headers=_agent(world),
    )
    assert r.status_code == 202, r.text
    assert r.json()["is_public"] is False and r.json()["public_note"]["is_public"] is True
    with rt.db.read() as session:
        rows = session.execute(sa.select(m.Outbox.request).order_by(m.Outbox.id)).scalars().all()
    assert [(q["public"], q["text"]) for q in rows] == [
        (False, text),
        (True, "We have sent you a private message."),
    ]


def test_a_reply_over_the_x_limit_shows_the_thread(rt: Runtime, world: World, client: TestClient) -> None:
    channel = admin.create_channel(
        rt,
        Actor.system(),
        workspace_id=world.ws.id,
        connector="x",
        name="@acme",
        config={"base_url": "http://127.0.0.1:9", "user_id": "100"},
        credentials={"bearer_token": "b", "user_token": "u", "consumer_secret": "c"},
        own_account_id="100",
    )
    conv = _conversation(rt, channel.id, "@acme my router keeps dropping the connection every evening")
    text = " ".join(
        f"Step {n}: unplug the router, wait thirty seconds, plug it back in and check the lights."
        for n in range(6)
    )
    r = client.post(f"/api/v1/conversations/{conv}/checks", json={"text": text}, headers=_agent(world))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] is False and body["length"]["limit"] == 280 and body["length"]["length"] > 280
    (too_long,) = [c for c in body["findings"] if c["check"] == "length"]
    parts = too_long["fix"]["thread"]
    assert len(parts) >= 2 and all(length.count("x", p).valid for p in parts)
    r = client.post(f"/api/v1/conversations/{conv}/replies", json={"text": text}, headers=_agent(world))
    assert r.status_code == 422 and "allows 280" in r.json()["detail"]


@needs_dictionaries
def test_misspellings_are_flagged_with_suggestions(rt: Runtime, world: World, client: TestClient) -> None:
    conv = _conversation(rt, world.channel.id, "where is my parcel? it was due yesterday")
    r = client.post(
        f"/api/v1/conversations/{conv}/checks",
        json={"text": "Sorry @seven, you will recieve the parcel tomorow morning ^AG"},
        headers=_agent(world),
    )
    assert r.status_code == 200, r.text
    (spelled,) = [c for c in r.json()["findings"] if c["check"] == "spelling"]
    words = {s["word"]: s["suggestions"] for s in spelled["spans"]}
    assert set(words) == {"recieve", "tomorow"}  # the handle and the signature are left alone
    assert "receive" in words["recieve"] and "tomorrow" in words["tomorow"]
    assert r.json()["ok"] is True  # a warning: the agent may still send
    # Danish, and a language without a dictionary
    danish = spelling("Pakkn er på vej og kommer i morgen", "da")
    assert (
        danish is not None
        and danish.spans[0]["word"] == "Pakkn"
        and "Pakken" in danish.spans[0]["suggestions"]
    )
    assert spelling("Pakken er på vej og kommer i morgen", "da") is None
    none = spelling("荷物は明日届きます", "ja")
    assert none is not None and none.severity == "info" and "no dictionary" in none.message


def test_policy_words_are_blocked_in_public(rt: Runtime, world: World, client: TestClient) -> None:
    admin_h = {"Authorization": f"Bearer {world.token('admin')}"}
    r = client.put(
        f"/api/v1/workspaces/{world.ws.id}/policy",
        json={"words": ["guaranteed"], "patterns": [r"we can see your password"]},
        headers=admin_h,
    )
    assert r.status_code == 200, r.text
    bad = client.put(
        f"/api/v1/workspaces/{world.ws.id}/policy", json={"patterns": ["(unclosed"]}, headers=admin_h
    )
    assert bad.status_code == 422 and "not a regular expression" in bad.json()["detail"]
    conv = _conversation(rt, world.channel.id, "will my refund come this week?")
    for text in ("Your refund is Guaranteed by Friday", "Don't worry, we can see your password, all fine"):
        r = client.post(f"/api/v1/conversations/{conv}/replies", json={"text": text}, headers=_agent(world))
        assert r.status_code == 422, r.text
        (hit,) = [c for c in r.json()["checks"] if c["check"] == "policy"]
        assert hit["severity"] == "block" and hit["spans"]
    ok = client.post(
        f"/api/v1/conversations/{conv}/replies",
        json={"text": "Your refund is on its way"},
        headers=_agent(world),
    )
    assert ok.status_code == 202, ok.text
