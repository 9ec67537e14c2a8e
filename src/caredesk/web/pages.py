"""Server-rendered pages: log in, the queue (live), one conversation with its composer (live).

Pages render on the server with Jinja2 (autoescaped: customer text is never markup). `static/app.js`
keeps them live: it listens on `/live` (web/live.py) and swaps in the fresh partials below
(`/partials/...`), and talks to the JSON API with the session cookie and the CSRF token.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from caredesk.actions import approvals as approval_actions
from caredesk.actions import conversations as conv_actions
from caredesk.actions import presence
from caredesk.actions.base import Actor, role_in
from caredesk.actions.cases import linked, refs_of
from caredesk.actions.sessions import NewSession, end_session, start_session
from caredesk.analytics import spikes
from caredesk.api.deps import SESSION_COOKIE, RtDep, client_address, session_agent
from caredesk.domain.errors import CaredeskError, Forbidden, TooManyAttempts, Unauthorized
from caredesk.domain.types import Role, Status
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from caredesk.storage import queries
from caredesk.web.i18n import N_, gettext, set_language, templates

pages = APIRouter(include_in_schema=False, dependencies=[Depends(set_language)])

VIEWS = {
    "mine": N_("Mine"),
    "unassigned": N_("Unassigned"),
    "team": N_("My teams"),
    "listening": N_("Mentions without @"),
    "all": N_("All"),
}
NETWORK_MARKS = {
    "x": "X",
    "mastodon": "M",
    "bluesky": "B",
    "facebook": "f",
    "instagram": "IG",
    "email": "@",
    "webhook": "W",
}
ROW_LIMIT = 200


def nav_links(request: Request, agent: m.Agent, wanted: int | None) -> list[tuple[str, str, str]]:
    """The header's page links (href, label, key) this agent may open, for the workspace in view."""
    rt: Runtime = request.app.state.rt
    with rt.db.read() as session:
        rows = session.execute(
            sa.select(m.Membership.workspace_id, m.Membership.role).where(m.Membership.agent_id == agent.id)
        ).all()
    roles = {ws: Role(role) for ws, role in rows}
    if not roles:
        return []
    ws = wanted if wanted in roles else min(roles)
    role = roles[ws]
    links = [(f"/?ws={ws}", N_("Queue"), "queue"), (f"/team?ws={ws}", N_("Team"), "team")]
    if role.allows(Role.SUPERVISOR):
        links.append((f"/supervise?ws={ws}", N_("Supervisor"), "supervise"))
    if role != Role.AGENT:
        links.append((f"/reports?ws={ws}", N_("Reports"), "reports"))
    if role.allows(Role.ADMIN) or agent.is_superadmin:
        links.append((f"/settings?ws={ws}", N_("Settings"), "settings"))
    return links


templates.env.globals["nav_links"] = nav_links


def member_workspaces(session: Session, agent_id: int) -> list[m.Workspace]:
    """The workspaces an agent belongs to, by name."""
    return list(
        session.scalars(
            sa.select(m.Workspace)
            .join(m.Membership, m.Membership.workspace_id == m.Workspace.id)
            .where(m.Membership.agent_id == agent_id)
            .order_by(m.Workspace.name)
        )
    )


def _ago(value: Any, now: Any) -> str:
    if value is None:
        return ""
    minutes = int((now - value).total_seconds() // 60)
    if minutes < 60:
        return gettext("%(m)s min", m=max(minutes, 0))
    if minutes < 48 * 60:
        return gettext("%(h)s h %(m)s min", h=minutes // 60, m=minutes % 60)
    return gettext("%(d)s d", d=minutes // 1440)


def _due(item: dict[str, Any], now: datetime) -> tuple[datetime | None, str, str]:
    """The nearest SLA due time of a row, its countdown text and its state (ok / soon / late)."""
    dues = [d for d in (item["first_reply_due_at"], item["next_reply_due_at"]) if d is not None]
    if item["status"] != Status.OPEN.value or not dues:
        return None, "", ""
    due = min(dues)
    minutes = int((due - now).total_seconds() // 60)
    if minutes < 0:
        return due, gettext("%(t)s late", t=_ago(due, now)), "late"
    left = (
        gettext("%(h)s h %(m)s min left", h=minutes // 60, m=minutes % 60)
        if minutes >= 60
        else gettext("%(m)s min left", m=minutes)
    )
    return due, left, ("soon" if minutes < 15 else "ok")


@dataclass
class Queue:
    workspaces: list[m.Workspace]
    current: m.Workspace | None
    view: str
    status: str
    items: list[dict[str, Any]]
    counts: dict[str, int]
    text: str | None = None
    supervisor: bool = False  # the agent may open the supervisor view of this workspace


def _queue(
    session: Session,
    agent: m.Agent,
    ws: int | None,
    view: str,
    status: str,
    now: datetime,
    text: str | None = None,
) -> Queue:
    workspaces = member_workspaces(session, agent.id)
    current = next((w for w in workspaces if w.id == ws), workspaces[0] if workspaces else None)
    view = view if view in VIEWS else "all"
    if current is None:
        return Queue(workspaces, None, view, status, [], {})
    teams = tuple(session.scalars(sa.select(m.TeamMember.team_id).where(m.TeamMember.agent_id == agent.id)))
    statuses = tuple(s for s in status.split(",") if s) if status != "all" else ()
    active = tuple(s.value for s in (Status.OPEN, Status.PENDING, Status.SNOOZED))
    filters = {
        "mine": queries.ConversationFilter(workspace_id=current.id, statuses=active, assignee_id=agent.id),
        "unassigned": queries.ConversationFilter(
            workspace_id=current.id, statuses=("open",), unassigned=True
        ),
        "team": queries.ConversationFilter(workspace_id=current.id, statuses=active, team_ids=teams or (-1,)),
        "listening": queries.ConversationFilter(workspace_id=current.id, statuses=active, direct=False),
        "all": queries.ConversationFilter(workspace_id=current.id, statuses=statuses, text=text or None),
    }
    items, _ = queries.list_conversations(session, filters[view], limit=ROW_LIMIT)
    counts = {key: queries.count_conversations(session, f) for key, f in filters.items() if key != "all"}
    agents = dict(
        session.execute(
            sa.select(m.Agent.id, m.Agent.name)
            .join(m.Membership, m.Membership.agent_id == m.Agent.id)
            .where(m.Membership.workspace_id == current.id)
        ).all()
    )
    latest = queries.latest_inbound(session, [i["id"] for i in items])
    for item in items:
        item["waiting"] = _ago(item["waiting_since"], now)
        item["assignee_name"] = agents.get(item["assignee_id"] or 0, "")
        item["mark"] = NETWORK_MARKS.get(item["network"], item["network"][:2])
        last = latest.get(item["id"], {})
        item["preview"] = (last.get("text") or "")[:140]
        item["sentiment"] = last.get("sentiment")
        item["due_at"], item["countdown"], item["due_state"] = _due(item, now)
    far = datetime.max.replace(tzinfo=now.tzinfo)
    items.sort(key=lambda i: (-i["priority"], i["due_at"] or far, i["id"]))
    role = session.scalar(
        sa.select(m.Membership.role).where(
            m.Membership.workspace_id == current.id, m.Membership.agent_id == agent.id
        )
    )
    supervisor = role is not None and Role(role).allows(Role.SUPERVISOR)
    return Queue(workspaces, current, view, status, items, counts, text, supervisor)


@dataclass(frozen=True)
class QueueQuery:
    """Which queue a page shows: workspace, view, status filter and search text."""

    ws: int | None
    view: str
    status: str
    q: str | None


def queue_query(
    ws: int | None = None,
    view: str = "all",
    status: str = "open",
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> QueueQuery:
    return QueueQuery(ws, view, status, q)


QueueDep = Annotated[QueueQuery, Depends(queue_query)]


def _load_queue(rt: Runtime, agent: m.Agent, query: QueueQuery) -> Queue:
    with rt.db.read() as session:
        return _queue(session, agent, query.ws, query.view, query.status, rt.clock.now(), query.q)


@pages.get("/", response_class=HTMLResponse)
def queue(request: Request, rt: RtDep, query: QueueDep) -> Response:
    found = session_agent(rt, request)
    if found is None:
        return templates.TemplateResponse(request, "login.html", {"error": None})
    agent, web_session = found
    found_q = _load_queue(rt, agent, query)
    context = {"agent": agent, "csrf": web_session.csrf_token, "q": found_q, "views": VIEWS}
    context.update(workspaces=found_q.workspaces, current=found_q.current)
    return templates.TemplateResponse(request, "queue.html", context)


@pages.get("/partials/queue", response_class=HTMLResponse)
def queue_rows(request: Request, rt: RtDep, query: QueueDep) -> Response:
    found = session_agent(rt, request)
    if found is None:
        return Response(status_code=401)
    found_q = _load_queue(rt, found[0], query)
    return templates.TemplateResponse(request, "_queue_rows.html", {"q": found_q, "views": VIEWS})


def workspace_where(
    session: Session, agent: m.Agent, ws: int | None, allowed: Callable[[Role], bool]
) -> m.Workspace | None:
    """The workspace asked for if the agent's role there is allowed, else the first (by name) where it
    is, else None."""
    rows = session.execute(
        sa.select(m.Workspace, m.Membership.role)
        .join(m.Membership, m.Membership.workspace_id == m.Workspace.id)
        .where(m.Membership.agent_id == agent.id)
        .order_by(m.Workspace.name)
    ).all()
    fits = [w for w, role in rows if allowed(Role(role))]
    return next((w for w in fits if w.id == ws), fits[0] if fits else None)


def _supervised(session: Session, agent: m.Agent, ws: int | None) -> m.Workspace | None:
    """The workspace this agent supervises (supervisor or admin there), the one asked for if any."""
    return workspace_where(session, agent, ws, lambda role: role.allows(Role.SUPERVISOR))


def _figures(rt: Runtime, agent: m.Agent, ws: int | None) -> tuple[m.Workspace | None, dict[str, Any]]:
    now = rt.clock.now()
    with rt.db.read() as session:
        current = _supervised(session, agent, ws)
        if current is None:
            return None, {}
        figures = queries.supervisor_figures(session, current.id, now)
        figures["spikes"] = spikes.open_alerts(session, current.id)
    figures["oldest_wait"] = _ago(figures["oldest"], now)
    for entry in [*figures["by_team"], *figures["by_network"]]:
        entry["oldest_wait"] = _ago(entry["oldest"], now)
    for u in figures["urgent"]:
        late, soon = gettext("%(t)s late", t=_ago(u["due"], now)), gettext("in %(t)s", t=_ago(now, u["due"]))
        u["when"] = late if u["state"] == "breached" else soon
    figures["approvals"]["oldest_wait"] = _ago(figures["approvals"]["oldest"], now)
    return current, figures


def _supervisor_page(
    rt: Runtime, request: Request, ws: int | None
) -> tuple[m.Agent, m.WebSession, m.Workspace] | Response:
    """The logged-in supervisor and the workspace they supervise, or the answer to give instead."""
    found = session_agent(rt, request)
    if found is None:
        return RedirectResponse("/", status_code=303)
    with rt.db.read() as session:
        current = _supervised(session, found[0], ws)
    if current is None:
        return templates.TemplateResponse(request, "missing.html", {"agent": found[0]}, status_code=403)
    return found[0], found[1], current


@pages.get("/supervise", response_class=HTMLResponse)
def supervise(request: Request, rt: RtDep, ws: int | None = None) -> Response:
    page = _supervisor_page(rt, request, ws)
    if isinstance(page, Response):
        return page
    agent, web_session, current = page
    _current, figures = _figures(rt, agent, current.id)
    return templates.TemplateResponse(
        request,
        "supervise.html",
        {"agent": agent, "csrf": web_session.csrf_token, "current": current, "workspaces": [], "f": figures},
    )


@pages.get("/partials/supervise", response_class=HTMLResponse)
def supervise_part(request: Request, rt: RtDep, ws: int | None = None) -> Response:
    found = session_agent(rt, request)
    if found is None:
        return Response(status_code=401)
    current, figures = _figures(rt, found[0], ws)
    if current is None:
        return Response(status_code=403)
    return templates.TemplateResponse(request, "_supervise.html", {"current": current, "f": figures})


@pages.get("/approvals", response_class=HTMLResponse)
def approvals_page(request: Request, rt: RtDep, ws: int | None = None) -> Response:
    """Replies waiting for review, oldest first, with the checks' findings the requester saw."""
    page = _supervisor_page(rt, request, ws)
    if isinstance(page, Response):
        return page
    agent, web_session, current = page
    now = rt.clock.now()
    actor = Actor.agent(agent.id, is_superadmin=agent.is_superadmin)
    pending = approval_actions.list_approvals(rt, actor, current.id, "pending")
    for item in pending:
        item["waited"] = _ago(item["requested_at"], now)
    context = {"agent": agent, "csrf": web_session.csrf_token, "current": current, "workspaces": []}
    return templates.TemplateResponse(request, "approvals.html", {**context, "pending": pending})


@pages.post("/take-next")
def take_next(
    request: Request, rt: RtDep, csrf: Annotated[str, Form(max_length=100)], ws: Annotated[int, Form()]
) -> Response:
    found = session_agent(rt, request)
    if found is None:
        return RedirectResponse("/", status_code=303)
    agent, web_session = found
    if not secrets.compare_digest(csrf, web_session.csrf_token):
        raise Forbidden("wrong CSRF token")
    try:
        conv = conv_actions.take_next(rt, Actor.agent(agent.id, is_superadmin=agent.is_superadmin), ws)
    except CaredeskError as exc:
        return RedirectResponse(f"/?ws={ws}&view=mine&notice={exc.message[:200]}", status_code=303)
    if conv is None:
        return RedirectResponse(f"/?ws={ws}&view=unassigned", status_code=303)
    return RedirectResponse(f"/c/{conv.id}", status_code=303)


def _detail(session: Session, rt: Runtime, agent: m.Agent, conversation_id: int) -> dict[str, Any] | None:
    conv = session.get(m.Conversation, conversation_id)
    actor = Actor.agent(agent.id, is_superadmin=agent.is_superadmin)
    if conv is None or role_in(session, actor, conv.workspace_id) is None:
        return None
    detail = queries.conversation_detail(session, conv)
    detail["refs"] = refs_of(session, conv.id)
    detail["linked"] = linked(session, conv)
    detail["present"] = [
        p for p in presence.present(session, conv.id, rt.clock.now()) if p["agent_id"] != agent.id
    ]
    detail["agents"] = session.execute(
        sa.select(m.Agent.id, m.Agent.name)
        .join(m.Membership, m.Membership.agent_id == m.Agent.id)
        .where(m.Membership.workspace_id == conv.workspace_id)
        .order_by(m.Agent.name)
    ).all()
    last_in = next((x for x in reversed(detail["messages"]) if x["direction"] == "in"), None)
    detail["triage"] = last_in["triage"] if last_in else {}
    return detail


@pages.get("/c/{conversation_id}", response_class=HTMLResponse)
def conversation_page(conversation_id: int, request: Request, rt: RtDep) -> Response:
    found = session_agent(rt, request)
    if found is None:
        return RedirectResponse("/", status_code=303)
    agent, web_session = found
    with rt.db.read() as session:
        detail = _detail(session, rt, agent, conversation_id)
    if detail is None:
        return templates.TemplateResponse(request, "missing.html", {"agent": agent}, status_code=404)
    return templates.TemplateResponse(
        request, "conversation.html", {"agent": agent, "csrf": web_session.csrf_token, "c": detail}
    )


@pages.get("/partials/conversation/{conversation_id}", response_class=HTMLResponse)
def conversation_part(conversation_id: int, request: Request, rt: RtDep) -> Response:
    found = session_agent(rt, request)
    if found is None:
        return Response(status_code=401)
    with rt.db.read() as session:
        detail = _detail(session, rt, found[0], conversation_id)
    if detail is None:
        return Response(status_code=404)
    return templates.TemplateResponse(request, "_thread.html", {"c": detail})


@pages.post("/login")
def login(
    request: Request,
    rt: RtDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
) -> Response:
    try:
        new = start_session(rt, email, password, client_address(request))
    except Unauthorized as exc:
        return templates.TemplateResponse(request, "login.html", {"error": exc.message}, status_code=401)
    except TooManyAttempts as exc:
        return templates.TemplateResponse(
            request,
            "login.html",
            {"error": exc.message},
            status_code=429,
            headers={"Retry-After": str(exc.retry_after)},
        )
    return logged_in(rt, new)


def logged_in(rt: Runtime, new: NewSession) -> Response:
    """To the inbox, with the new session's cookie (password and single sign-on logins alike)."""
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        new.token,
        max_age=new.max_age_seconds,
        httponly=True,
        samesite="lax",
        secure=rt.settings.secure_cookies,
    )
    return response


@pages.post("/logout")
def logout(request: Request, rt: RtDep, csrf: Annotated[str, Form(max_length=100)]) -> Response:
    found = session_agent(rt, request)
    if found is not None:
        agent, web_session = found
        if not secrets.compare_digest(csrf, web_session.csrf_token):
            raise Forbidden("wrong CSRF token")
        end_session(rt, web_session.id, agent.id)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
