"""Builds the demo workspace from demo/content.py, through the same actions and intake as real traffic."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from caredesk.actions import admin, approvals, canned, greetings, intake, service_levels
from caredesk.actions import conversations as conv_actions
from caredesk.actions.base import Actor
from caredesk.demo import content
from caredesk.domain.types import Author, Direction, InboundEvent, Presence, Role, Status
from caredesk.pipeline.runner import Pipeline
from caredesk.runtime import Runtime
from caredesk.storage import models as m

DEMO_PASSWORD = "caredesk-demo"  # noqa: S105  printed at start-up; the demo is for a laptop, not a server
ONLINE = ("claire", "wei", "noa", "lucia")


@dataclass(frozen=True, slots=True)
class DemoChannel:
    key: str
    channel_id: int
    secret: str


def demo_exists(rt: Runtime) -> bool:
    with rt.db.read() as session:
        return (
            session.scalar(sa.select(m.Workspace.id).where(m.Workspace.slug == content.WORKSPACE_SLUG))
            is not None
        )


def demo_channels(rt: Runtime) -> list[DemoChannel]:
    with rt.db.read() as session:
        ws_id = session.scalar(sa.select(m.Workspace.id).where(m.Workspace.slug == content.WORKSPACE_SLUG))
        rows = list(
            session.scalars(
                sa.select(m.Channel).where(m.Channel.workspace_id == ws_id).order_by(m.Channel.id)
            )
        )
    keys = {c["name"]: c["key"] for c in content.CHANNELS}
    return [
        DemoChannel(
            key=keys[row.name],
            channel_id=row.id,
            secret=str(rt.vault.decrypt(row.credentials_encrypted).get("secret", "")),
        )
        for row in rows
        if row.name in keys
    ]


def seed(rt: Runtime, *, network_url: str) -> None:
    """Create the demo workspace (once). Replies go to the fake network at `network_url`."""
    if demo_exists(rt):
        return
    system = Actor.system()
    ws = admin.create_workspace(
        rt,
        system,
        slug=content.WORKSPACE_SLUG,
        name=content.WORKSPACE_NAME,
        timezone=content.WORKSPACE_TIMEZONE,
    )
    admin.create_agent(
        rt,
        system,
        email="admin@caredesk.local",
        name="Deployment admin",
        password=DEMO_PASSWORD,
        is_superadmin=True,
    )
    agent_ids: dict[str, int] = {}
    for a in content.AGENTS:
        agent = admin.create_agent(
            rt,
            system,
            email=a["email"],
            name=a["name"],
            password=DEMO_PASSWORD,
            signature=a["signature"],
            languages=a["languages"],
        )
        admin.add_member(rt, system, workspace_id=ws.id, agent_id=agent.id, role=Role(a["role"]))
        agent_ids[a["key"]] = agent.id
    with rt.db.read() as session:
        superadmin = session.scalar(sa.select(m.Agent.id).where(m.Agent.email == "admin@caredesk.local"))
    admin.add_member(rt, system, workspace_id=ws.id, agent_id=int(superadmin or 0), role=Role.ADMIN)
    team_ids = {}
    for key, name in content.TEAMS.items():
        members = [agent_ids[a["key"]] for a in content.AGENTS if a["team"] == key]
        team_ids[key] = admin.create_team(rt, system, workspace_id=ws.id, name=name, agent_ids=members).id
    channels: dict[str, m.Channel] = {}
    for c in content.CHANNELS:
        channels[c["key"]] = admin.create_channel(
            rt,
            system,
            workspace_id=ws.id,
            connector="webhook",
            name=c["name"],
            config={"outbound_url": f"{network_url}/channels/{c['key']}/replies"},
            credentials={"secret": secrets.token_urlsafe(24)},
            own_account_id=f"nordlys-{c['key']}",
            team_id=team_ids["care"],
        )
    for key in ONLINE:
        admin.set_presence(rt, system, Presence.ONLINE, agent_id=agent_ids[key])

    pipeline = Pipeline(rt)
    now = rt.clock.now()
    agents_by_key = {a["key"]: a for a in content.AGENTS}
    # Oldest conversation first, so a returning customer's earlier case is closed before the next begins.
    order = sorted(
        range(len(content.CONVERSATIONS)),
        key=lambda i: -content.CONVERSATIONS[i]["messages"][0]["minutes_ago"],
    )
    for index in order:
        conv = content.CONVERSATIONS[index]
        channel = channels[conv["channel"]]
        events = []
        previous: str | None = None
        for n, msg in enumerate(conv["messages"]):
            external_id = f"demo-{index}-{n}"
            outbound = msg["direction"] == "out"
            agent = agents_by_key[msg["agent"]] if outbound and msg["agent"] else None
            customer = Author(
                id=conv["customer_handle"],
                handle=conv["customer_handle"],
                name=conv["customer_name"],
                email=conv["customer_handle"] if "@" in conv["customer_handle"] else None,
            )
            events.append(
                InboundEvent(
                    external_id=external_id,
                    created_at=now - timedelta(minutes=msg["minutes_ago"]),
                    text=msg["text"],
                    author=Author(id=channel.own_account_id or "", name=agent["name"] if agent else None)
                    if outbound
                    else customer,
                    direction=Direction.OUT if outbound else Direction.IN,
                    public=conv["public"],
                    in_reply_to=previous,
                    thread=None if conv["public"] else f"demo-thread-{index}",
                    language=conv["language"],
                    recipient=customer if outbound else None,
                )
            )
            previous = external_id
        intake.accept(rt, channel.id, events)
        pipeline.drain()
        with rt.db.read() as session:
            conv_id = session.scalar(
                sa.select(m.Message.conversation_id).where(
                    m.Message.channel_id == channel.id, m.Message.external_id == f"demo-{index}-0"
                )
            )
        assert conv_id is not None
        status = Status(conv["status"])
        if status == Status.SNOOZED:
            conv_actions.set_status(rt, system, conv_id, status, snooze_until=now + timedelta(hours=3))
        elif status != Status.OPEN:
            conv_actions.set_status(rt, system, conv_id, status)
        for tag in conv["tags"]:
            conv_actions.tag(rt, system, conv_id, tag)
    workflow(rt, ws.id, channels["social"].id, agent_ids)


def workflow(rt: Runtime, workspace_id: int, social_channel_id: int, agent_ids: dict[str, int]) -> None:
    """Office hours on the social channel (with its greeting and sign-off posts), service levels, canned
    responses, automatic acknowledgements, and the newest agent's public replies held for review. Set
    after the history is replayed, so none of it answers the past."""
    system = Actor.system()
    cal = service_levels.save_calendar(
        rt,
        system,
        workspace_id=workspace_id,
        data={**content.OFFICE_HOURS, "channel_ids": [social_channel_id]},
    )
    for policy in content.SLA_POLICIES:
        business = policy.get("match", {}).get("public") is True
        data = {**policy, "business_hours": business, "calendar_id": cal["id"] if business else None}
        service_levels.save_policy(rt, system, workspace_id=workspace_id, data=data)
    with rt.db.write() as session:
        ws = session.get(m.Workspace, workspace_id)
        assert ws is not None
        ws.settings = {**(ws.settings or {}), "links": {"status": content.STATUS_PAGE}}
    for item in content.CANNED:
        canned.save(rt, system, workspace_id=workspace_id, data=item)
    service_levels.set_auto_ack(rt, system, workspace_id=workspace_id, data={"enabled": True})
    greetings.set_settings(rt, system, social_channel_id, {"enabled": True, "language": "en"})
    approvals.set_rules(
        rt, system, workspace_id, {"mode": "off", "agents": {str(agent_ids["jonas"]): "public"}}
    )
