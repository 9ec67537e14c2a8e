"""Intake: spool idempotency, threading rules, contacts, dead letters — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from caredesk.actions import conversations as conv_actions
from caredesk.actions import intake
from caredesk.actions.base import Actor
from caredesk.domain.types import Author, Direction, InboundEvent, Status
from caredesk.pipeline.core import Item, StageContext
from caredesk.pipeline.runner import Pipeline, retry_dead
from caredesk.pipeline.stages import default_stages
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from tests.conftest import World

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def ev(
    external_id: str, text: str = "hello", *, author: str = "jane", minutes: float = 0, **kw: Any
) -> InboundEvent:
    return InboundEvent(
        external_id=external_id,
        created_at=T0 + timedelta(minutes=minutes),
        text=text,
        author=kw.pop("author_obj", Author(id=author, handle=f"@{author}", name=author.title())),
        **kw,
    )


def ingest(rt: Runtime, world: World, *events: InboundEvent) -> None:
    intake.accept(rt, world.channel.id, list(events))
    Pipeline(rt).drain()


def conv_of(rt: Runtime, world: World, external_id: str) -> int:
    with rt.db.read() as s:
        cid = s.scalar(
            sa.select(m.Message.conversation_id).where(
                m.Message.channel_id == world.channel.id, m.Message.external_id == external_id
            )
        )
    assert cid is not None, f"{external_id} not stored"
    return int(cid)


def count(rt: Runtime, model: type[Any]) -> int:
    with rt.db.read() as s:
        return int(s.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def test_spool_is_idempotent_and_pipeline_processes_each_event_once(rt: Runtime, world: World) -> None:
    first = intake.accept(rt, world.channel.id, [ev("a1"), ev("a2", minutes=1)])
    again = intake.accept(rt, world.channel.id, [ev("a1"), ev("a2", minutes=1), ev("a3", minutes=2)])
    assert (first.accepted, first.duplicates) == (2, 0)
    assert (again.accepted, again.duplicates) == (1, 2)
    result = Pipeline(rt).drain()
    assert result.processed == 3
    assert count(rt, m.Message) == 3
    assert Pipeline(rt).drain().processed == 0
    with rt.db.read() as s:
        statuses = set(s.scalars(sa.select(m.SpoolEvent.status)))
    assert statuses == {"done"}


def test_reply_chain_and_open_conversation_threading(rt: Runtime, world: World) -> None:
    ingest(
        rt,
        world,
        ev("t1", "my order never arrived", author="jane"),
        ev("t2", "order NM-1", author="acme", minutes=5, in_reply_to="t1", direction=Direction.OUT),
        ev("t3", "still nothing", author="jane", minutes=9, in_reply_to="t2"),
        ev("t4", "also: billing is wrong", author="jane", minutes=20),  # no reply ref: joins her open case
        ev("b1", "different customer", author="bob", minutes=3),
    )
    assert (
        conv_of(rt, world, "t1")
        == conv_of(rt, world, "t2")
        == conv_of(rt, world, "t3")
        == conv_of(rt, world, "t4")
    )
    assert conv_of(rt, world, "b1") != conv_of(rt, world, "t1")
    with rt.db.read() as s:
        conv = s.get(m.Conversation, conv_of(rt, world, "t1"))
        assert conv is not None
        assert conv.first_inbound_at == T0
        assert conv.first_reply_at == T0 + timedelta(minutes=5)
        assert conv.waiting_since == T0 + timedelta(minutes=9)
        assert conv.waiting_count == 2
        assert conv.message_count == 4
        assert conv.first_reply_due_at is None  # answered
        assert conv.next_reply_due_at == T0 + timedelta(minutes=9 + 60)


def test_private_thread_and_public_post_of_one_customer_share_the_case(rt: Runtime, world: World) -> None:
    ingest(
        rt,
        world,
        ev("p1", "public complaint", author="kim"),
        ev("d1", "here is my account number", author="kim", minutes=2, public=False, thread="dm-kim"),
        ev("d2", "and my phone", author="kim", minutes=3, public=False, thread="dm-kim"),
    )
    assert conv_of(rt, world, "p1") == conv_of(rt, world, "d1") == conv_of(rt, world, "d2")


def test_out_of_order_arrival_threads_like_in_order(rt: Runtime, world: World) -> None:
    # The reply arrives (and is processed) before the message it answers.
    ingest(
        rt,
        world,
        ev(
            "o2",
            "answer",
            author="acme",
            minutes=4,
            in_reply_to="o1",
            direction=Direction.OUT,
            recipient=Author(id="lee", handle="@lee"),
        ),
    )
    ingest(rt, world, ev("o1", "question", author="lee"))
    assert conv_of(rt, world, "o1") == conv_of(rt, world, "o2")
    with rt.db.read() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(m.Conversation)) == 1
        conv = s.get(m.Conversation, conv_of(rt, world, "o1"))
        assert conv is not None
        assert conv.first_reply_at == T0 + timedelta(minutes=4)


def test_a_message_linking_two_conversations_merges_them(rt: Runtime, world: World) -> None:
    ingest(rt, world, ev("m1", "root", author="ana"))
    ingest(rt, world, ev("m3", "grandchild", author="max", minutes=8, in_reply_to="m2"))
    assert conv_of(rt, world, "m1") != conv_of(rt, world, "m3")
    assert conv_actions.tag(rt, Actor.system(), conv_of(rt, world, "m3"), "vip") == ["vip"]
    ingest(rt, world, ev("m2", "middle", author="ana", minutes=4, in_reply_to="m1"))
    merged = conv_of(rt, world, "m1")
    assert conv_of(rt, world, "m2") == merged == conv_of(rt, world, "m3")
    with rt.db.read() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(m.Conversation)) == 1
        assert conv_actions.tags_of(s, merged) == ["vip"]
        kinds = list(s.scalars(sa.select(m.Event.kind).where(m.Event.kind == "conversation.merged")))
    assert kinds == ["conversation.merged"]


def test_resolved_conversation_reopens_on_a_reply_but_a_new_topic_starts_a_new_case(
    rt: Runtime, world: World
) -> None:
    ingest(rt, world, ev("r1", "help", author="zoe"))
    cid = conv_of(rt, world, "r1")
    conv_actions.set_status(rt, world.actor("agent"), cid, Status.RESOLVED)
    ingest(rt, world, ev("r2", "new question, weeks later", author="zoe", minutes=60 * 24 * 20))
    assert conv_of(rt, world, "r2") != cid  # the old case is closed: a new conversation, same contact
    ingest(rt, world, ev("r3", "about that old thing", author="zoe", minutes=60 * 24 * 21, in_reply_to="r1"))
    assert conv_of(rt, world, "r3") == cid
    with rt.db.read() as s:
        old = s.get(m.Conversation, cid)
        new = s.get(m.Conversation, conv_of(rt, world, "r2"))
        assert old is not None and new is not None
        assert old.status == "open" and old.resolved_at is None
        assert old.contact_id == new.contact_id


def test_contact_identities_link_handles_and_email(rt: Runtime, world: World) -> None:
    ingest(
        rt,
        world,
        ev("i1", "hi", author_obj=Author(id="u-1", handle="@sam", email="Sam@Example.com")),
        ev(
            "i2",
            "me again from another handle",
            author_obj=Author(id="u-2", handle="@sam2", email="sam@example.com"),
        ),
    )
    with rt.db.read() as s:
        contacts = list(s.scalars(sa.select(m.Contact)))
        identities = {(i.kind, i.value) for i in s.scalars(sa.select(m.ContactIdentity))}
    assert len(contacts) == 1
    kind = f"webhook:{world.channel.id}"  # generic sources: ids mean something only within their channel
    assert identities == {(kind, "u-1"), (kind, "u-2"), ("email", "sam@example.com")}


def test_own_messages_are_outbound_and_echo_of_a_sent_reply_is_not_a_customer_message(
    rt: Runtime, world: World
) -> None:
    ingest(rt, world, ev("e1", "question", author="amy"))
    cid = conv_of(rt, world, "e1")
    reply = conv_actions.reply(rt, world.actor("agent"), cid, "Happy to help ^AG")
    # The network echoes our reply (with our idempotency key) before the sender wrote its id back.
    ingest(
        rt, world, ev("net-77", "Happy to help ^AG", author="acme", minutes=1, client_ref=reply.client_ref)
    )
    with rt.db.read() as s:
        msgs = list(
            s.scalars(sa.select(m.Message).where(m.Message.conversation_id == cid).order_by(m.Message.id))
        )
    assert [(x.direction, x.external_id) for x in msgs] == [("in", "e1"), ("out", "net-77")]
    # A post by the brand account made outside caredesk is stored as outbound, not as a customer message.
    ingest(rt, world, ev("e2", "We are looking into it", author="acme", minutes=2, in_reply_to="e1"))
    with rt.db.read() as s:
        msg = s.scalar(sa.select(m.Message).where(m.Message.external_id == "e2"))
    assert msg is not None and msg.direction == "out" and msg.contact_id is None


class Explode:
    name = "explode"

    def process(self, ctx: StageContext, items: list[Item]) -> None:
        for item in items:
            if "boom" in item.event.text:
                raise RuntimeError("stage failed on purpose")


def test_failing_stage_parks_only_the_bad_event_and_retry_recovers_it(rt: Runtime, world: World) -> None:
    stages = (*default_stages()[:3], Explode(), *default_stages()[3:])
    intake.accept(
        rt, world.channel.id, [ev("g1", "fine"), ev("g2", "boom"), ev("g3", "fine too", author="x")]
    )
    result = Pipeline(rt, stages=stages).drain()
    assert (result.processed, result.dead) == (2, 1)
    with rt.db.read() as s:
        dead = list(s.scalars(sa.select(m.DeadLetter)))
        stored = set(s.scalars(sa.select(m.Message.external_id)))
    assert stored == {"g1", "g3"}
    assert len(dead) == 1 and dead[0].stage == "explode" and "on purpose" in dead[0].error
    assert retry_dead(rt) == 1
    assert Pipeline(rt).drain().processed == 1  # the default pipeline has no exploding stage
    with rt.db.read() as s:
        assert set(s.scalars(sa.select(m.Message.external_id))) == {"g1", "g2", "g3"}


def test_routing_assigns_online_agent_with_capacity_and_language(rt: Runtime, world: World) -> None:
    from caredesk.actions import admin
    from caredesk.domain.types import Presence

    admin.set_presence(rt, Actor.system(), Presence.ONLINE, agent_id=world.agents["agent"])
    ingest(rt, world, ev("q1", "Hej, min regning er forkert og jeg er ikke glad", author="mads"))
    with rt.db.read() as s:
        conv = s.get(m.Conversation, conv_of(rt, world, "q1"))
        assert conv is not None
        assert conv.language == "da"
        assert conv.assignee_id == world.agents["agent"]
        assert conv.priority > 0 and conv.priority_reasons is not None


@pytest.mark.parametrize("bad", ["", "x" * 100_001])
def test_normalize_refuses_oversized_text_and_strips_controls(rt: Runtime, world: World, bad: str) -> None:
    ingest(rt, world, ev("n1", "null\x00byte and bell\x07 ok"), ev("n2", bad or "fine", author="other"))
    with rt.db.read() as s:
        text = s.scalar(sa.select(m.Message.text).where(m.Message.external_id == "n1"))
        dead = s.scalar(sa.select(sa.func.count()).select_from(m.DeadLetter))
    assert text == "nullbyte and bell ok"
    assert dead == (1 if bad else 0)


def test_conversation_created_once_when_a_new_one_is_folded_into_an_old_one_in_the_same_batch(
    rt: Runtime, world: World
) -> None:
    ingest(rt, world, ev("f1", "root", author="ida"))
    # One batch: a reply to an unseen message (opens a conversation), then that message, answering f1.
    ingest(
        rt,
        world,
        ev("f3", "late reply", author="ida", minutes=9, in_reply_to="f2"),
        ev("f2", "middle", author="ida", minutes=5, in_reply_to="f1"),
    )
    assert conv_of(rt, world, "f1") == conv_of(rt, world, "f2") == conv_of(rt, world, "f3")
    with rt.db.read() as s:
        created = s.scalar(
            sa.select(sa.func.count()).select_from(m.Event).where(m.Event.kind == "conversation.created")
        )
        conversations = s.scalar(sa.select(sa.func.count()).select_from(m.Conversation))
    assert (created, conversations) == (1, 1)


def test_triage_marks_personal_data_and_case_references(rt: Runtime, world: World) -> None:
    text = "Order NM-48213 never came. Call me on +45 20 12 34 56, my password is Hunter22!"
    ingest(rt, world, ev("pii1", text, author="ole"))
    with rt.db.read() as s:
        triage = s.scalar(sa.select(m.Message.triage).where(m.Message.external_id == "pii1"))
    assert triage is not None
    found = {(p["type"], text[p["start"] : p["end"]]) for p in triage["pii"]}
    assert ("phone", "+45 20 12 34 56") in found
    assert any(kind == "password" and value.startswith("Hunter22") for kind, value in found)
    assert {(r["kind"], r["value"]) for r in triage["case_refs"]} >= {("order", "NM-48213")}
    assert "Hunter22" not in str({k: v for k, v in triage.items() if k != "pii"})
