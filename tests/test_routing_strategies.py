"""Routing strategies and capacity weighted by network, and SLA policies matched by topic, through the
API (the day-long simulation is in test_routing_simulation.py)."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient

from caredesk.actions import admin
from caredesk.actions import conversations as conv_actions
from caredesk.actions.base import Actor
from caredesk.domain.types import Presence
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from tests.conftest import World


def _owner(rt: Runtime, conv_id: int) -> int | None:
    with rt.db.read() as session:
        conv = session.get(m.Conversation, conv_id)
        assert conv is not None
        return conv.assignee_id


def _busy_first_agent(rt: Runtime, world: World, client: TestClient, strategy: str) -> tuple[int, int]:
    """`agent` owns two conversations; `agent2` none. Then both come online under `strategy`."""
    r = client.put(
        f"/api/v1/workspaces/{world.ws.id}/routing",
        json={"strategy": strategy},
        headers=world.headers("admin"),
    )
    assert r.status_code == 200 and r.json()["strategy"] == strategy, r.text
    for n in (1, 2):
        conv = world.customer_writes(f"old-{n}", "hello", who=f"old-{n}")
        conv_actions.assign(rt, Actor.system(), conv, agent_id=world.agents["agent"])
    admin.set_presence(rt, world.actor("agent"), Presence.ONLINE)
    admin.set_presence(rt, world.actor("agent2"), Presence.ONLINE)
    return world.agents["agent"], world.agents["agent2"]


def _new_customers(rt: Runtime, world: World, count: int) -> list[int | None]:
    """Who gets each of `count` new customers, in arrival order."""
    return [
        _owner(rt, world.customer_writes(f"new-{n}", "my bill is wrong", who=f"c{n}")) for n in range(count)
    ]


def test_least_loaded_gives_the_idle_agent_everything_first(
    rt: Runtime, world: World, client: TestClient
) -> None:
    _busy, idle = _busy_first_agent(rt, world, client, "least_loaded")
    owners = _new_customers(rt, world, 2)
    assert owners == [idle, idle]


def test_round_robin_takes_agents_in_turn_whatever_their_load(
    rt: Runtime, world: World, client: TestClient
) -> None:
    busy, idle = _busy_first_agent(rt, world, client, "round_robin")
    owners = _new_customers(rt, world, 4)
    assert owners == [busy, idle, busy, idle]
    with rt.db.read() as session:
        ws = session.get(m.Workspace, world.ws.id)
        assert ws is not None and ws.settings["routing"]["last_agent_id"] == idle  # kept across batches


def test_network_weights_count_against_capacity(rt: Runtime, world: World, client: TestClient) -> None:
    r = client.put(
        f"/api/v1/workspaces/{world.ws.id}/routing",
        json={"strategy": "least_loaded", "network_weights": {"webhook": 0.5}},
        headers=world.headers("admin"),
    )
    assert r.status_code == 200 and r.json()["network_weights"] == {"webhook": 0.5}
    r = client.put(
        f"/api/v1/workspaces/{world.ws.id}/agents/{world.agents['agent']}/capacity",
        json={"max_concurrent": 2},
        headers=world.headers("supervisor"),
    )
    assert r.status_code == 200
    admin.set_presence(rt, world.actor("agent"), Presence.ONLINE)
    convs = [world.customer_writes(f"w-{n}", "hello?", who=f"w{n}") for n in range(5)]
    # Each web chat conversation weighs half: four fit in a capacity of two, the fifth waits.
    assert [_owner(rt, c) for c in convs] == [world.agents["agent"]] * 4 + [None]
    bad = client.put(
        f"/api/v1/workspaces/{world.ws.id}/routing",
        json={"strategy": "fastest", "network_weights": {}},
        headers=world.headers("admin"),
    )
    assert bad.status_code == 422
    # Doubling the weight puts the agent over capacity: the excess goes back to the queue.
    client.put(
        f"/api/v1/workspaces/{world.ws.id}/routing",
        json={"network_weights": {"webhook": 1}},
        headers=world.headers("admin"),
    )
    r = client.put(
        f"/api/v1/workspaces/{world.ws.id}/agents/{world.agents['agent']}/capacity",
        json={"max_concurrent": 2},
        headers=world.headers("supervisor"),
    )
    assert sum(1 for c in convs if _owner(rt, c) == world.agents["agent"]) == 2


def test_sla_policy_matched_by_topic(rt: Runtime, world: World, client: TestClient) -> None:
    h = world.headers("admin")
    r = client.post(
        f"/api/v1/workspaces/{world.ws.id}/sla-policies",
        json={
            "name": "Outages fast",
            "position": 1,
            "match": {"topics": ["outage"]},
            "first_reply_minutes": 15,
        },
        headers=h,
    )
    assert r.status_code == 201, r.text
    outage_policy = r.json()["id"]
    r = client.post(
        f"/api/v1/workspaces/{world.ws.id}/sla-policies",
        json={"name": "Everything else", "position": 2, "first_reply_minutes": 240},
        headers=h,
    )
    assert r.status_code == 201
    down = world.customer_writes("o-1", "Internet has been down all morning, no signal at all", who="o1")
    thanks = world.customer_writes("p-1", "Thank you so much, the new phone is brilliant", who="p1")
    with rt.db.read() as session:
        rows = {c.id: c for c in session.scalars(sa.select(m.Conversation))}
    assert rows[down].topic == "outage" and rows[down].sla_policy_id == outage_policy
    assert rows[thanks].topic != "outage" and rows[thanks].sla_policy_id != outage_policy
    first_reply = rows[down].first_reply_due_at
    assert first_reply is not None and rows[down].first_inbound_at is not None
    assert (first_reply - rows[down].first_inbound_at).total_seconds() == 15 * 60


def test_skills_for_the_topic_and_the_network_are_preferred(rt: Runtime, world: World) -> None:
    with rt.db.write() as session:
        agent2 = session.get(m.Agent, world.agents["agent2"])
        assert agent2 is not None
        agent2.skills = ["topic:billing"]
    admin.set_presence(rt, world.actor("agent"), Presence.ONLINE)
    admin.set_presence(rt, world.actor("agent2"), Presence.ONLINE)
    bills = [
        world.customer_writes(f"b-{n}", "I was charged twice on my invoice this month", who=f"b{n}")
        for n in range(3)
    ]
    other = world.customer_writes("o-1", "How do I change my wifi password?", who="o1")
    with rt.db.read() as session:
        topics = {c.id: c.topic for c in session.scalars(sa.select(m.Conversation))}
    assert {topics[b] for b in bills} == {"billing"} and topics[other] != "billing"
    assert [_owner(rt, b) for b in bills] == [world.agents["agent2"]] * 3  # the billing specialist
    assert _owner(rt, other) == world.agents["agent"]  # no skill asked for: the least loaded
