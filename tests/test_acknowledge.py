"""Silence never happens: one automatic acknowledgement per closed period, in the customer's language, never
counted as a reply."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from fastapi.testclient import TestClient

from caredesk.actions import conversations, intake, service_levels
from caredesk.actions.admin import set_presence
from caredesk.actions.base import Actor
from caredesk.domain.clock import FrozenClock
from caredesk.domain.types import Author, InboundEvent, Presence
from caredesk.pipeline.runner import Pipeline
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from tests.conftest import World

OFFICE = {
    "name": "Office",
    "time_zone": "Europe/Copenhagen",
    "week": {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
    "holiday_country": "DK",
}


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _write(rt: Runtime, world: World, external_id: str, at: str, text: str, who: str = "cust-1") -> None:
    rt.clock = FrozenClock(_t(at))
    intake.accept(
        rt,
        world.channel.id,
        [
            InboundEvent(
                external_id=external_id,
                created_at=_t(at),
                text=text,
                author=Author(id=who, handle=f"@{who}", name=who),
                public=False,
                thread=f"dm-{who}",
            )
        ],
    )
    Pipeline(rt).drain()


def _automatic(rt: Runtime) -> list[m.Message]:
    with rt.db.read() as session:
        return list(
            session.scalars(sa.select(m.Message).where(m.Message.is_automatic).order_by(m.Message.id)).all()
        )


def _send_all(rt: Runtime) -> None:
    """Publish every queued reply the way the sender does once the network has taken it."""
    with rt.db.write() as session:
        for row in session.scalars(sa.select(m.Outbox).where(m.Outbox.status == "queued")).all():
            conversations.mark_sent(session, row, f"net-{row.id}", rt.clock.now())


def _setup(rt: Runtime, world: World, client: TestClient) -> None:
    headers = {"Authorization": f"Bearer {world.token('admin')}"}
    r = client.post(
        f"/api/v1/workspaces/{world.ws.id}/calendars",
        json={**OFFICE, "channel_ids": [world.channel.id]},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    r = client.put(f"/api/v1/workspaces/{world.ws.id}/auto-ack", json={"enabled": True}, headers=headers)
    assert r.status_code == 200 and r.json()["enabled"] is True, r.text


def test_one_acknowledgement_per_closed_period(rt: Runtime, world: World, client: TestClient) -> None:
    _setup(rt, world, client)
    # Saturday morning, in Danish: acknowledged once, saying Monday 09:00 in Danish.
    _write(rt, world, "m1", "2026-11-28T10:00+01:00", "Hej, min pakke er stadig ikke kommet. Hvor er den?")
    _write(rt, world, "m2", "2026-11-28T11:00+01:00", "Hallo? Jeg venter stadig på svar om pakken")
    acks = _automatic(rt)
    assert len(acks) == 1
    assert acks[0].language == "da" and "mandag 09:00" in acks[0].text and acks[0].delivery == "queued"
    with rt.db.read() as session:
        outbox = session.scalar(sa.select(m.Outbox).where(m.Outbox.message_id == acks[0].id))
        assert (
            outbox is not None
            and outbox.request["automatic"] is True
            and outbox.request["thread"] == "dm-cust-1"
        )
    _send_all(rt)

    # Monday: an agent comes online and answers; the acknowledgement was no first reply.
    rt.clock = FrozenClock(_t("2026-11-30T09:30+01:00"))
    set_presence(rt, world.actor("agent"), Presence.ONLINE)
    with rt.db.read() as session:
        conv = session.scalars(sa.select(m.Conversation)).one()
        assert conv.first_reply_at is None and conv.waiting_count == 2
    rt.clock = FrozenClock(_t("2026-11-30T09:40+01:00"))
    conversations.reply(rt, world.actor("agent"), conv.id, "Hej! Pakken er på vej, den kommer i morgen.")
    _send_all(rt)
    with rt.db.read() as session:
        conv = session.scalars(sa.select(m.Conversation)).one()
        assert conv.first_reply_at == _t("2026-11-30T09:40+01:00")

    # During working hours with an agent online: nothing automatic.
    _write(rt, world, "m3", "2026-11-30T10:00+01:00", "Tak for hjælpen!")
    assert len(_automatic(rt)) == 1
    # Monday evening is a new closed period: a second acknowledgement, saying Tuesday.
    _write(rt, world, "m4", "2026-11-30T18:00+01:00", "Pakken kom ikke i dag alligevel")
    acks = _automatic(rt)
    assert len(acks) == 2 and "tirsdag 09:00" in acks[1].text


def test_nobody_online_in_hours_and_other_languages(rt: Runtime, world: World, client: TestClient) -> None:
    _setup(rt, world, client)
    # Tuesday 10:00, open, but every agent is offline: the offline text, once.
    _write(
        rt, world, "e1", "2026-12-01T10:00+01:00", "Hi, my order still hasn't arrived, can you check?", "en-1"
    )
    _write(rt, world, "e2", "2026-12-01T10:05+01:00", "Any news on my order please?", "en-1")
    acks = _automatic(rt)
    assert len(acks) == 1 and "agents are busy" in acks[0].text
    # A Spanish customer on Christmas Day (a Danish holiday, then the weekend): the opening in Spanish.
    _write(
        rt,
        world,
        "s1",
        "2026-12-25T12:00+01:00",
        "Hola, mi pedido no ha llegado todavía, ¿me ayudan?",
        "es-1",
    )
    acks = _automatic(rt)
    assert len(acks) == 2 and "lunes 09:00" in acks[1].text and acks[1].language == "es"


def test_switched_off_by_default(rt: Runtime, world: World) -> None:
    _write(rt, world, "x1", "2026-11-28T10:00+01:00", "Hello? Is anyone there? My parcel is lost")
    assert _automatic(rt) == []
    assert (
        service_levels.auto_ack_of(rt, Actor.agent(world.agents["analyst"]), world.ws.id)["enabled"] is False
    )
