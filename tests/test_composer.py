"""What the composer relies on, through the API: the agent's signature in the channel's style, canned
responses (variables, fill-in fields, suggestions by topic and language) and the collision guard (who is
viewing or typing; a reply drafted before newer messages must be confirmed)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from caredesk.actions import admin
from caredesk.actions.base import Actor
from caredesk.domain import signature
from caredesk.domain.clock import FrozenClock
from caredesk.domain.errors import InvalidInput
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from tests.conftest import World

T0 = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)  # a Monday evening in Copenhagen: the office is closed


@pytest.fixture(autouse=True)
def _monday_evening(rt: Runtime) -> None:
    rt.clock = FrozenClock(T0)


def _set_signature(rt: Runtime, world: World, who: str, initials: str) -> None:
    with rt.db.write() as session:
        agent = session.get(m.Agent, world.agents[who])
        assert agent is not None
        agent.signature = initials


# --- signature -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("network", "expected"),
    [
        ("x", "On its way ^CK"),
        ("mastodon", "On its way ^CK"),
        ("facebook", "On its way\n– Claire"),
        ("email", "On its way\n\nClaire Kim\nAcme"),
    ],
)
def test_signature_follows_the_network_style(network: str, expected: str) -> None:
    signer = signature.Signer("CK", "Claire Kim", "Acme")
    assert signature.sign("On its way", signer, network, None) == expected
    assert signature.sign(expected, signer, network, None) == expected  # signed once
    assert signature.sign("On its way ^CK", signer, network, None) == "On its way ^CK"  # signed by hand
    assert (
        signature.sign("On its way", signature.Signer("", "Claire Kim", "Acme"), network, None)
        == "On its way"
    )
    assert signature.sign("On its way", signer, network, "") == "On its way"  # the channel turned it off


def test_channel_signature_format_is_checked() -> None:
    assert signature.check_format(" /{first_name}") == " /{first_name}"
    for bad in (" ^{initials}", "{0}", "x" * 201):
        with pytest.raises(InvalidInput):
            signature.check_format(bad)


def test_replies_are_signed_in_the_channels_style(rt: Runtime, world: World, client: TestClient) -> None:
    conv = world.customer_writes("in-1", "Hello?", name="Claire Dubois")
    _set_signature(rt, world, "agent", "AG")
    checks = client.post(
        f"/api/v1/conversations/{conv}/checks", json={"text": "Hi there"}, headers=world.headers("agent")
    ).json()
    assert checks["text"] == "Hi there\n– Agent" and checks["signature"] == "\n– Agent"
    admin.update_channel_config(rt, Actor.system(), world.channel.id, {"signature_format": " ^{signature}"})
    r = client.post(
        f"/api/v1/conversations/{conv}/replies", json={"text": "Hi there"}, headers=world.headers("agent")
    )
    assert r.status_code == 202 and r.json()["text"] == "Hi there ^AG", r.text
    r = client.post(
        f"/api/v1/conversations/{conv}/replies",
        json={"text": "Unsigned", "sign": False},
        headers=world.headers("agent"),
    )
    assert r.json()["text"] == "Unsigned"
    with pytest.raises(InvalidInput):
        admin.update_channel_config(rt, Actor.system(), world.channel.id, {"signature_format": "{nope}"})


# --- canned responses ----------------------------------------------------------------------------


def _canned(client: TestClient, world: World, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post(
        f"/api/v1/workspaces/{world.ws.id}/canned-responses", json=body, headers=world.headers("supervisor")
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_canned_responses_fill_variables_and_leave_fields_to_complete(
    rt: Runtime, world: World, client: TestClient
) -> None:
    r = client.post(
        f"/api/v1/workspaces/{world.ws.id}/calendars",
        json={
            "name": "Office",
            "time_zone": "Europe/Copenhagen",
            "channel_ids": [world.channel.id],
            "week": {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
        },
        headers=world.headers("admin"),
    )
    assert r.status_code == 201, r.text
    conv = world.customer_writes(
        "in-1", "Where is my order 4471-22? It was due last week", name="Claire Dubois"
    )
    _canned(
        client,
        world,
        {
            "name": "Where is my order",
            "shortcut": "wismo",
            "folder": "Delivery",
            "topics": ["delivery"],
            "texts": {
                "en": "Hi {customer.first_name}, order {order.id} left our warehouse; "
                "tracking: [[Tracking number]]. We are back {business_hours.next_open}. {agent.first_name}",
                "da": "Hej {customer.first_name}, ordre {order.id} er afsendt. [[Sporingsnummer]]",
            },
        },
    )
    _canned(
        client,
        world,
        {"name": "Thanks", "texts": {"en": "Thanks for the kind words, {customer.first_name}!"}},
    )
    got = client.get(f"/api/v1/conversations/{conv}/canned-responses", headers=world.headers("agent")).json()
    assert got["language"] == "en" and got["topic"] == "delivery"
    first = got["suggestions"][0]
    assert first["name"] == "Where is my order" and first["language"] == "en"
    assert first["text"] == (
        "Hi Claire, order 4471-22 left our warehouse; tracking: [[Tracking number]]. "
        "We are back Tuesday 09:00. Agent"
    )
    assert first["fields"] == ["Tracking number"]
    # The fill-in field blocks the reply until completed.
    r = client.post(
        f"/api/v1/conversations/{conv}/replies", json={"text": first["text"]}, headers=world.headers("agent")
    )
    assert r.status_code == 422 and [c["check"] for c in r.json()["checks"] if c["severity"] == "block"] == [
        "fill_in"
    ]
    done = first["text"].replace("[[Tracking number]]", "PX123")
    r = client.post(
        f"/api/v1/conversations/{conv}/replies", json={"text": done}, headers=world.headers("agent")
    )
    assert r.status_code == 202, r.text
    # What the agent types narrows and reorders the list; a shortcut ranks first.
    typed = client.get(
        f"/api/v1/conversations/{conv}/canned-responses?q=/thanks", headers=world.headers("agent")
    ).json()
    assert [s["name"] for s in typed["suggestions"]] == ["Thanks"]
    assert (
        client.get(
            f"/api/v1/conversations/{conv}/canned-responses?q=wis", headers=world.headers("agent")
        ).json()["suggestions"][0]["shortcut"]
        == "wismo"
    )


def test_a_missing_value_becomes_a_fill_in_field(rt: Runtime, world: World, client: TestClient) -> None:
    conv = world.customer_writes("in-1", "Hello, a question about my bill", name="Claire Dubois")
    _canned(client, world, {"name": "Bill", "texts": {"en": "About case {case.id} and order {order.id}:"}})
    (s,) = client.get(
        f"/api/v1/conversations/{conv}/canned-responses", headers=world.headers("agent")
    ).json()["suggestions"]
    assert s["text"] == "About case [[case.id]] and order [[order.id]]:"
    assert s["fields"] == ["case.id", "order.id"]


def test_canned_responses_are_checked_and_scoped(rt: Runtime, world: World, client: TestClient) -> None:
    h = world.headers("supervisor")
    base = {"name": "Refund", "shortcut": "refund", "texts": {"en": "Your refund is on its way."}}
    for bad in (
        {**base, "texts": {"en": "Hi {customer.shoe_size}"}},
        {**base, "texts": {"english": "Hi"}},
        {**base, "shortcut": "Has Spaces"},
        {**base, "texts": {}},
    ):
        r = client.post(f"/api/v1/workspaces/{world.ws.id}/canned-responses", json=bad, headers=h)
        assert r.status_code == 422, (bad, r.text)
    created = _canned(client, world, base)
    clash = client.post(f"/api/v1/workspaces/{world.ws.id}/canned-responses", json=base, headers=h)
    assert clash.status_code == 409
    agent = client.post(
        f"/api/v1/workspaces/{world.ws.id}/canned-responses",
        json={**base, "shortcut": "r2"},
        headers=world.headers("agent"),
    )
    assert agent.status_code == 403
    r = client.delete(f"/api/v1/workspaces/{world.ws.id}/canned-responses/{created['id']}", headers=h)
    assert r.status_code == 204
    assert client.get(f"/api/v1/workspaces/{world.ws.id}/canned-responses", headers=h).json() == []
    assert _canned(client, world, base)["shortcut"] == "refund"  # a removed one frees its shortcut


# --- collision guard -----------------------------------------------------------------------------


def test_two_agents_see_each_other_and_a_stale_draft_must_be_confirmed(
    rt: Runtime, world: World, client: TestClient
) -> None:
    conv = world.customer_writes("in-1", "My internet is down", name="Claire Dubois")
    a, b = world.headers("agent"), world.headers("agent2")
    assert client.put(
        f"/api/v1/conversations/{conv}/presence", json={"state": "viewing"}, headers=a
    ).json() == {"others": []}
    seen = client.get(f"/api/v1/conversations/{conv}", headers=a).json()["messages"][-1]["id"]
    r = client.put(f"/api/v1/conversations/{conv}/presence", json={"state": "typing"}, headers=b)
    assert [(p["name"], p["state"]) for p in r.json()["others"]] == [("Agent", "viewing")]
    detail = client.get(f"/api/v1/conversations/{conv}", headers=a).json()
    assert sorted((p["name"], p["state"]) for p in detail["present"]) == [
        ("Agent", "viewing"),
        ("Agent2", "typing"),
    ]

    # Agent2 answers first; the customer writes again.
    assert (
        client.post(
            f"/api/v1/conversations/{conv}/replies", json={"text": "Checking the line now"}, headers=b
        ).status_code
        == 202
    )
    world.customer_writes("in-2", "Still down!!", name="Claire Dubois")
    stale = client.post(
        f"/api/v1/conversations/{conv}/replies",
        json={"text": "Have you restarted the router?", "seen_message_id": seen},
        headers=a,
    )
    assert stale.status_code == 409, stale.text
    assert [(c["direction"], c["text"]) for c in stale.json()["changes"]] == [
        ("out", "Checking the line now"),
        ("in", "Still down!!"),
    ]
    confirmed = client.post(
        f"/api/v1/conversations/{conv}/replies",
        json={"text": "Have you restarted the router?", "seen_message_id": seen, "confirm": True},
        headers=a,
    )
    assert confirmed.status_code == 202, confirmed.text
    # Presence lapses without a heartbeat, and "left" ends it at once.
    assert client.put(f"/api/v1/conversations/{conv}/presence", json={"state": "left"}, headers=b).json()[
        "others"
    ]
    rt.clock.advance(seconds=31)  # type: ignore[attr-defined]
    assert client.get(f"/api/v1/conversations/{conv}", headers=a).json()["present"] == []
    with rt.db.read() as session:
        assert (
            session.scalar(sa.select(sa.func.count()).select_from(m.ConversationPresence)) == 1
        )  # agent's, stale


def test_a_customers_text_is_never_expanded_as_a_variable() -> None:
    """A name is inserted as it is: braces in it are not variables, and never reach the agent's data."""
    from caredesk.actions.canned import render_text

    values = {"customer.first_name": "{agent.email}", "agent.email": "agent@example.com", "agent.name": None}
    text, fields = render_text("Hi {customer.first_name}, I am {agent.name}", values)
    assert text == "Hi {agent.email}, I am [[agent.name]]"
    assert "agent@example.com" not in text and fields == ["agent.name"]
