"""REST API v1. Reads go through storage.queries, every write through an action."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from caredesk.actions import admin, audit, erasure, intake, logins, presence, reply_checks, service_levels
from caredesk.actions import conversations as conv_actions
from caredesk.actions.base import Actor, get_or_404, record, require, role_in
from caredesk.analytics import spikes
from caredesk.analytics.kpis import kpis
from caredesk.analytics.planning import weekly_plan
from caredesk.analytics.reports import (
    ReplyTimes,
    conversation_rows,
    hour_of_week,
    reply_times,
    summary,
    write_csv,
)
from caredesk.analytics.staffing import Demand
from caredesk.api.deps import ActorDep, RtDep, client_address
from caredesk.connectors import length, registry
from caredesk.domain.errors import CaredeskError, Forbidden, InvalidInput, NotFound
from caredesk.domain.types import Capability, Presence, Role, Status
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from caredesk.storage import queries
from caredesk.workers.sender import connector_for

api = APIRouter(prefix="/api/v1")
hooks = APIRouter()


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- who am I ----------------------------------------------------------------------------------


class LoginIn(Strict):
    email: Annotated[str, Field(max_length=320)]
    password: Annotated[str, Field(max_length=1024)]


@api.post("/auth/login", tags=["auth"], summary="Exchange email and password for an API token")
def login(body: LoginIn, rt: RtDep, request: Request) -> dict[str, Any]:
    """Failed attempts are throttled per account and per client address: after too many, 429 with
    Retry-After (actions/logins.py)."""
    agent = logins.login(rt, body.email, body.password, client_address(request))
    token = admin.create_token(rt, Actor.agent(agent.id), agent_id=agent.id, name="login", days=30)
    return {"token": token, "token_type": "bearer", "agent_id": agent.id}


@api.get("/me", tags=["agents"])
def me(actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    with rt.db.read() as session:
        agent = get_or_404(session, m.Agent, actor.agent_id or 0, "agent")
        memberships = session.execute(
            sa.select(m.Membership.workspace_id, m.Membership.role).where(m.Membership.agent_id == agent.id)
        ).all()
        return {**_agent_view(agent), "workspaces": [{"workspace_id": w, "role": r} for w, r in memberships]}


class PresenceIn(Strict):
    presence: Presence


@api.put("/me/presence", tags=["agents"])
def put_presence(body: PresenceIn, actor: ActorDep, rt: RtDep) -> dict[str, str]:
    admin.set_presence(rt, actor, body.presence)
    return {"presence": body.presence.value}


def _agent_view(a: m.Agent) -> dict[str, Any]:
    return {
        "id": a.id,
        "email": a.email,
        "name": a.name,
        "signature": a.signature,
        "languages": a.languages,
        "skills": a.skills,
        "max_concurrent": a.max_concurrent,
        "presence": a.presence,
        "is_superadmin": a.is_superadmin,
    }


# --- workspaces, agents, teams, channels -------------------------------------------------------


@api.get("/workspaces", tags=["workspaces"])
def list_workspaces(actor: ActorDep, rt: RtDep) -> list[dict[str, Any]]:
    with rt.db.read() as session:
        query = sa.select(m.Workspace).order_by(m.Workspace.slug)
        if not actor.is_superadmin:
            query = query.join(m.Membership, m.Membership.workspace_id == m.Workspace.id).where(
                m.Membership.agent_id == actor.agent_id
            )
        return [
            {"id": w.id, "slug": w.slug, "name": w.name, "timezone": w.timezone}
            for w in session.scalars(query)
        ]


class WorkspaceIn(Strict):
    slug: Annotated[str, Field(max_length=63)]
    name: Annotated[str, Field(max_length=200)]
    timezone: Annotated[str, Field(max_length=64)] = "UTC"


@api.post("/workspaces", tags=["workspaces"], status_code=201)
def create_workspace(body: WorkspaceIn, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    _writer(actor)
    ws = admin.create_workspace(rt, actor, slug=body.slug, name=body.name, timezone=body.timezone)
    return {"id": ws.id, "slug": ws.slug, "name": ws.name, "timezone": ws.timezone}


def _writer(actor: Actor) -> None:
    if actor.scopes is not None and "write" not in actor.scopes:
        raise Forbidden("this API token is read-only")


def _member(rt: RtDep, actor: Actor, workspace_id: int, needed: Role) -> None:
    with rt.db.read() as session:
        get_or_404(session, m.Workspace, workspace_id, "workspace")
        require(session, actor, workspace_id, needed)


@api.get("/workspaces/{workspace_id}/agents", tags=["agents"])
def list_agents(workspace_id: int, actor: ActorDep, rt: RtDep) -> list[dict[str, Any]]:
    _member(rt, actor, workspace_id, Role.ANALYST)
    with rt.db.read() as session:
        rows = session.execute(
            sa.select(m.Agent, m.Membership.role)
            .join(m.Membership, m.Membership.agent_id == m.Agent.id)
            .where(m.Membership.workspace_id == workspace_id)
            .order_by(m.Agent.name)
        ).all()
        return [{**_agent_view(a), "role": role} for a, role in rows]


class AgentIn(Strict):
    email: Annotated[str, Field(max_length=320)]
    name: Annotated[str, Field(max_length=200)]
    password: Annotated[str, Field(min_length=8, max_length=1024)] | None = None
    role: Role = Role.AGENT
    signature: Annotated[str, Field(max_length=32)] = ""
    languages: Annotated[list[Annotated[str, Field(max_length=8)]], Field(max_length=30)] = []
    skills: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=50)] = []
    max_concurrent: Annotated[int, Field(ge=1, le=200)] = 12


@api.post("/workspaces/{workspace_id}/agents", tags=["agents"], status_code=201)
def create_agent(workspace_id: int, body: AgentIn, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    _member(rt, actor, workspace_id, Role.ADMIN)
    agent = admin.create_agent(
        rt,
        actor,
        email=body.email,
        name=body.name,
        password=body.password,
        signature=body.signature,
        languages=body.languages,
        skills=body.skills,
        max_concurrent=body.max_concurrent,
    )
    admin.add_member(rt, actor, workspace_id=workspace_id, agent_id=agent.id, role=body.role)
    return {**_agent_view(agent), "role": body.role.value}


class AgentUpdateIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    role: Role = Role.AGENT
    signature: Annotated[str, Field(max_length=32)] = ""
    languages: Annotated[list[Annotated[str, Field(max_length=8)]], Field(max_length=30)] = []
    skills: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=50)] = []
    max_concurrent: Annotated[int, Field(ge=1, le=200)] = 12


@api.put("/workspaces/{workspace_id}/agents/{agent_id}", tags=["agents"])
def update_agent(
    workspace_id: int, agent_id: int, body: AgentUpdateIn, actor: ActorDep, rt: RtDep
) -> dict[str, Any]:
    agent = admin.update_agent(rt, actor, workspace_id=workspace_id, agent_id=agent_id, **body.model_dump())
    return {**_agent_view(agent), "role": body.role.value}


@api.get("/workspaces/{workspace_id}/teams", tags=["teams"])
def list_teams(workspace_id: int, actor: ActorDep, rt: RtDep) -> list[dict[str, Any]]:
    _member(rt, actor, workspace_id, Role.ANALYST)
    with rt.db.read() as session:
        teams = list(
            session.scalars(
                sa.select(m.Team).where(m.Team.workspace_id == workspace_id).order_by(m.Team.name)
            )
        )
        members: dict[int, list[int]] = {}
        for team_id, agent_id in session.execute(
            sa.select(m.TeamMember.team_id, m.TeamMember.agent_id).where(
                m.TeamMember.team_id.in_([t.id for t in teams])
            )
        ):
            members.setdefault(team_id, []).append(agent_id)
        return [{"id": t.id, "name": t.name, "agent_ids": sorted(members.get(t.id, []))} for t in teams]


class TeamIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    agent_ids: Annotated[list[int], Field(max_length=500)] = []


@api.post("/workspaces/{workspace_id}/teams", tags=["teams"], status_code=201)
def create_team(workspace_id: int, body: TeamIn, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    _member(rt, actor, workspace_id, Role.ADMIN)
    team = admin.create_team(rt, actor, workspace_id=workspace_id, name=body.name, agent_ids=body.agent_ids)
    return {"id": team.id, "name": team.name, "agent_ids": sorted(body.agent_ids)}


@api.put("/workspaces/{workspace_id}/teams/{team_id}", tags=["teams"])
def update_team(workspace_id: int, team_id: int, body: TeamIn, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    team = admin.update_team(
        rt, actor, workspace_id=workspace_id, team_id=team_id, name=body.name, agent_ids=body.agent_ids
    )
    return {"id": team.id, "name": team.name, "agent_ids": sorted(set(body.agent_ids))}


def _channel_view(c: m.Channel) -> dict[str, Any]:
    # Credentials are never returned, only whether they are set.
    return {
        "id": c.id,
        "workspace_id": c.workspace_id,
        "name": c.name,
        "connector": c.connector,
        "network": c.network,
        "own_account_id": c.own_account_id,
        "config": c.config,
        "capabilities": c.capabilities,
        "has_credentials": bool(c.credentials_encrypted),
        "team_id": c.team_id,
        "enabled": c.enabled,
        "last_error": c.last_error,
        "webhook_path": f"/hooks/{c.id}" if Capability.WEBHOOK.value in c.capabilities else None,
    }


@api.get("/workspaces/{workspace_id}/channels", tags=["channels"])
def list_channels(workspace_id: int, actor: ActorDep, rt: RtDep) -> list[dict[str, Any]]:
    _member(rt, actor, workspace_id, Role.ANALYST)
    with rt.db.read() as session:
        rows = session.scalars(
            sa.select(m.Channel).where(m.Channel.workspace_id == workspace_id).order_by(m.Channel.id)
        )
        return [_channel_view(c) for c in rows]


class ChannelIn(Strict):
    connector: Annotated[str, Field(max_length=32)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    own_account_id: Annotated[str, Field(max_length=200)] | None = None
    config: dict[str, Annotated[str, Field(max_length=2000)]] = {}
    credentials: dict[str, Annotated[str, Field(max_length=4000)]] = {}
    team_id: int | None = None


@api.post("/workspaces/{workspace_id}/channels", tags=["channels"], status_code=201)
def create_channel(workspace_id: int, body: ChannelIn, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    _member(rt, actor, workspace_id, Role.ADMIN)
    channel = admin.create_channel(
        rt,
        actor,
        workspace_id=workspace_id,
        connector=body.connector,
        name=body.name,
        config=body.config,
        credentials=body.credentials,
        own_account_id=body.own_account_id,
        team_id=body.team_id,
    )
    return _channel_view(channel)


@api.post("/channels/{channel_id}/test", tags=["channels"])
def test_channel(channel_id: int, request: Request, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    with rt.db.read() as session:
        channel = get_or_404(session, m.Channel, channel_id, "channel")
        require(session, actor, channel.workspace_id, Role.ADMIN)
    try:
        connector_for(rt, channel).verify()
    except CaredeskError as exc:  # the network said no: that is the answer to "test connection", not a fault
        return {"ok": False, "error": exc.message}
    return {"ok": True}


class MeasureIn(Strict):
    text: Annotated[str, Field(min_length=1, max_length=conv_actions.MAX_REPLY)]
    public: bool = True


@api.post("/channels/{channel_id}/measure", tags=["channels"])
def measure(channel_id: int, body: MeasureIn, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    """How the channel's network counts this text, and the numbered thread it would become if too long."""
    with rt.db.read() as session:
        channel = get_or_404(session, m.Channel, channel_id, "channel")
        require(session, actor, channel.workspace_id, Role.AGENT)
    rules = registry.get(channel.connector).spec.length_rule
    rule = rules.public if body.public else rules.private
    counted = length.count(rule, body.text)
    parts: list[str] = []
    if not counted.valid and length.allows_threads(rule):
        try:
            parts = length.split(rule, body.text)
        except ValueError:
            parts = []
    return {
        "rule": rule,
        "length": counted.length,
        "limit": counted.limit,
        "unit": counted.unit,
        "valid": counted.valid,
        "thread": parts,
        "threads_allowed": length.allows_threads(rule),
    }


# --- conversations -----------------------------------------------------------------------------


@api.get("/workspaces/{workspace_id}/conversations", tags=["conversations"])
def list_conversations(
    workspace_id: int,
    actor: ActorDep,
    rt: RtDep,
    status: Annotated[
        str | None, Query(max_length=100, description="comma-separated: open,pending,snoozed,resolved")
    ] = None,
    assignee: Annotated[str | None, Query(max_length=20, description="an agent id, 'me' or 'none'")] = None,
    team: int | None = None,
    channel: int | None = None,
    min_priority: Annotated[int | None, Query(ge=0, le=100)] = None,
    language: Annotated[str | None, Query(max_length=8)] = None,
    tag: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="text in messages or the contact's name")
    ] = None,
    sort: Literal["priority", "newest", "oldest"] = "priority",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> dict[str, Any]:
    _member(rt, actor, workspace_id, Role.ANALYST)
    assignee_id, unassigned = None, False
    if assignee == "me":
        assignee_id = actor.agent_id
    elif assignee == "none":
        unassigned = True
    elif assignee is not None:
        if not assignee.isdigit():
            raise InvalidInput("assignee is an agent id, 'me' or 'none'")
        assignee_id = int(assignee)
    statuses = tuple(s.strip() for s in status.split(",") if s.strip()) if status else ()
    flt = queries.ConversationFilter(
        workspace_id=workspace_id,
        statuses=statuses,
        assignee_id=assignee_id,
        unassigned=unassigned,
        team_id=team,
        channel_id=channel,
        min_priority=min_priority,
        language=language,
        tag=tag,
        text=q,
    )
    with rt.db.read() as session:
        items, next_cursor = queries.list_conversations(session, flt, sort=sort, limit=limit, cursor=cursor)
    return {"items": items, "next_cursor": next_cursor}


@api.get("/conversations/{conversation_id}", tags=["conversations"])
def get_conversation(conversation_id: int, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    with rt.db.read() as session:
        conv = get_or_404(session, m.Conversation, conversation_id, "conversation")
        require(session, actor, conv.workspace_id, Role.ANALYST)
        return {
            **queries.conversation_detail(session, conv),
            "present": presence.present(session, conv.id, rt.clock.now()),  # who is viewing or typing
        }


@api.post("/workspaces/{workspace_id}/take-next", tags=["conversations"])
def post_take_next(workspace_id: int, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    """Manual pull: the highest-priority waiting conversation becomes yours (`conversation` null: none)."""
    conv = conv_actions.take_next(rt, actor, workspace_id)
    if conv is None:
        return {"conversation": None}
    with rt.db.read() as session:
        row = get_or_404(session, m.Conversation, conv.id, "conversation")
        return {"conversation": queries.conversation_detail(session, row)}


class CapacityIn(Strict):
    max_concurrent: Annotated[int, Field(ge=0, le=200)]


@api.put("/workspaces/{workspace_id}/agents/{agent_id}/capacity", tags=["agents"])
def put_capacity(
    workspace_id: int, agent_id: int, body: CapacityIn, actor: ActorDep, rt: RtDep
) -> dict[str, Any]:
    """How many conversations the agent holds at once; over it, the agent's waiting customers are requeued."""
    admin.set_capacity(
        rt, actor, workspace_id=workspace_id, agent_id=agent_id, max_concurrent=body.max_concurrent
    )
    return {"agent_id": agent_id, "max_concurrent": body.max_concurrent}


class ReplyIn(Strict):
    text: Annotated[str, Field(min_length=1, max_length=conv_actions.MAX_REPLY)]
    public: bool | None = None
    in_reply_to_message_id: int | None = None
    resolve: bool = False
    move_to_private: bool = False
    public_note: Annotated[str, Field(min_length=1, max_length=280)] | None = None
    sign: bool = True  # append the agent's signature in the channel's style
    # The newest message the author had on screen: newer ones from others refuse the reply (409 with
    # `changes`) unless `confirm` is true.
    seen_message_id: int | None = None
    confirm: bool = False
    request_approval: bool = False  # hold it for a supervisor's review whatever the rules say


@api.post("/conversations/{conversation_id}/replies", tags=["conversations"], status_code=202)
def post_reply(conversation_id: int, body: ReplyIn, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    """Queue a reply after its checks (422 with `checks` when one blocks it). `move_to_private` sends the
    text as a private message and a short public note saying so: the fix for personal data in public."""
    if body.move_to_private:
        private = conv_actions.reply(
            rt, actor, conversation_id, body.text, public=False,
            in_reply_to_message_id=body.in_reply_to_message_id, resolve=body.resolve, sign=body.sign,
            seen_message_id=body.seen_message_id, confirm=body.confirm,
            request_approval=body.request_approval,
        )  # fmt: skip
        note = body.public_note or reply_checks.MOVED_NOTES.get(
            (private.language or _conversation_language(rt, conversation_id) or "en")[:2],
            reply_checks.MOVED_NOTES["en"],
        )
        public = conv_actions.reply(
            rt,
            actor,
            conversation_id,
            note,
            public=True,
            sign=body.sign,
            request_approval=body.request_approval,
        )
        return {**queries.message_view(private), "public_note": queries.message_view(public)}
    msg = conv_actions.reply(
        rt,
        actor,
        conversation_id,
        body.text,
        public=body.public,
        in_reply_to_message_id=body.in_reply_to_message_id,
        resolve=body.resolve,
        sign=body.sign,
        seen_message_id=body.seen_message_id,
        confirm=body.confirm,
        request_approval=body.request_approval,
    )
    return queries.message_view(msg)


def _conversation_language(rt: Runtime, conversation_id: int) -> str | None:
    with rt.db.read() as session:
        conv = session.get(m.Conversation, conversation_id)
        return conv.language if conv else None


class CheckIn(Strict):
    text: Annotated[str, Field(min_length=1, max_length=conv_actions.MAX_REPLY)]
    public: bool | None = None
    in_reply_to_message_id: int | None = None
    sign: bool = True  # append the agent's signature in the channel's style


@api.post("/conversations/{conversation_id}/checks", tags=["conversations"])
def post_checks(conversation_id: int, body: CheckIn, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    """The reply checks of a draft (length and thread split, personal data in public with the move-to-private
    fix, policy words, spelling with suggestions), all at once; nothing is sent."""
    return conv_actions.check_reply(
        rt,
        actor,
        conversation_id,
        body.text,
        public=body.public,
        in_reply_to_message_id=body.in_reply_to_message_id,
        sign=body.sign,
    )


class NoteIn(Strict):
    text: Annotated[str, Field(min_length=1, max_length=conv_actions.MAX_NOTE)]


@api.post("/conversations/{conversation_id}/notes", tags=["conversations"], status_code=201)
def post_note(conversation_id: int, body: NoteIn, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    note = conv_actions.note(rt, actor, conversation_id, body.text)
    return {"id": note.id, "text": note.text, "agent_id": note.agent_id, "created_at": note.created_at}


class AssignIn(Strict):
    agent_id: int | None
    team_id: int | None = None
    expected_version: int | None = None


@api.post("/conversations/{conversation_id}/assign", tags=["conversations"])
def post_assign(conversation_id: int, body: AssignIn, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    conv = conv_actions.assign(
        rt,
        actor,
        conversation_id,
        agent_id=body.agent_id,
        team_id=body.team_id,
        expected_version=body.expected_version,
    )
    return {"id": conv.id, "assignee_id": conv.assignee_id, "team_id": conv.team_id, "version": conv.version}


class StatusIn(Strict):
    status: Status
    snooze_until: datetime | None = None


@api.post("/conversations/{conversation_id}/status", tags=["conversations"])
def post_status(conversation_id: int, body: StatusIn, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    if body.snooze_until is not None and body.snooze_until.tzinfo is None:
        raise InvalidInput("snooze_until needs a time zone")
    conv = conv_actions.set_status(rt, actor, conversation_id, body.status, snooze_until=body.snooze_until)
    return {
        "id": conv.id,
        "status": conv.status,
        "snoozed_until": conv.snoozed_until,
        "version": conv.version,
    }


class TagIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=64)]


@api.post("/conversations/{conversation_id}/tags", tags=["conversations"])
def post_tag(conversation_id: int, body: TagIn, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    return {"tags": conv_actions.tag(rt, actor, conversation_id, body.name)}


@api.delete("/conversations/{conversation_id}/tags/{name}", tags=["conversations"])
def delete_tag(conversation_id: int, name: str, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    return {"tags": conv_actions.tag(rt, actor, conversation_id, name, remove=True)}


class MergeIn(Strict):
    into_contact_id: int


@api.post("/contacts/{contact_id}/merge", tags=["contacts"])
def post_merge(contact_id: int, body: MergeIn, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    target = conv_actions.merge_contacts(rt, actor, contact_id, body.into_contact_id)
    return {"id": target.id, "name": target.name}


@api.post("/contacts/{contact_id}/erase", tags=["contacts"])
def post_erase(contact_id: int, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    """Erase the contact's personal data, on the customer's request (admin): every text, name, handle and
    network payload of its conversations; times and counts stay for the reports. It cannot be undone."""
    return erasure.erase_contact(rt, actor, contact_id)


class RetentionIn(Strict):
    days: int | None = Field(
        description="keep conversations this many days after their last message; null: for ever"
    )


@api.get("/workspaces/{workspace_id}/retention", tags=["workspaces"])
def get_retention(workspace_id: int, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    with rt.db.read() as session:
        require(session, actor, workspace_id, Role.ANALYST)
        ws = get_or_404(session, m.Workspace, workspace_id, "workspace")
        return erasure.retention_of(ws.settings)


@api.put("/workspaces/{workspace_id}/retention", tags=["workspaces"])
def put_retention(workspace_id: int, body: RetentionIn, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    """The retention rule (admin): conversations are erased this many days after their last message."""
    return erasure.set_retention(rt, actor, workspace_id, body.days)


@api.post("/outbox/{outbox_id}/retry", tags=["conversations"], status_code=202)
def post_retry(outbox_id: int, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    conv_actions.retry_failed(rt, actor, outbox_id)
    return {"id": outbox_id, "status": "queued"}


# --- triage settings ---------------------------------------------------------------------------


class TriageSettingsIn(Strict):
    priority_weights: dict[str, int] | None = None
    topics: dict[str, list[Annotated[str, Field(max_length=300)]]] | None = None


@api.get("/workspaces/{workspace_id}/triage-settings", tags=["triage"])
def get_triage_settings(workspace_id: int, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    """The priority weights in force (defaults with the workspace's overrides) and the workspace's topics."""
    with rt.db.read() as session:
        ws = get_or_404(session, m.Workspace, workspace_id, "workspace")
        require(session, actor, workspace_id, Role.ANALYST)
        return admin.triage_settings_of(ws.settings or {})


@api.put("/workspaces/{workspace_id}/triage-settings", tags=["triage"])
def put_triage_settings(
    workspace_id: int, body: TriageSettingsIn, actor: ActorDep, rt: RtDep
) -> dict[str, Any]:
    return admin.set_triage_settings(
        rt, actor, workspace_id=workspace_id, priority_weights=body.priority_weights, topics=body.topics
    )


# --- business calendars and SLA policies -------------------------------------------------------

HHMM = Annotated[str, Field(pattern=r"^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$")]
DayName = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class CalendarIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    time_zone: Annotated[str, Field(max_length=64)] = "UTC"
    week: dict[DayName, Annotated[list[tuple[HHMM, HHMM]], Field(max_length=12)]] = Field(
        default_factory=dict
    )
    holiday_country: Annotated[str, Field(max_length=8)] | None = None
    holiday_subdivision: Annotated[str, Field(max_length=16)] | None = None
    closed_dates: Annotated[list[Annotated[str, Field(max_length=10)]], Field(max_length=1000)] = Field(
        default_factory=list
    )
    team_ids: list[int] | None = None
    channel_ids: list[int] | None = None


class SlaMatchIn(Strict):
    channel_ids: list[int] | None = None
    public: bool | None = None
    min_priority: Annotated[int, Field(ge=0, le=100)] | None = None
    languages: list[Annotated[str, Field(max_length=8)]] | None = None
    team_ids: list[int] | None = None
    topics: list[Annotated[str, Field(max_length=64)]] | None = None  # triage topics, the workspace's too


Minutes = Annotated[int, Field(ge=1, le=525_600)]


class EscalationIn(Strict):
    raise_priority: Annotated[int, Field(ge=0, le=50)] = 0
    reassign: bool = False
    notify_supervisors: bool = False


class SlaPolicyIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    position: Annotated[int, Field(ge=0, le=10_000)] = 0
    match: SlaMatchIn = Field(default_factory=SlaMatchIn)
    first_reply_minutes: Minutes | None = None
    next_reply_minutes: Minutes | None = None
    resolution_minutes: Minutes | None = None
    business_hours: bool | None = None  # default: business time when a calendar is named
    calendar_id: int | None = None
    warn_before_minutes: Annotated[int, Field(ge=0, le=1440)] = 10
    escalation: EscalationIn = Field(default_factory=EscalationIn)


def _policy_data(body: SlaPolicyIn) -> dict[str, Any]:
    data = body.model_dump()
    data["match"] = body.match.model_dump(exclude_none=True)
    data["escalation"] = body.escalation.model_dump()
    return data


@api.get("/workspaces/{workspace_id}/calendars", tags=["service levels"])
def get_calendars(workspace_id: int, actor: ActorDep, rt: RtDep) -> list[dict[str, Any]]:
    """Business calendars: time zone, working windows per day, holidays, the teams and channels using each."""
    return service_levels.list_calendars(rt, actor, workspace_id)


@api.post("/workspaces/{workspace_id}/calendars", tags=["service levels"], status_code=201)
def post_calendar(workspace_id: int, body: CalendarIn, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    return service_levels.save_calendar(rt, actor, workspace_id=workspace_id, data=body.model_dump())


@api.put("/workspaces/{workspace_id}/calendars/{calendar_id}", tags=["service levels"])
def put_calendar(
    workspace_id: int, calendar_id: int, body: CalendarIn, actor: ActorDep, rt: RtDep
) -> dict[str, Any]:
    return service_levels.save_calendar(
        rt, actor, workspace_id=workspace_id, data=body.model_dump(), calendar_id=calendar_id
    )


@api.get("/workspaces/{workspace_id}/sla-policies", tags=["service levels"])
def get_sla_policies(workspace_id: int, actor: ActorDep, rt: RtDep) -> list[dict[str, Any]]:
    """SLA policies in the order they are tried; the first whose match fits a conversation applies."""
    return service_levels.list_policies(rt, actor, workspace_id)


@api.post("/workspaces/{workspace_id}/sla-policies", tags=["service levels"], status_code=201)
def post_sla_policy(workspace_id: int, body: SlaPolicyIn, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    return service_levels.save_policy(rt, actor, workspace_id=workspace_id, data=_policy_data(body))


@api.put("/workspaces/{workspace_id}/sla-policies/{policy_id}", tags=["service levels"])
def put_sla_policy(
    workspace_id: int, policy_id: int, body: SlaPolicyIn, actor: ActorDep, rt: RtDep
) -> dict[str, Any]:
    return service_levels.save_policy(
        rt, actor, workspace_id=workspace_id, data=_policy_data(body), policy_id=policy_id
    )


class PolicyIn(Strict):
    words: Annotated[list[Annotated[str, Field(min_length=1, max_length=100)]], Field(max_length=500)] = (
        Field(default_factory=list)
    )
    patterns: Annotated[list[Annotated[str, Field(min_length=1, max_length=300)]], Field(max_length=100)] = (
        Field(default_factory=list)
    )


@api.get("/workspaces/{workspace_id}/policy", tags=["service levels"])
def get_policy(workspace_id: int, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    """Words and patterns a public reply must never contain."""
    with rt.db.read() as session:
        require(session, actor, workspace_id, Role.ANALYST)
        ws = get_or_404(session, m.Workspace, workspace_id, "workspace")
        return {"words": [], "patterns": [], **dict((ws.settings or {}).get("policy") or {})}


@api.put("/workspaces/{workspace_id}/policy", tags=["service levels"])
def put_policy(workspace_id: int, body: PolicyIn, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    return service_levels.set_policy(
        rt, actor, workspace_id=workspace_id, words=body.words, patterns=body.patterns
    )


class AutoAckIn(Strict):
    enabled: bool
    when_nobody_online: bool = True
    texts: dict[Annotated[str, Field(max_length=8)], Annotated[str, Field(max_length=1000)]] = Field(
        default_factory=dict
    )
    offline_texts: dict[Annotated[str, Field(max_length=8)], Annotated[str, Field(max_length=1000)]] = Field(
        default_factory=dict
    )


@api.get("/workspaces/{workspace_id}/auto-ack", tags=["service levels"])
def get_auto_ack(workspace_id: int, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    """The automatic acknowledgement outside hours or with nobody online, with the texts in force."""
    return service_levels.auto_ack_of(rt, actor, workspace_id)


@api.put("/workspaces/{workspace_id}/auto-ack", tags=["service levels"])
def put_auto_ack(workspace_id: int, body: AutoAckIn, actor: ActorDep, rt: RtDep) -> dict[str, Any]:
    return service_levels.set_auto_ack(rt, actor, workspace_id=workspace_id, data=body.model_dump())


# --- reports -----------------------------------------------------------------------------------


def _reports_reader(session: Any, actor: Actor, workspace_id: int) -> None:
    """Reports are for the workspace's analysts, supervisors and admins."""
    get_or_404(session, m.Workspace, workspace_id, "workspace")
    role = role_in(session, actor, workspace_id)
    if role is None:
        raise NotFound("not found")
    if role == Role.AGENT:
        raise Forbidden("reports are for supervisors, admins and analysts")


def _zoned(*values: datetime | None) -> None:
    if any(v is not None and v.tzinfo is None for v in values):
        raise InvalidInput("since and until need a time zone")


@api.get("/workspaces/{workspace_id}/reports/kpis", tags=["reports"])
def report_kpis(
    workspace_id: int,
    actor: ActorDep,
    rt: RtDep,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    _zoned(since, until)
    with rt.db.read() as session:
        _reports_reader(session, actor, workspace_id)
        (row,) = kpis(session, workspace_ids=[workspace_id], since=since, until=until)
        return row.as_dict()


@api.get("/workspaces/{workspace_id}/reports/reply-times", tags=["reports"])
def report_reply_times(
    workspace_id: int,
    actor: ActorDep,
    rt: RtDep,
    since: datetime | None = None,
    until: datetime | None = None,
    business_hours: bool = False,
    exact: bool = False,
) -> dict[str, Any]:
    """Per-message reply time: each customer message to the first agent reply to it (docs/metrics.md).
    Medians and p90s come from the roll-ups, within 1%; `exact` reads the facts (slower)."""
    _zoned(since, until)
    with rt.db.read() as session:
        _reports_reader(session, actor, workspace_id)
        rows = reply_times(
            session,
            workspace_ids=[workspace_id],
            since=since,
            until=until,
            business_hours=business_hours,
            exact=exact,
        )
        ws = session.get(m.Workspace, workspace_id)
        empty = ReplyTimes(ws.slug if ws else "", 0, 0, None, None, None, None, None, business_hours)
        return (rows[0] if rows else empty).as_dict()


@api.get("/workspaces/{workspace_id}/reports/summary", tags=["reports"])
def report_summary(
    workspace_id: int,
    actor: ActorDep,
    rt: RtDep,
    since: datetime | None = None,
    until: datetime | None = None,
    by: Literal[
        "channel", "network", "public", "direct", "team", "agent", "language", "topic", "priority", "status"
    ]
    | None = None,
    business_hours: bool = False,
    exact: bool = False,
) -> list[dict[str, Any]]:
    """Response rate, first- and next-response and resolution times, replies per resolution, reopen
    rate and first-reply SLA attainment of the conversations started in the range, in all or per slice.
    Medians and p90s come from the roll-ups, within 1%; `exact` reads the facts (slower)."""
    _zoned(since, until)
    with rt.db.read() as session:
        _reports_reader(session, actor, workspace_id)
        return summary(
            session, workspace_id, since=since, until=until, by=by, business_hours=business_hours, exact=exact
        )


@api.get("/workspaces/{workspace_id}/reports/heatmap", tags=["reports"])
def report_heatmap(
    workspace_id: int,
    actor: ActorDep,
    rt: RtDep,
    since: datetime | None = None,
    until: datetime | None = None,
    business_hours: bool = False,
    exact: bool = False,
) -> dict[str, Any]:
    """Customer messages and the median response time per hour of the week, on the workspace's clock."""
    _zoned(since, until)
    with rt.db.read() as session:
        _reports_reader(session, actor, workspace_id)
        return hour_of_week(
            session, workspace_id, since=since, until=until, business_hours=business_hours, exact=exact
        )


class StaffingQuery(BaseModel):
    """What the weekly staffing plan assumes; arrivals come from the workspace's history."""

    handle_seconds: float = Field(300, gt=0, le=86_400, description="mean handling time of one message")
    target_share: float = Field(0.8, gt=0, lt=1, description="share to answer within target_seconds")
    target_seconds: float = Field(3600, ge=0, le=86_400)
    concurrency: int = Field(1, ge=1, le=50, description="conversations an agent holds at once")
    max_occupancy: float = Field(0.85, gt=0, le=1)
    shrinkage: float = Field(0.3, ge=0, lt=1, description="share of paid time not available")

    def demand(self) -> Demand:
        return Demand(
            0.0, 3600, self.handle_seconds, self.target_share, self.target_seconds, None,
            self.concurrency, self.max_occupancy, self.shrinkage,
        )  # fmt: skip


@api.get("/workspaces/{workspace_id}/reports/staffing", tags=["reports"])
def report_staffing(
    workspace_id: int,
    actor: ActorDep,
    rt: RtDep,
    params: Annotated[StaffingQuery, Query()],
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """Agents needed per hour of the week (Erlang C with concurrency, occupancy cap and shrinkage) for
    the mean arrivals of each hour over the range (default: the last four whole weeks), beside the
    agents rostered for the coming week (docs/metrics.md, "Staffing plan")."""
    _zoned(since, until)
    with rt.db.read() as session:
        _reports_reader(session, actor, workspace_id)
        try:
            return weekly_plan(
                session, workspace_id, rt.clock.now(), params.demand(), since=since, until=until
            )
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None


@api.get("/workspaces/{workspace_id}/reports/conversations.csv", tags=["reports"])
def report_conversations_csv(
    workspace_id: int,
    actor: ActorDep,
    rt: RtDep,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Response:
    """One row per conversation started in the range, with its times; cells that a spreadsheet would run
    as a formula start with an apostrophe."""
    _zoned(since, until)
    with rt.db.read() as session:
        _reports_reader(session, actor, workspace_id)
        rows = conversation_rows(session, workspace_id, since=since, until=until)
        record_export = {"rows": len(rows)}
    with rt.db.write() as session:
        record(
            session, actor, "report.exported", workspace_id=workspace_id, at=rt.clock.now(), **record_export
        )
    return _csv_download(write_csv(rows), f"conversations-{workspace_id}.csv")


@api.get("/workspaces/{workspace_id}/audit", tags=["audit"])
def audit_events(
    workspace_id: int,
    actor: ActorDep,
    rt: RtDep,
    since: datetime | None = None,
    until: datetime | None = None,
    after_id: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
    before_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=audit.MAX_ROWS)] = 1000,
) -> dict[str, Any]:
    """The workspace's audit trail, oldest first (admins). Page on by passing `next` back as the query:
    the pages cover the events up to the first request, whatever is recorded while paging."""
    _zoned(since, until)
    rows, upto = audit.export(
        rt, actor, workspace_id, since=since, until=until, after_id=after_id, before_id=before_id, limit=limit
    )
    more = len(rows) == limit
    return {
        "events": rows,
        "next": {"after_id": rows[-1]["id"], "before_id": upto} if more else None,
    }


@api.get("/workspaces/{workspace_id}/audit.csv", tags=["audit"])
def audit_csv(
    workspace_id: int,
    actor: ActorDep,
    rt: RtDep,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Response:
    """The workspace's audit trail as a spreadsheet-safe CSV (at most 100,000 events: narrow the range for
    more)."""
    _zoned(since, until)
    rows, _ = audit.export(rt, actor, workspace_id, since=since, until=until)
    return _csv_download(audit.csv_text(rows), f"audit-{workspace_id}.csv")


def _csv_download(text: str, filename: str) -> Response:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@api.get("/workspaces/{workspace_id}/spike-alerts", tags=["reports"])
def get_spike_alerts(
    workspace_id: int, actor: ActorDep, rt: RtDep, open_only: bool = False, limit: int = 50
) -> list[dict[str, Any]]:
    """Surges of inbound or negative messages, newest first, with their top terms and examples."""
    with rt.db.read() as session:
        _reports_reader(session, actor, workspace_id)
        query = sa.select(m.SpikeAlert).where(m.SpikeAlert.workspace_id == workspace_id)
        if open_only:
            query = query.where(m.SpikeAlert.ended_at.is_(None))
        rows = session.scalars(query.order_by(m.SpikeAlert.raised_at.desc()).limit(max(1, min(limit, 500))))
        return [spikes.alert_out(a) for a in rows]


# --- webhooks (signed by the sender, no login) ---------------------------------------------------


async def raw_body(request: Request) -> bytes:
    return await request.body()


def _webhook_channel(rt: Runtime, channel_id: int) -> m.Channel:
    with rt.db.read() as session:
        channel = session.get(m.Channel, channel_id)
    if channel is None or not channel.enabled:
        raise NotFound("no such channel")
    if Capability.WEBHOOK not in registry.get(channel.connector).spec.capabilities:
        raise NotFound("this channel does not receive webhooks")
    return channel


@hooks.get("/hooks/{channel_id}", tags=["webhooks"])
def webhook_challenge(channel_id: int, request: Request, rt: RtDep) -> Response:
    """Ownership checks some networks make on a webhook address (X CRC, Meta hub.challenge)."""
    channel = _webhook_channel(rt, channel_id)
    answer = connector_for(rt, channel).challenge(dict(request.query_params))
    return Response(content=answer.body, media_type=answer.media_type)


@hooks.post("/hooks/{channel_id}", tags=["webhooks"], status_code=202)
def receive_webhook(
    channel_id: int, request: Request, rt: RtDep, body: Annotated[bytes, Depends(raw_body)]
) -> Response:
    """Accept pushed events: verify the signature, validate, spool durably (with the body's digest, so a
    replayed delivery is refused), then answer."""
    channel = _webhook_channel(rt, channel_id)
    headers = {k.lower(): v for k, v in request.headers.items()}
    result = connector_for(rt, channel).parse_webhook(headers, body)
    accepted = intake.accept_delivery(rt, channel.id, result.events, hashlib.sha256(body).hexdigest())
    payload = result.response or {"accepted": accepted.accepted, "duplicates": accepted.duplicates}
    return Response(
        content=json.dumps(payload),
        media_type="application/json",
        status_code=202 if result.response is None else 200,
    )
