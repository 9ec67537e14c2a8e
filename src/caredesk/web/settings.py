"""Settings pages for a workspace's admins: one page per kind of setting, each a list of what is set and
a form drawn from the API's request model (web/forms.py).

Every section reads through the same function its GET endpoint runs and writes by posting the form as
JSON to its API endpoint (static/app.js), so the permission checks, validation and audit records are
the API's own; a page adds no rule of its own beyond showing the settings to admins only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from caredesk.actions import greetings
from caredesk.actions.base import Actor
from caredesk.api import routes, workflow_routes
from caredesk.api.deps import RtDep, session_agent
from caredesk.connectors import registry
from caredesk.domain.errors import CaredeskError
from caredesk.domain.types import Role
from caredesk.hooks import EVENT_TYPES
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from caredesk.web.forms import FormField, fields_of, label_of
from caredesk.web.i18n import N_, gettext, templates

settings_pages = APIRouter(include_in_schema=False)

Choices = dict[str, list[tuple[str, str]]]  # field name -> (value, label) pairs


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    intro: str
    model: type[BaseModel]
    load: Callable[[Runtime, Actor, int], Any]  # the GET endpoint's function: a list, or one object
    collection: str  # API path, "{ws}" filled in: POST creates, or PUT sets a single object
    item: str | None = None  # API path of one entry ("{ws}", "{id}"): PUT edits it
    update_model: type[BaseModel] | None = None  # when editing takes other fields than creating
    create: bool = True
    delete: bool = False
    single: bool = False  # one object per workspace (GET and PUT on `collection`)
    columns: tuple[str, ...] = ()
    actions: tuple[tuple[str, str], ...] = ()  # (label, API path POSTed for one entry)
    hidden: tuple[str, ...] = ()
    choices: Callable[[Session, int], Choices] | None = None
    notes: Callable[[], list[str]] = field(default=lambda: [])

    def url(self, template: str, ws: int, item_id: Any = "") -> str:
        return template.replace("{ws}", str(ws)).replace("{id}", str(item_id))


def _named(session: Session, model: Any, ws: int) -> list[tuple[str, str]]:
    rows = session.execute(
        sa.select(model.id, model.name).where(model.workspace_id == ws).order_by(model.name)
    )
    return [(str(i), n) for i, n in rows]


def _agents(session: Session, ws: int) -> list[tuple[str, str]]:
    rows = session.execute(
        sa.select(m.Agent.id, m.Agent.name)
        .join(m.Membership, m.Membership.agent_id == m.Agent.id)
        .where(m.Membership.workspace_id == ws)
        .order_by(m.Agent.name)
    )
    return [(str(i), n) for i, n in rows]


def _team_choices(session: Session, ws: int) -> Choices:
    return {"agent_ids": _agents(session, ws)}


def _channel_choices(session: Session, ws: int) -> Choices:
    return {"connector": [(k, c.spec.display_name) for k, c in sorted(registry.all_connectors().items())],
            "team_id": _named(session, m.Team, ws)}  # fmt: skip


def _calendar_choices(session: Session, ws: int) -> Choices:
    return {"team_ids": _named(session, m.Team, ws), "channel_ids": _named(session, m.Channel, ws)}


def _sla_choices(session: Session, ws: int) -> Choices:
    return {
        "match.channel_ids": _named(session, m.Channel, ws),
        "match.team_ids": _named(session, m.Team, ws),
        "calendar_id": _named(session, m.BusinessCalendarRow, ws),
    }


def _connector_notes() -> list[str]:
    out = []
    for key, cls in sorted(registry.all_connectors().items()):
        spec = cls.spec
        config = ", ".join(spec.config_fields) or gettext("none")
        secrets_ = ", ".join(spec.credential_fields) or gettext("none")
        out.append(
            gettext(
                "%(key)s (%(name)s): settings %(config)s; credentials %(secrets)s",
                key=key,
                name=spec.display_name,
                config=config,
                secrets=secrets_,
            )
        )
    return out


def _greeting_rows(rt: Runtime, actor: Actor, ws: int) -> list[dict[str, Any]]:
    out = []
    for channel in routes.list_channels(ws, actor, rt):
        found = greetings.settings_of(rt, actor, channel["id"])
        out.append({"id": channel["id"], "channel": channel["name"], **found, **found["texts_in_force"]})
    return out


def _teams(rt: Runtime, actor: Actor, ws: int) -> list[dict[str, Any]]:
    names = {int(i): n for i, n in _agent_names(rt, ws)}
    return [
        {**t, "members": ", ".join(sorted(names.get(a, str(a)) for a in t["agent_ids"]))}
        for t in routes.list_teams(ws, actor, rt)
    ]


def _agent_names(rt: Runtime, ws: int) -> list[tuple[str, str]]:
    with rt.db.read() as session:
        return _agents(session, ws)


W = "/api/v1/workspaces/{ws}"
SECTIONS: tuple[Section, ...] = (
    Section(
        key="channels",
        title=N_("Channels"),
        intro=N_(
            "The accounts this workspace answers on. Credentials are stored encrypted and never shown again."
        ),
        model=routes.ChannelIn,
        load=lambda rt, a, ws: routes.list_channels(ws, a, rt),
        collection=W + "/channels",
        columns=("name", "connector", "own_account_id", "enabled", "last_error"),
        actions=((N_("Test connection"), "/api/v1/channels/{id}/test"),),
        choices=_channel_choices,
        notes=_connector_notes,
    ),
    Section(
        key="greetings",
        title=N_("Greetings"),
        intro=N_(
            "Public greeting and sign-off posts at the channel's opening and closing hours."
            " Leave a text empty for the default."
        ),
        model=workflow_routes.GreetingsIn,
        load=_greeting_rows,
        collection="",
        item="/api/v1/channels/{id}/greetings",
        create=False,
        columns=("channel", "enabled", "language", "greeting", "sign_off"),
    ),
    Section(
        key="watch",
        title=N_("Listening"),
        intro=N_("Posts that mention the brand without an @ arrive as listening conversations."),
        model=workflow_routes.WatchRuleIn,
        load=lambda rt, a, ws: workflow_routes.get_watch_rules(ws, a, rt),
        collection=W + "/watch-rules",
        item=W + "/watch-rules/{id}",
        delete=True,
        columns=("name", "keywords", "phrases", "exclusions", "languages", "enabled", "x_rule"),
    ),
    Section(
        key="teams",
        title=N_("Teams"),
        intro=N_("Teams receive the conversations of their channels; their calendar sets their hours."),
        model=routes.TeamIn,
        load=_teams,
        collection=W + "/teams",
        item=W + "/teams/{id}",
        columns=("name", "members"),
        choices=_team_choices,
    ),
    Section(
        key="agents",
        title=N_("Agents"),
        intro=N_(
            "People who answer here, their role in this workspace, languages, skills and how many"
            " conversations they hold at once."
        ),
        model=routes.AgentIn,
        load=lambda rt, a, ws: routes.list_agents(ws, a, rt),
        collection=W + "/agents",
        item=W + "/agents/{id}",
        update_model=routes.AgentUpdateIn,
        columns=("name", "email", "role", "languages", "skills", "max_concurrent", "presence"),
    ),
    Section(
        key="calendars",
        title=N_("Business hours"),
        intro=N_(
            "Opening windows per weekday in a time zone, with public holidays and closed dates."
            ' Week example: {"mon": [["09:00", "17:00"]]}.'
        ),
        model=routes.CalendarIn,
        load=lambda rt, a, ws: routes.get_calendars(ws, a, rt),
        collection=W + "/calendars",
        item=W + "/calendars/{id}",
        columns=("name", "time_zone", "week", "holiday_country", "team_ids", "channel_ids"),
        choices=_calendar_choices,
    ),
    Section(
        key="sla",
        title=N_("SLA policies"),
        intro=N_("Tried in order of position; the first whose match fits a conversation sets its targets."),
        model=routes.SlaPolicyIn,
        load=lambda rt, a, ws: routes.get_sla_policies(ws, a, rt),
        collection=W + "/sla-policies",
        item=W + "/sla-policies/{id}",
        columns=("position", "name", "first_reply_minutes", "next_reply_minutes", "resolution_minutes"),
        choices=_sla_choices,
    ),
    Section(
        key="canned",
        title=N_("Canned responses"),
        intro=N_(
            'A text per language ("en", "da", ...) with {customer.first_name}, {agent.first_name}, {order}'
            " and [[fill-in fields]]."
        ),
        model=workflow_routes.CannedIn,
        load=lambda rt, a, ws: workflow_routes.get_canned(ws, a, rt),
        collection=W + "/canned-responses",
        item=W + "/canned-responses/{id}",
        delete=True,
        columns=("folder", "name", "shortcut", "texts", "topics"),
    ),
    Section(
        key="policy",
        title=N_("Policy words"),
        intro=N_(
            "Words and patterns a public reply must never contain; the composer stops a reply that does."
        ),
        model=routes.PolicyIn,
        load=lambda rt, a, ws: routes.get_policy(ws, a, rt),
        collection=W + "/policy",
        single=True,
    ),
    Section(
        key="approvals",
        title=N_("Approval rules"),
        intro=N_(
            "Whose replies wait for a supervisor's review."
            ' Per agent: {"<agent id>": "all" | "public" | "off"}.'
        ),
        model=workflow_routes.ApprovalRulesIn,
        load=lambda rt, a, ws: workflow_routes.get_approval_rules(ws, a, rt),
        collection=W + "/approval-rules",
        single=True,
    ),
    Section(
        key="routing",
        title=N_("Routing"),
        intro=N_(
            "How waiting conversations are handed out, and what one conversation of each network weighs."
        ),
        model=workflow_routes.RoutingIn,
        load=lambda rt, a, ws: workflow_routes.get_routing(ws, a, rt),
        collection=W + "/routing",
        single=True,
    ),
    Section(
        key="auto-ack",
        title=N_("Automatic acknowledgement"),
        intro=N_("One acknowledgement per closed period, in the customer's language. Texts per language."),
        model=routes.AutoAckIn,
        load=lambda rt, a, ws: routes.get_auto_ack(ws, a, rt),
        collection=W + "/auto-ack",
        single=True,
    ),
    Section(
        key="triage",
        title=N_("Priority and topics"),
        intro=N_(
            "The weights that make up a conversation's priority, and the workspace's own topics with"
            " example phrases."
        ),
        model=routes.TriageSettingsIn,
        load=lambda rt, a, ws: routes.get_triage_settings(ws, a, rt),
        collection=W + "/triage-settings",
        single=True,
    ),
    Section(
        key="webhooks",
        title=N_("Webhooks"),
        intro=N_("Signed events to your own systems; a ticketing webhook receives escalations."),
        model=workflow_routes.WebhookIn,
        load=lambda rt, a, ws: workflow_routes.get_webhooks(ws, a, rt),
        collection=W + "/webhooks",
        item=W + "/webhooks/{id}",
        delete=True,
        columns=("name", "url", "events", "ticketing", "active"),
        actions=((N_("Send test"), W + "/webhooks/{id}/test"),),
        notes=lambda: [gettext("Events: %(events)s", events=", ".join(sorted(EVENT_TYPES)))],
    ),
)
BY_KEY = {s.key: s for s in SECTIONS}
templates.env.globals["field_label"] = label_of


def administered(session: Session, agent: m.Agent, ws: int | None) -> m.Workspace | None:
    """The workspace this agent administers, the one asked for if any."""
    query = sa.select(m.Workspace, m.Membership.role).join(
        m.Membership, m.Membership.workspace_id == m.Workspace.id
    )
    rows = session.execute(query.where(m.Membership.agent_id == agent.id).order_by(m.Workspace.name)).all()
    allowed = [w for w, role in rows if agent.is_superadmin or Role(role).allows(Role.ADMIN)]
    return next((w for w in allowed if w.id == ws), allowed[0] if allowed else None)


def _with_choices(fields: list[FormField], choices: Choices) -> list[FormField]:
    out = []
    for f in fields:
        if f.name in choices and f.kind in ("intlist", "number", "text"):
            kind = "multi" if f.kind == "intlist" else "choice"
            out.append(replace(f, kind=kind, options=tuple(v for v, _ in choices[f.name])))
        else:
            out.append(f)
    return out


def _shown(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, list | tuple):
        return ", ".join(_shown(v) for v in value) or "–"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_shown(v)}" for k, v in value.items()) or "–"
    return str(value)


@settings_pages.get("/settings", response_class=HTMLResponse)
@settings_pages.get("/settings/{key}", response_class=HTMLResponse)
def settings_page(request: Request, rt: RtDep, key: str = "channels", ws: int | None = None) -> Response:
    found = session_agent(rt, request)
    if found is None:
        return RedirectResponse("/", status_code=303)
    agent, web_session = found
    section = BY_KEY.get(key)
    with rt.db.read() as session:
        current = administered(session, agent, ws)
        choices = section.choices(session, current.id) if section and current and section.choices else {}
    if current is None or section is None:
        status = 404 if section is None else 403
        return templates.TemplateResponse(request, "missing.html", {"agent": agent}, status_code=status)
    actor = Actor.agent(agent.id, is_superadmin=agent.is_superadmin)
    try:
        data = section.load(rt, actor, current.id)
    except CaredeskError as exc:
        return templates.TemplateResponse(
            request, "missing.html", {"agent": agent, "error": exc.message}, status_code=exc.status_code
        )
    create_fields = _with_choices(fields_of(section.model, hidden=section.hidden), choices)
    edit_fields = _with_choices(
        fields_of(section.update_model or section.model, hidden=section.hidden), choices
    )
    labels = {k: dict(v) for k, v in choices.items()}
    context = {
        "agent": agent,
        "csrf": web_session.csrf_token,
        "current": current,
        "workspaces": [],
        "sections": SECTIONS,
        "s": section,
        "items": [] if section.single else data,
        "single": data if section.single else None,
        "create_fields": create_fields,
        "edit_fields": edit_fields,
        "labels": labels,
        "shown": _shown,
        "notes": section.notes(),
    }
    return templates.TemplateResponse(request, "settings.html", context)
