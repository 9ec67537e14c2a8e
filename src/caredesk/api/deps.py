"""Request plumbing: the runtime, who is calling, and the CSRF rule for browser sessions."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Request

from caredesk.actions.admin import authenticate_token
from caredesk.actions.base import Actor
from caredesk.domain.errors import Forbidden, Unauthorized
from caredesk.runtime import Runtime
from caredesk.security.passwords import token_digest
from caredesk.storage import models as m

SESSION_COOKIE = "caredesk_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.rt
    return rt


RtDep = Annotated[Runtime, Depends(get_rt)]


def client_address(request: Request) -> str | None:
    """The caller's address (behind a trusted proxy, the one it forwarded): what logins are throttled by."""
    return request.client.host if request.client else None


def session_agent(rt: Runtime, request: Request) -> tuple[m.Agent, m.WebSession] | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    now = rt.clock.now()
    with rt.db.read() as session:
        row = session.execute(
            sa.select(m.Agent, m.WebSession)
            .join(m.WebSession, m.WebSession.agent_id == m.Agent.id)
            .where(m.WebSession.token_hash == token_digest(token))
        ).first()
    if row is None:
        return None
    agent, web_session = row
    if web_session.expires_at <= now or not agent.active:
        return None
    return agent, web_session


def current_actor(request: Request, rt: RtDep) -> Actor:
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("use 'Authorization: Bearer <token>'")
        return authenticate_token(rt, token.strip())
    found = session_agent(rt, request)
    if found is None:
        raise Unauthorized("log in or send an API token")
    agent, web_session = found
    if request.method not in SAFE_METHODS and request.headers.get(CSRF_HEADER) != web_session.csrf_token:
        raise Forbidden("missing or wrong CSRF token")
    return Actor.agent(agent.id, is_superadmin=agent.is_superadmin)


ActorDep = Annotated[Actor, Depends(current_actor)]
