"""Scheduled greeting and sign-off posts: a public post on a channel when its hours open ("Good morning,
Claire and Tom are here until 18:00") and when they close ("We are signing off, back Monday 09:00").

Settings per channel, in the workspace settings (`settings["greetings"]["<channel id>"]`):
`{"enabled": bool, "language": "en", "greeting": text | null, "sign_off": text | null}`; a text left
null uses the product's for the language. Placeholders: `{agents}` (the first names of the workspace's
agents online, "the team" when none is), `{until}` (when the current opening ends), `{next_open}` (the
next opening). The channel's calendar (else its team's) says when: the timers worker posts a greeting
once per opening and a sign-off once per closing, and only within `GRACE` of it (a server started at
noon does not say good morning). A post is a brand post starting a conversation of its own (no
contact; a customer answering it opens it), queued through the outbox, marked automatic (it is never a
reply in any figure). A network that cannot post without a message to answer refuses it, recorded as
`greeting.failed`.
"""

from __future__ import annotations

import copy
import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from babel.dates import format_time
from babel.lists import format_list
from sqlalchemy.orm import Session

from caredesk.actions import outbound
from caredesk.actions.base import Actor, get_or_404, record, require
from caredesk.connectors import length, registry
from caredesk.domain.calendar import BusinessCalendar
from caredesk.domain.errors import CaredeskError, InvalidInput
from caredesk.domain.types import Capability, OutboundReply, Presence, ReplyContext, Role, Status
from caredesk.routing.acknowledge import when_text
from caredesk.routing.sla import calendar_of
from caredesk.runtime import Runtime
from caredesk.storage import models as m

GRACE = timedelta(minutes=30)
KINDS = ("greeting", "sign_off")
DEFAULT_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "greeting": "Good morning! {agents} here until {until}. How can we help?",
        "sign_off": "We are signing off for now and back {next_open}; we answer every message then.",
    },
    "da": {
        "greeting": "Godmorgen! {agents} er her til kl. {until}. Hvad kan vi hjælpe med?",
        "sign_off": "Vi lukker for nu og er tilbage {next_open}. Beskeder i mellemtiden besvarer vi der.",
    },
    "de": {
        "greeting": "Guten Morgen! {agents} sind bis {until} für Sie da. Wie können wir helfen?",
        "sign_off": "Wir verabschieden uns für heute und sind {next_open} wieder da.",
    },
    "es": {
        "greeting": "¡Buenos días! {agents} estamos aquí hasta las {until}. ¿En qué podemos ayudarte?",
        "sign_off": "Nos despedimos por hoy; volvemos el {next_open}.",
    },
    "fr": {
        "greeting": "Bonjour ! {agents} sont là jusqu'à {until}. Comment pouvons-nous vous aider ?",
        "sign_off": "Nous fermons pour aujourd'hui ; retour {next_open}.",
    },
}
TEAM_WORD = {"en": "the team", "da": "holdet", "de": "das Team", "es": "el equipo", "fr": "l'équipe"}
PLACEHOLDERS = ("agents", "until", "next_open")


def _checked(data: dict[str, Any]) -> dict[str, Any]:
    language = str(data.get("language") or "en")[:2].lower()
    out: dict[str, Any] = {"enabled": bool(data.get("enabled")), "language": language}
    for kind in KINDS:
        text = data.get(kind)
        if text is not None:
            text = str(text).strip()
            if not text or len(text) > 1000:
                raise InvalidInput(f"{kind}: 1 to 1000 characters, or null for the default")
            try:
                text.format(**dict.fromkeys(PLACEHOLDERS, "x"))
            except (KeyError, IndexError, ValueError):
                raise InvalidInput(f"{kind}: placeholders are {{agents}}, {{until}}, {{next_open}}") from None
        out[kind] = text
    return out


def settings_of(rt: Runtime, actor: Actor, channel_id: int) -> dict[str, Any]:
    with rt.db.read() as session:
        channel = get_or_404(session, m.Channel, channel_id, "channel")
        require(session, actor, channel.workspace_id, Role.ANALYST)
        ws = get_or_404(session, m.Workspace, channel.workspace_id, "workspace")
        return _view(dict((ws.settings or {}).get("greetings") or {}).get(str(channel_id)) or {})


def _view(row: dict[str, Any]) -> dict[str, Any]:
    lang = row.get("language", "en")
    texts = DEFAULT_TEXTS.get(lang, DEFAULT_TEXTS["en"])
    return {
        "enabled": bool(row.get("enabled")),
        "language": lang,
        **{kind: row.get(kind) for kind in KINDS},
        "texts_in_force": {kind: row.get(kind) or texts[kind] for kind in KINDS},
        "last": dict(row.get("last") or {}),
    }


def set_settings(rt: Runtime, actor: Actor, channel_id: int, data: dict[str, Any]) -> dict[str, Any]:
    fields = _checked(data)
    now = rt.clock.now()
    with rt.db.write() as session:
        channel = get_or_404(session, m.Channel, channel_id, "channel")
        require(session, actor, channel.workspace_id, Role.ADMIN)
        spec = registry.get(channel.connector).spec
        if fields["enabled"] and Capability.PUBLIC_REPLY not in spec.capabilities:
            raise InvalidInput(f"{spec.display_name} channels cannot post publicly")
        ws = get_or_404(session, m.Workspace, channel.workspace_id, "workspace")
        greetings = dict((ws.settings or {}).get("greetings") or {})
        previous = dict(greetings.get(str(channel_id)) or {})
        greetings[str(channel_id)] = {**fields, "last": previous.get("last") or {}}
        ws.settings = {**(ws.settings or {}), "greetings": greetings}
        record(session, actor, "channel.greetings", workspace_id=ws.id, at=now, channel_id=channel_id)
        return _view(greetings[str(channel_id)])


# --- the timers job ------------------------------------------------------------------------------


def due(calendar: BusinessCalendar, now: datetime, last: dict[str, str]) -> tuple[str, str, datetime] | None:
    """(kind, key, the opening's end or the next opening) of a post due now, or None. The key names the
    opening or closing, so each is posted once."""
    for start, end in calendar.periods(now - GRACE):
        if start > now:
            break
        if now - GRACE <= start and now < end and last.get("greeting") != start.isoformat():
            return "greeting", start.isoformat(), end
        if now - GRACE <= end <= now and last.get("sign_off") != end.isoformat():
            reopen = calendar.next_open(now)
            return ("sign_off", end.isoformat(), reopen) if reopen is not None else None
    return None


def _agents_online(session: Session, workspace_id: int) -> list[str]:
    rows = session.execute(
        sa.select(m.Agent.name, m.Membership.role)
        .join(m.Membership, m.Membership.agent_id == m.Agent.id)
        .where(
            m.Membership.workspace_id == workspace_id,
            m.Agent.active,
            m.Agent.presence == Presence.ONLINE.value,
        )
        .order_by(m.Agent.name)
    ).all()
    return [name.split()[0] for name, role in rows if name.split() and Role(role).allows(Role.AGENT)]


def text_for(
    template: str, language: str, calendar: BusinessCalendar, at: datetime, now: datetime, agents: list[str]
) -> str:
    locale = language if language in DEFAULT_TEXTS else "en"
    names = format_list(agents, locale=locale) if agents else TEAM_WORD.get(language, "the team")
    until = str(format_time(at.astimezone(calendar.tz), "HH:mm", locale=locale))
    return template.format(agents=names, until=until, next_open=when_text(at, now, calendar, locale))


def post_due(rt: Runtime) -> int:
    """Post every greeting and sign-off due now; returns how many were queued."""
    now = rt.clock.now()
    posted = 0
    with rt.db.read() as session:  # most deployments post none: no write lock for them
        wanted = [
            ws_id
            for ws_id, settings in session.execute(sa.select(m.Workspace.id, m.Workspace.settings))
            if any(row.get("enabled") for row in dict((settings or {}).get("greetings") or {}).values())
        ]
    if not wanted:
        return 0
    with rt.db.write() as session:
        workspaces = session.scalars(sa.select(m.Workspace).where(m.Workspace.id.in_(wanted))).all()
        for ws in workspaces:
            greetings = copy.deepcopy(dict((ws.settings or {}).get("greetings") or {}))
            changed = False
            for key, row in greetings.items():
                if not row.get("enabled"):
                    continue
                channel = session.get(m.Channel, int(key))
                if channel is None or channel.workspace_id != ws.id or not channel.enabled:
                    continue
                calendar = calendar_of(session, channel.id, channel.team_id)
                last = dict(row.get("last") or {})
                found = due(calendar, now, last) if calendar is not None else None
                if calendar is None or found is None:
                    continue
                kind, period, at = found
                language = row.get("language", "en")
                template = row.get(kind) or DEFAULT_TEXTS.get(language, DEFAULT_TEXTS["en"])[kind]
                text = text_for(template, language, calendar, at, now, _agents_online(session, ws.id))
                if _post(rt, session, channel, text, now, kind):
                    posted += 1
                row["last"] = {**last, kind: period}  # tried once per period, posted or refused
                changed = True
            if changed:
                ws.settings = {**(ws.settings or {}), "greetings": greetings}
    if posted:
        rt.wake("outbox")
    return posted


def _post(rt: Runtime, session: Session, channel: m.Channel, text: str, now: datetime, kind: str) -> bool:
    from caredesk.workers.sender import connector_for  # noqa: PLC0415  (workers import actions)

    spec = registry.get(channel.connector).spec
    request = OutboundReply(
        idempotency_key=uuid.uuid4().hex, text=text, public=True, in_reply_to=None, thread=None,
        recipient=None, subject=None, automatic=True,
    )  # fmt: skip
    try:
        if not length.count(spec.length_rule.public, text).valid:
            raise InvalidInput(f"the {kind.replace('_', '-')} text is too long for {spec.display_name}")
        request = connector_for(rt, channel).prepare(
            request, ReplyContext(now, None, None, None, 0, human_agent=False)
        )
    except CaredeskError as exc:
        record(
            session, Actor.system(), "greeting.failed", workspace_id=channel.workspace_id, at=now,
            channel_id=channel.id, post=kind, error=exc.message,
        )  # fmt: skip
        return False
    conv = m.Conversation(
        workspace_id=channel.workspace_id, channel_id=channel.id, contact_id=None,
        status=Status.RESOLVED.value, team_id=channel.team_id, is_public=True, is_direct=True,
        last_message_at=now, resolved_at=now, created_at=now, updated_at=now,
    )  # fmt: skip
    session.add(conv)
    session.flush()
    msg = outbound.add_message(session, conv, request, now)
    record(
        session, Actor.system(), f"greeting.{'posted' if kind == 'greeting' else 'signed_off'}",
        workspace_id=channel.workspace_id, conversation_id=conv.id, message_id=msg.id, at=now,
        channel_id=channel.id,
    )  # fmt: skip
    return True
