"""Canned responses: saved replies per workspace, in folders, with a shortcut, a text per language,
variables filled from the conversation and fill-in fields the agent completes.

Variables (`{customer.first_name}`) are replaced when a response is rendered for a conversation
(`VARIABLES` lists them). One without a value there (a customer with no name, no order number found)
becomes a fill-in field, `[[customer.first_name]]`, as do the fields the text itself asks for
(`[[Tracking number]]`): the reply checks refuse a reply that still holds one
(actions/reply_checks.py, `fill_in`). Suggestions for a conversation are ranked by its topic (from
triage), its language and what the agent typed.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from caredesk.actions.base import Actor, get_or_404, record, require
from caredesk.actions.reply_checks import FILL_IN
from caredesk.domain.errors import Conflict, InvalidInput, NotFound
from caredesk.domain.types import Role
from caredesk.routing.acknowledge import when_text
from caredesk.routing.sla import calendar_of
from caredesk.runtime import Runtime
from caredesk.storage import models as m

VARIABLES = (
    "customer.name",
    "customer.first_name",
    "agent.name",
    "agent.first_name",
    "agent.signature",
    "workspace.name",
    "order.id",
    "case.id",
    "ticket.id",
    "business_hours.next_open",
)
VARIABLE = re.compile(r"\{([a-z_]+\.[a-z_]+)\}")
SHORTCUT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
LANGUAGE = re.compile(r"^[a-z]{2}$")
MAX_TEXT = 5000
MAX_LANGUAGES = 40


def _checked(data: dict[str, Any], links: dict[str, Any]) -> dict[str, Any]:
    name = str(data.get("name") or "").strip()
    if not name or len(name) > 200:
        raise InvalidInput("name: 1 to 200 characters")
    shortcut = str(data.get("shortcut") or "").strip().lower() or None
    if shortcut is not None and not SHORTCUT.match(shortcut):
        raise InvalidInput("shortcut: up to 40 lowercase letters, digits, - and _")
    folder = str(data.get("folder") or "").strip()
    if len(folder) > 120:
        raise InvalidInput("folder: at most 120 characters")
    texts = {str(k).lower(): str(v).strip() for k, v in dict(data.get("texts") or {}).items()}
    if not texts or len(texts) > MAX_LANGUAGES:
        raise InvalidInput(f"texts: 1 to {MAX_LANGUAGES} languages, each a text")
    for lang, text in texts.items():
        if not LANGUAGE.match(lang):
            raise InvalidInput(f"texts: {lang!r} is not a two-letter language code")
        if not text or len(text) > MAX_TEXT:
            raise InvalidInput(f"texts[{lang}]: 1 to {MAX_TEXT} characters")
        for var in VARIABLE.findall(text):
            if var not in VARIABLES and not (var.startswith("link.") and var[5:] in links):
                known = ", ".join("{" + v + "}" for v in VARIABLES)
                raise InvalidInput(
                    f"texts[{lang}]: unknown variable {{{var}}}; known: {known}, {{link.<name>}}"
                )
    topics = sorted({str(t).strip() for t in data.get("topics") or [] if str(t).strip()})
    if len(topics) > 20:
        raise InvalidInput("topics: at most 20")
    return {"name": name, "shortcut": shortcut, "folder": folder, "texts": texts, "topics": topics}


def canned_out(row: m.CannedResponse) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "shortcut": row.shortcut,
        "folder": row.folder,
        "texts": row.texts,
        "topics": row.topics,
        "updated_at": row.updated_at,
    }


def save(
    rt: Runtime, actor: Actor, *, workspace_id: int, data: dict[str, Any], canned_id: int | None = None
) -> dict[str, Any]:
    """Create or replace a canned response (supervisors and admins)."""
    now = rt.clock.now()
    with rt.db.write() as session:
        require(session, actor, workspace_id, Role.SUPERVISOR)
        ws = get_or_404(session, m.Workspace, workspace_id, "workspace")
        fields = _checked(data, dict((ws.settings or {}).get("links") or {}))
        if fields["shortcut"] is not None:
            clash = session.scalar(
                sa.select(m.CannedResponse.id).where(
                    m.CannedResponse.workspace_id == workspace_id,
                    m.CannedResponse.active.is_(True),
                    m.CannedResponse.shortcut == fields["shortcut"],
                )
            )
            if clash is not None and clash != canned_id:
                raise Conflict(f"shortcut /{fields['shortcut']} is taken")
        if canned_id is None:
            row = m.CannedResponse(workspace_id=workspace_id, created_at=now, active=True)
            session.add(row)
        else:
            row = _row(session, workspace_id, canned_id)
        row.name, row.shortcut, row.folder = fields["name"], fields["shortcut"], fields["folder"]
        row.texts, row.topics, row.updated_at = fields["texts"], fields["topics"], now
        session.flush()
        kind = "canned.created" if canned_id is None else "canned.updated"
        record(session, actor, kind, workspace_id=workspace_id, at=now, canned_id=row.id)
        return canned_out(row)


def _row(session: Session, workspace_id: int, canned_id: int) -> m.CannedResponse:
    row = session.get(m.CannedResponse, canned_id)
    if row is None or row.workspace_id != workspace_id or not row.active:
        raise NotFound(f"canned response {canned_id} not found")
    return row


def remove(rt: Runtime, actor: Actor, *, workspace_id: int, canned_id: int) -> None:
    """Retire a canned response (removing it again changes nothing)."""
    now = rt.clock.now()
    with rt.db.write() as session:
        require(session, actor, workspace_id, Role.SUPERVISOR)
        row = session.get(m.CannedResponse, canned_id)
        if row is None or row.workspace_id != workspace_id:
            raise NotFound(f"canned response {canned_id} not found")
        if not row.active:
            return
        row.active, row.updated_at = False, now
        record(session, actor, "canned.removed", workspace_id=workspace_id, at=now, canned_id=row.id)


def list_canned(rt: Runtime, actor: Actor, workspace_id: int) -> list[dict[str, Any]]:
    """Every active canned response, by folder and name."""
    with rt.db.read() as session:
        require(session, actor, workspace_id, Role.ANALYST)
        rows = session.scalars(
            sa.select(m.CannedResponse)
            .where(m.CannedResponse.workspace_id == workspace_id, m.CannedResponse.active.is_(True))
            .order_by(m.CannedResponse.folder, m.CannedResponse.name, m.CannedResponse.id)
        )
        return [canned_out(r) for r in rows]


# --- rendering for a conversation ----------------------------------------------------------------


def _first(name: str | None) -> str | None:
    parts = (name or "").split()
    return parts[0] if parts else None


def _latest_ref(session: Session, conversation_id: int, kind: str) -> str | None:
    value = session.scalar(
        sa.select(m.CaseLink.value)
        .where(m.CaseLink.conversation_id == conversation_id, m.CaseLink.kind == kind)
        .order_by(m.CaseLink.id.desc())
        .limit(1)
    )
    return str(value) if value is not None else None


def values_for(
    session: Session, conv: m.Conversation, agent: m.Agent | None, language: str, now: datetime
) -> dict[str, str | None]:
    """Each variable's value for this conversation and agent (None where there is none)."""
    contact = session.get(m.Contact, conv.contact_id) if conv.contact_id else None
    ws = session.get(m.Workspace, conv.workspace_id)
    calendar = calendar_of(session, conv.channel_id, conv.team_id)
    next_open = calendar.next_open(now) if calendar is not None else None
    ticket = (conv.external_ticket or {}).get("id") or _latest_ref(session, conv.id, "ticket")
    values: dict[str, str | None] = {
        "customer.name": contact.name if contact else None,
        "customer.first_name": _first(contact.name if contact else None),
        "agent.name": agent.name if agent else None,
        "agent.first_name": _first(agent.name if agent else None),
        "agent.signature": (agent.signature or None) if agent else None,
        "workspace.name": ws.name if ws else None,
        "order.id": _latest_ref(session, conv.id, "order"),
        "case.id": _latest_ref(session, conv.id, "case"),
        "ticket.id": str(ticket) if ticket else None,
        "business_hours.next_open": (
            when_text(next_open, now, calendar, language) if calendar is not None and next_open else None
        ),
    }
    for key, url in dict((ws.settings or {}).get("links") or {}).items() if ws else ():
        values[f"link.{key}"] = str(url)
    return values


def render_text(template: str, values: dict[str, str | None]) -> tuple[str, list[str]]:
    """The text with its variables filled; those without a value become fill-in fields. Returns the text
    and the names of the fill-in fields left in it, in order."""

    def fill(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        return value if value else f"[[{match.group(1)}]]"

    text = VARIABLE.sub(fill, template)
    return text, list(dict.fromkeys(mt.group(1).strip() for mt in FILL_IN.finditer(text)))


def _pick_language(texts: dict[str, Any], wanted: str | None) -> str:
    for lang in (wanted, "en"):
        if lang and lang in texts:
            return lang
    return sorted(texts)[0]


def suggest(
    rt: Runtime, actor: Actor, conversation_id: int, *, query: str | None = None, limit: int = 10
) -> dict[str, Any]:
    """Canned responses for this conversation, rendered, best first: a response for the conversation's
    topic ranks first, then one written in its language; `query` keeps those whose shortcut, name, folder
    or text has it (a shortcut starting with it ranks highest)."""
    q = (query or "").strip().lower().lstrip("/")
    now = rt.clock.now()
    with rt.db.read() as session:
        conv = get_or_404(session, m.Conversation, conversation_id, "conversation")
        require(session, actor, conv.workspace_id, Role.AGENT)
        agent = session.get(m.Agent, actor.agent_id) if actor.agent_id else None
        topic, language = conv.topic, conv.language
        rows = session.scalars(
            sa.select(m.CannedResponse).where(
                m.CannedResponse.workspace_id == conv.workspace_id, m.CannedResponse.active.is_(True)
            )
        ).all()
        scored: list[tuple[float, str, m.CannedResponse]] = []
        for row in rows:
            score = 0.0
            if q:
                haystack = " ".join([row.name, row.folder, *map(str, row.texts.values())]).lower()
                if row.shortcut and row.shortcut.startswith(q):
                    score += 10
                elif q in row.name.lower() or q in row.folder.lower():
                    score += 5
                elif q in haystack:
                    score += 1
                else:
                    continue
            if topic and topic in row.topics:
                score += 3
            if language and language in row.texts:
                score += 2
            scored.append((score, row.name, row))
        scored.sort(key=lambda t: (-t[0], t[1]))
        values_by_lang: dict[str, dict[str, str | None]] = {}
        out = []
        for score, _name, row in scored[:limit]:
            lang = _pick_language(row.texts, language)
            if lang not in values_by_lang:
                values_by_lang[lang] = values_for(session, conv, agent, lang, now)
            text, fields = render_text(str(row.texts[lang]), values_by_lang[lang])
            out.append({**canned_out(row), "language": lang, "text": text, "fields": fields, "score": score})
        return {"topic": topic, "language": language, "suggestions": out}
