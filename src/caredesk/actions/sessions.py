"""Browser sessions: logging in and out (the API uses tokens, see admin.create_token)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from caredesk.actions import logins
from caredesk.actions.base import Actor, record
from caredesk.domain.errors import Unauthorized
from caredesk.runtime import Runtime
from caredesk.security.passwords import new_token, token_digest
from caredesk.storage import models as m

SESSION_DAYS = 14


@dataclass(frozen=True, slots=True)
class NewSession:
    token: str  # goes in the cookie; only its digest is stored
    csrf_token: str
    max_age_seconds: int


def start_session(rt: Runtime, email: str, password: str, client: str | None = None) -> NewSession:
    agent = logins.login(rt, email, password, client)
    return _open(rt, agent.id, "password")


def start_sso_session(rt: Runtime, email: str) -> NewSession:
    """A session for the agent whose email the sign-on provider verified (security/oidc.py). Only agents
    an admin added may log in this way; none is created."""
    with rt.db.read() as session:
        agent = session.scalar(sa.select(m.Agent).where(m.Agent.email == email.strip().lower()))
    if agent is None or not agent.active:
        raise Unauthorized(f"{email} has no caredesk account: an admin must add you first")
    return _open(rt, agent.id, "oidc")


def _open(rt: Runtime, agent_id: int, method: str) -> NewSession:
    token = new_token("cds")
    csrf = secrets.token_urlsafe(24)
    now = rt.clock.now()
    with rt.db.write() as session:
        session.add(
            m.WebSession(
                agent_id=agent_id,
                token_hash=token_digest(token),
                csrf_token=csrf,
                expires_at=now + timedelta(days=SESSION_DAYS),
                created_at=now,
            )
        )
        record(
            session, Actor.agent(agent_id), "agent.login", workspace_id=None, at=now, agent_id=agent_id,
            method=method,
        )  # fmt: skip
    return NewSession(token=token, csrf_token=csrf, max_age_seconds=SESSION_DAYS * 86400)


def end_session(rt: Runtime, web_session_id: int, agent_id: int) -> None:
    now = rt.clock.now()
    with rt.db.write() as session:
        session.execute(sa.delete(m.WebSession).where(m.WebSession.id == web_session_id))
        record(session, Actor.agent(agent_id), "agent.logout", workspace_id=None, at=now, agent_id=agent_id)
