"""Server-rendered pages: log in, the queue, one conversation. (The full live inbox builds on these.)"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from caredesk.actions.base import Actor, role_in
from caredesk.actions.sessions import end_session, start_session
from caredesk.api.deps import SESSION_COOKIE, RtDep, session_agent
from caredesk.domain.errors import Forbidden, Unauthorized
from caredesk.storage import models as m
from caredesk.storage import queries

pages = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def _ago(value: Any, now: Any) -> str:
    if value is None:
        return ""
    minutes = int((now - value).total_seconds() // 60)
    if minutes < 60:
        return f"{max(minutes, 0)} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60} min"
    return f"{minutes // 1440} d"


@pages.get("/", response_class=HTMLResponse)
def queue(request: Request, rt: RtDep, ws: int | None = None, status: str = "open") -> Response:
    found = session_agent(rt, request)
    if found is None:
        return templates.TemplateResponse(request, "login.html", {"error": None})
    agent, web_session = found
    now = rt.clock.now()
    with rt.db.read() as session:
        workspaces = list(
            session.scalars(
                sa.select(m.Workspace)
                .join(m.Membership, m.Membership.workspace_id == m.Workspace.id)
                .where(m.Membership.agent_id == agent.id)
                .order_by(m.Workspace.name)
            )
        )
        current = next((w for w in workspaces if w.id == ws), workspaces[0] if workspaces else None)
        items: list[dict[str, Any]] = []
        agents: dict[int, str] = {}
        if current is not None:
            statuses = tuple(s for s in status.split(",") if s) if status != "all" else ()
            items, _ = queries.list_conversations(
                session, queries.ConversationFilter(workspace_id=current.id, statuses=statuses), limit=100
            )
            agents = dict(
                session.execute(
                    sa.select(m.Agent.id, m.Agent.name)
                    .join(m.Membership, m.Membership.agent_id == m.Agent.id)
                    .where(m.Membership.workspace_id == current.id)
                ).all()
            )
    for item in items:
        item["waiting"] = _ago(item["waiting_since"], now)
        item["assignee_name"] = agents.get(item["assignee_id"] or 0, "")
    return templates.TemplateResponse(
        request,
        "queue.html",
        {
            "agent": agent,
            "csrf": web_session.csrf_token,
            "workspaces": workspaces,
            "current": current,
            "items": items,
            "status": status,
        },
    )


@pages.get("/c/{conversation_id}", response_class=HTMLResponse)
def conversation_page(conversation_id: int, request: Request, rt: RtDep) -> Response:
    found = session_agent(rt, request)
    if found is None:
        return RedirectResponse("/", status_code=303)
    agent, web_session = found
    with rt.db.read() as session:
        conv = session.get(m.Conversation, conversation_id)
        if (
            conv is None
            or role_in(session, Actor.agent(agent.id, is_superadmin=agent.is_superadmin), conv.workspace_id)
            is None
        ):
            return templates.TemplateResponse(request, "missing.html", {"agent": agent}, status_code=404)
        detail = queries.conversation_detail(session, conv)
    return templates.TemplateResponse(
        request, "conversation.html", {"agent": agent, "csrf": web_session.csrf_token, "c": detail}
    )


@pages.post("/login")
def login(
    request: Request,
    rt: RtDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
) -> Response:
    try:
        new = start_session(rt, email, password)
    except Unauthorized as exc:
        return templates.TemplateResponse(request, "login.html", {"error": exc.message}, status_code=401)
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
