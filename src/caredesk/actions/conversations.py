"""What agents do to conversations. Each function is one transaction; live updates go out after commit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from caredesk.actions import outbound, presence, reply_checks
from caredesk.actions.base import Actor, get_or_404, record, require, role_in
from caredesk.connectors import length, registry
from caredesk.connectors.base import ConnectorSpec
from caredesk.domain import signature
from caredesk.domain.errors import Conflict, InvalidInput, NotFound
from caredesk.domain.types import Capability, OutboundReply, OutboxStatus, ReplyContext, Role, Status
from caredesk.routing import sla as sla_rules
from caredesk.routing import sla_watch
from caredesk.routing.assign import network_weights
from caredesk.routing.dispatch import dispatch, load_of, next_for
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from caredesk.storage import stats

MAX_REPLY = 20_000
MAX_NOTE = 20_000


def _conversation(session: Session, actor: Actor, conversation_id: int, needed: Role) -> m.Conversation:
    conv: m.Conversation = get_or_404(session, m.Conversation, conversation_id, "conversation")
    require(session, actor, conv.workspace_id, needed)
    return conv


def _touch(conv: m.Conversation, now: datetime) -> None:
    conv.updated_at = now
    conv.version += 1


def _changed(rt: Runtime, conv_id: int, kind: str) -> None:
    rt.bus.publish("conversations.changed", {"ids": [conv_id], "kind": kind})


def reply(
    rt: Runtime,
    actor: Actor,
    conversation_id: int,
    text: str,
    *,
    public: bool | None = None,
    in_reply_to_message_id: int | None = None,
    resolve: bool = False,
    human_agent: bool = False,
    sign: bool = True,
    seen_message_id: int | None = None,
    confirm: bool = False,
    request_approval: bool = False,
) -> m.Message:
    """Queue a reply: an outbound message row and an outbox item, written together. The sender publishes.
    Held for a supervisor's review instead when the workspace's approval rules say so, or when the author
    asks for it (`request_approval`).

    Refused before anything is written when the channel cannot send it (the wrong visibility, outside a
    window the connector enforces: `Connector.prepare`) or when a reply check blocks it (too long for the
    network, personal data or a policy word in public: `reply_checks.ChecksFailed`)."""
    text = text.strip()
    if not text:
        raise InvalidInput("reply text is empty")
    if len(text) > MAX_REPLY:
        raise InvalidInput(f"reply longer than {MAX_REPLY} characters")
    now = rt.clock.now()
    with rt.db.write() as session:
        conv = _conversation(session, actor, conversation_id, Role.AGENT)
        if seen_message_id is not None and not confirm:
            changes = presence.changes_since(session, conv, seen_message_id, actor)
            if changes:
                raise presence.DraftOutdated(changes)
        draft = _draft(session, actor, conv, text, public, in_reply_to_message_id, sign=sign)
        channel, spec, target, visibility_public = draft.channel, draft.spec, draft.target, draft.public
        text = draft.text
        needed = Capability.PUBLIC_REPLY if visibility_public else Capability.PRIVATE_REPLY
        if needed not in spec.capabilities:
            kind = "public" if visibility_public else "private"
            raise InvalidInput(f"{spec.display_name} channels cannot send {kind} replies")
        if reply_checks.blocking(draft.findings):
            raise reply_checks.ChecksFailed(draft.findings)
        key = uuid.uuid4().hex
        request = OutboundReply(
            idempotency_key=key,
            text=text,
            public=visibility_public,
            in_reply_to=target.external_id if target else None,
            thread=target.thread if target else None,
            recipient=outbound.recipient_of(session, conv, channel),
            subject=conv.subject,
        )
        context = ReplyContext(
            now=now,
            target_public=target.is_public if target else None,
            target_created_at=target.created_at if target else None,
            last_inbound_at=conv.last_inbound_at,
            private_replies_to_target=_private_replies_about(session, channel.id, target),
            human_agent=human_agent,
        )
        request = _prepare(rt, channel, request, context)
        agent = session.get(m.Agent, actor.agent_id) if actor.agent_id else None
        held = request_approval or needs_approval(session, actor, conv, visibility_public)
        msg = outbound.add_message(session, conv, request, now, agent=agent, held=held)
        if held:
            findings = [f.view() for f in draft.findings]
            _hold(session, actor, conv, msg, request, findings, resolve=resolve, now=now)
            resolve = False  # resolved when a reviewer approves it
        if conv.assignee_id is None and actor.agent_id is not None:
            conv.assignee_id = actor.agent_id  # whoever answers an unowned conversation owns it
            record(
                session,
                actor,
                "conversation.assigned",
                workspace_id=conv.workspace_id,
                conversation_id=conv.id,
                at=now,
                assignee_id=actor.agent_id,
                by="reply",
            )
        if resolve:
            _set_status(session, actor, conv, Status.RESOLVED, now, None)
        _touch(conv, now)
        if not held:
            record(
                session,
                actor,
                "reply.queued",
                workspace_id=conv.workspace_id,
                conversation_id=conv.id,
                message_id=msg.id,
                at=now,
                public=visibility_public,
            )
    rt.wake("outbox")
    _changed(rt, conversation_id, "approval" if held else "reply")
    return msg


APPROVAL_MODES = ("off", "public", "all")


def approval_mode(settings: dict[str, Any], agent_id: int | None, role: Role | None) -> str:
    """Which replies of this agent wait for review: the agent's own rule, else the workspace's (which
    applies to agents; supervisors and admins are the reviewers)."""
    rules = dict(settings.get("approvals") or {})
    own = dict(rules.get("agents") or {}).get(str(agent_id))
    if own in APPROVAL_MODES:
        return str(own)
    if role != Role.AGENT:
        return "off"
    mode = rules.get("mode", "off")
    return str(mode) if mode in APPROVAL_MODES else "off"


def needs_approval(session: Session, actor: Actor, conv: m.Conversation, public: bool) -> bool:
    if actor.kind != "agent" or actor.agent_id is None:
        return False
    ws = session.get(m.Workspace, conv.workspace_id)
    role = role_in(session, actor, conv.workspace_id)
    mode = approval_mode(dict(ws.settings or {}) if ws else {}, actor.agent_id, role)
    return mode == "all" or (mode == "public" and public)


def _hold(
    session: Session,
    actor: Actor,
    conv: m.Conversation,
    msg: m.Message,
    request: OutboundReply,
    findings: list[dict[str, Any]],
    *,
    resolve: bool,
    now: datetime,
) -> None:
    """Keep a reply for review: an approval row instead of an outbox item."""
    assert actor.agent_id is not None
    approval = m.Approval(
        workspace_id=conv.workspace_id,
        conversation_id=conv.id,
        message_id=msg.id,
        requester_id=actor.agent_id,
        request=outbound.reply_json(request),
        resolve=resolve,
        checks=findings,
        status="pending",
        requested_at=now,
    )
    session.add(approval)
    session.flush()
    record(
        session, actor, "approval.requested", workspace_id=conv.workspace_id, conversation_id=conv.id,
        message_id=msg.id, at=now, approval_id=approval.id, public=request.public,
    )  # fmt: skip


def _policy_rules(session: Session, workspace_id: int) -> dict[str, Any]:
    ws = session.get(m.Workspace, workspace_id)
    return dict((ws.settings or {}).get("policy") or {}) if ws else {}


def check_reply(
    rt: Runtime,
    actor: Actor,
    conversation_id: int,
    text: str,
    *,
    public: bool | None = None,
    in_reply_to_message_id: int | None = None,
    sign: bool = True,
) -> dict[str, Any]:
    """The reply checks for a draft, as the composer shows them; nothing is written."""
    with rt.db.read() as session:
        conv = _conversation(session, actor, conversation_id, Role.AGENT)
        draft = _draft(session, actor, conv, text, public, in_reply_to_message_id, sign=sign)
    counted = length.count(draft.rule, draft.text)
    return {
        "ok": not reply_checks.blocking(draft.findings),
        "public": draft.public,
        "text": draft.text,  # as it would be published: with the signature
        "signature": draft.text[len(text.rstrip()) :] if draft.text != text else "",
        "length": {"length": counted.length, "limit": counted.limit, "unit": counted.unit},
        "findings": [f.view() for f in draft.findings],
    }


@dataclass(frozen=True, slots=True)
class _Draft:
    channel: m.Channel
    spec: ConnectorSpec
    target: _Target | None
    public: bool
    rule: str
    findings: list[reply_checks.Finding]
    text: str  # as it would be published: signed in the channel's style (domain/signature.py)


def _draft(
    session: Session,
    actor: Actor,
    conv: m.Conversation,
    text: str,
    public: bool | None,
    in_reply_to_message_id: int | None,
    *,
    sign: bool = True,
) -> _Draft:
    """Where a reply would go, signed, and its checks (actions/reply_checks.py)."""
    channel: m.Channel = session.get(m.Channel, conv.channel_id)  # type: ignore[assignment]
    spec = registry.get(channel.connector).spec
    agent = session.get(m.Agent, actor.agent_id) if actor.agent_id else None
    if sign and agent is not None:
        ws = session.get(m.Workspace, conv.workspace_id)
        signer = signature.Signer(agent.signature or "", agent.name, ws.name if ws else "")
        text = signature.sign(text, signer, channel.network, (channel.config or {}).get("signature_format"))
    target = _reply_target(session, conv, in_reply_to_message_id, public)
    visibility_public = (target.is_public if target else conv.is_public) if public is None else public
    rule = spec.length_rule.public if visibility_public else spec.length_rule.private
    findings = reply_checks.check(
        text,
        reply_checks.ReplyTarget(
            public=visibility_public,
            rule=rule,
            network=spec.display_name,
            can_private=Capability.PRIVATE_REPLY in spec.capabilities,
            language=conv.language,
        ),
        _policy_rules(session, conv.workspace_id),
    )
    return _Draft(channel, spec, target, visibility_public, rule, findings, text)


def _prepare(rt: Runtime, channel: m.Channel, request: OutboundReply, context: ReplyContext) -> OutboundReply:
    from caredesk.workers.sender import connector_for  # noqa: PLC0415  (workers import actions)

    return connector_for(rt, channel).prepare(request, context)


@dataclass(frozen=True, slots=True)
class _Target:
    external_id: str | None
    thread: str | None
    is_public: bool
    created_at: datetime


def _reply_target(
    session: Session, conv: m.Conversation, message_id: int | None, public: bool | None
) -> _Target | None:
    """The customer message a reply answers: the one named, else the newest inbound of that visibility."""
    query = sa.select(m.Message).where(m.Message.conversation_id == conv.id, m.Message.direction == "in")
    if message_id is not None:
        msg = session.scalar(query.where(m.Message.id == message_id))
        if msg is None:
            raise InvalidInput(f"message {message_id} is not a customer message of this conversation")
    else:
        if public is not None:
            query = query.where(m.Message.is_public == public)
        msg = session.scalar(query.order_by(m.Message.created_at.desc(), m.Message.id.desc()).limit(1))
        if msg is None and public is False:  # a first private message about the newest public one
            msg = session.scalar(
                sa.select(m.Message)
                .where(m.Message.conversation_id == conv.id, m.Message.direction == "in")
                .order_by(m.Message.created_at.desc(), m.Message.id.desc())
                .limit(1)
            )
    if msg is None:
        return None
    return _Target(msg.external_id, msg.thread, msg.is_public, msg.created_at)


def _private_replies_about(session: Session, channel_id: int, target: _Target | None) -> int:
    if target is None or target.external_id is None:
        return 0
    return int(
        session.scalar(
            sa.select(sa.func.count())
            .select_from(m.Message)
            .where(
                m.Message.channel_id == channel_id,
                m.Message.direction == "out",
                ~m.Message.is_public,
                m.Message.in_reply_to == target.external_id,
                sa.or_(m.Message.delivery.is_(None), m.Message.delivery != "failed"),
            )
        )
        or 0
    )


def note(rt: Runtime, actor: Actor, conversation_id: int, text: str) -> m.Note:
    text = text.strip()
    if not text:
        raise InvalidInput("note text is empty")
    if len(text) > MAX_NOTE:
        raise InvalidInput(f"note longer than {MAX_NOTE} characters")
    now = rt.clock.now()
    with rt.db.write() as session:
        conv = _conversation(session, actor, conversation_id, Role.AGENT)
        if actor.agent_id is None:
            raise InvalidInput("notes are written by agents")
        row = m.Note(conversation_id=conv.id, agent_id=actor.agent_id, text=text, created_at=now)
        session.add(row)
        _touch(conv, now)
        session.flush()
        record(
            session,
            actor,
            "note.added",
            workspace_id=conv.workspace_id,
            conversation_id=conv.id,
            at=now,
            note_id=row.id,
        )
    _changed(rt, conversation_id, "note")
    return row


def assign(
    rt: Runtime,
    actor: Actor,
    conversation_id: int,
    *,
    agent_id: int | None,
    team_id: int | None = None,
    expected_version: int | None = None,
) -> m.Conversation:
    """One owner or none. Agents take or drop a conversation themselves; other moves need a supervisor."""
    now = rt.clock.now()
    with rt.db.write() as session:
        conv = _conversation(session, actor, conversation_id, Role.AGENT)
        if expected_version is not None and conv.version != expected_version:
            raise Conflict("the conversation changed since you opened it; reload and try again")
        self_service = (
            actor.agent_id is not None
            and agent_id in (None, actor.agent_id)
            and (conv.assignee_id in (None, actor.agent_id))
        )
        if not self_service:
            require(session, actor, conv.workspace_id, Role.SUPERVISOR)
        if agent_id is not None:
            require_member = session.scalar(
                sa.select(m.Membership.role).where(
                    m.Membership.workspace_id == conv.workspace_id, m.Membership.agent_id == agent_id
                )
            )
            if require_member is None or not Role(require_member).allows(Role.AGENT):
                raise InvalidInput(f"agent {agent_id} is not an agent of this workspace")
        if team_id is not None:
            team = session.get(m.Team, team_id)
            if team is None or team.workspace_id != conv.workspace_id:
                raise InvalidInput(f"team {team_id} is not a team of this workspace")
            conv.team_id = team_id
        previous = conv.assignee_id
        conv.assignee_id = agent_id
        _touch(conv, now)
        record(
            session,
            actor,
            "conversation.assigned",
            workspace_id=conv.workspace_id,
            conversation_id=conv.id,
            at=now,
            assignee_id=agent_id,
            previous_assignee_id=previous,
            team_id=conv.team_id,
        )
        if previous is not None and previous != agent_id:
            session.flush()
            dispatch(session, conv.workspace_id, now)  # the previous owner has room again
    _changed(rt, conversation_id, "assign")
    return conv


def set_status(
    rt: Runtime, actor: Actor, conversation_id: int, status: Status, *, snooze_until: datetime | None = None
) -> m.Conversation:
    now = rt.clock.now()
    with rt.db.write() as session:
        conv = _conversation(session, actor, conversation_id, Role.AGENT)
        _set_status(session, actor, conv, status, now, snooze_until)
        _touch(conv, now)
        session.flush()
        dispatch(session, conv.workspace_id, now)  # a resolved conversation frees its agent's capacity
    _changed(rt, conversation_id, "status")
    return conv


def take_next(rt: Runtime, actor: Actor, workspace_id: int) -> m.Conversation | None:
    """Manual pull: the agent takes the highest-priority waiting conversation (None when nothing waits)."""
    now = rt.clock.now()
    with rt.db.write() as session:
        require(session, actor, workspace_id, Role.AGENT)
        if actor.agent_id is None:
            raise InvalidInput("only an agent can take a conversation")
        agent: m.Agent = session.get(m.Agent, actor.agent_id, with_for_update=True)  # type: ignore[assignment]
        ws = session.get(m.Workspace, workspace_id)
        if load_of(session, agent.id, network_weights(ws.settings if ws else None)) >= agent.max_concurrent:
            raise Conflict(f"you have {agent.max_concurrent} conversations already, your capacity")
        conv = next_for(session, workspace_id, agent.id)
        if conv is None:
            return None
        conv.assignee_id = agent.id
        _touch(conv, now)
        record(
            session,
            actor,
            "conversation.assigned",
            workspace_id=workspace_id,
            conversation_id=conv.id,
            at=now,
            assignee_id=agent.id,
            by="take_next",
        )
    _changed(rt, conv.id, "assign")
    return conv


def _set_status(
    session: Session,
    actor: Actor,
    conv: m.Conversation,
    status: Status,
    now: datetime,
    snooze_until: datetime | None,
) -> None:
    if status == Status.SNOOZED:
        if snooze_until is None or snooze_until <= now:
            raise InvalidInput("snoozing needs a time in the future (snooze_until)")
        conv.snoozed_until = snooze_until
    else:
        conv.snoozed_until = None
    previous = conv.status
    if previous == status.value:
        return
    conv.status = status.value
    if status == Status.PENDING:
        sla_rules.open_pause(conv, now)
    elif previous == Status.PENDING.value:
        sla_rules.close_pause(conv, now)
    if status == Status.RESOLVED:
        conv.resolved_at = now
    elif previous == Status.RESOLVED.value:
        conv.resolved_at = None
    kind = {
        Status.RESOLVED: "conversation.resolved",
        Status.OPEN: "conversation.reopened" if previous == Status.RESOLVED.value else "conversation.opened",
        Status.PENDING: "conversation.pending",
        Status.SNOOZED: "conversation.snoozed",
    }[status]
    sla_rules.apply(conv, sla_rules.context_for(session, conv.workspace_id))
    record(
        session,
        actor,
        kind,
        workspace_id=conv.workspace_id,
        conversation_id=conv.id,
        at=now,
        previous=previous,
    )


def tag(rt: Runtime, actor: Actor, conversation_id: int, name: str, *, remove: bool = False) -> list[str]:
    name = name.strip().lower()
    if not name or len(name) > 64:
        raise InvalidInput("a tag is 1 to 64 characters")
    now = rt.clock.now()
    with rt.db.write() as session:
        conv = _conversation(session, actor, conversation_id, Role.AGENT)
        tag_row = session.scalar(
            sa.select(m.Tag).where(m.Tag.workspace_id == conv.workspace_id, m.Tag.name == name)
        )
        link_exists = (
            tag_row is not None and session.get(m.ConversationTag, (conv.id, tag_row.id)) is not None
        )
        if remove:
            if link_exists:
                assert tag_row is not None
                session.execute(
                    sa.delete(m.ConversationTag).where(
                        m.ConversationTag.conversation_id == conv.id, m.ConversationTag.tag_id == tag_row.id
                    )
                )
                record(
                    session,
                    actor,
                    "tag.removed",
                    workspace_id=conv.workspace_id,
                    conversation_id=conv.id,
                    at=now,
                    tag=name,
                )
        elif not link_exists:
            if tag_row is None:
                tag_row = m.Tag(workspace_id=conv.workspace_id, name=name)
                session.add(tag_row)
                session.flush()
            session.add(m.ConversationTag(conversation_id=conv.id, tag_id=tag_row.id))
            record(
                session,
                actor,
                "tag.added",
                workspace_id=conv.workspace_id,
                conversation_id=conv.id,
                at=now,
                tag=name,
            )
        _touch(conv, now)
        session.flush()
        names = tags_of(session, conv.id)
    _changed(rt, conversation_id, "tag")
    return names


def tags_of(session: Session, conversation_id: int) -> list[str]:
    return list(
        session.scalars(
            sa.select(m.Tag.name)
            .join(m.ConversationTag, m.ConversationTag.tag_id == m.Tag.id)
            .where(m.ConversationTag.conversation_id == conversation_id)
            .order_by(m.Tag.name)
        )
    )


def merge_contacts(rt: Runtime, actor: Actor, source_id: int, target_id: int) -> m.Contact:
    """Fold contact `source` into `target`: identities, conversations and messages move; history is one."""
    now = rt.clock.now()
    with rt.db.write() as session:
        source: m.Contact = get_or_404(session, m.Contact, source_id, "contact")
        require(session, actor, source.workspace_id, Role.AGENT)
        if source_id == target_id:
            raise InvalidInput("a contact cannot be merged into itself")
        target: m.Contact = get_or_404(session, m.Contact, target_id, "contact")
        if source.workspace_id != target.workspace_id:
            raise InvalidInput("contacts of different workspaces cannot be merged")
        if source.merged_into_id is not None or target.merged_into_id is not None:
            raise Conflict("one of these contacts was already merged")
        for model in (m.ContactIdentity, m.Conversation, m.Message):
            session.execute(
                sa.update(model).where(model.contact_id == source.id).values(contact_id=target.id)
            )
        source.merged_into_id = target.id
        target.name = target.name or source.name
        record(
            session,
            actor,
            "contact.merged",
            workspace_id=target.workspace_id,
            at=now,
            source_contact_id=source.id,
            target_contact_id=target.id,
        )
    return target


def watch_slas(rt: Runtime) -> int:
    """The periodic SLA scan (routing/sla_watch.py): warnings, breaches and their escalation."""
    now = rt.clock.now()
    with rt.db.write() as session:
        notices = sla_watch.scan(session, now)
    for notice in notices:
        rt.bus.publish(notice["kind"], notice)
    return len(notices)


def dispatch_waiting(rt: Runtime) -> int:
    """The periodic pass over every workspace's waiting queue (the timers worker, every 30 s)."""
    now = rt.clock.now()
    with rt.db.read() as session:
        workspaces = sorted(
            set(
                session.scalars(
                    sa.select(m.Conversation.workspace_id)
                    .where(m.Conversation.status == Status.OPEN.value, m.Conversation.assignee_id.is_(None))
                    .distinct()
                )
            )
        )
    given = 0
    for workspace_id in workspaces:
        with rt.db.write() as session:
            given += len(dispatch(session, workspace_id, now))
    return given


def release_snoozed(rt: Runtime) -> int:
    """Snoozed conversations whose time has come are open again (run by the worker)."""
    now = rt.clock.now()
    with rt.db.write() as session:
        convs = list(
            session.scalars(
                sa.select(m.Conversation).where(
                    m.Conversation.status == Status.SNOOZED.value, m.Conversation.snoozed_until <= now
                )
            )
        )
        for conv in convs:
            _set_status(session, Actor.system(), conv, Status.OPEN, now, None)
            _touch(conv, now)
    for conv in convs:
        _changed(rt, conv.id, "status")
    return len(convs)


def mark_sent(session: Session, outbox: m.Outbox, external_id: str, now: datetime) -> None:
    """Write back the network's id for a published reply and update the conversation's clocks."""
    msg = session.get(m.Message, outbox.message_id)
    assert msg is not None
    echo = session.scalar(
        sa.select(m.Message).where(
            m.Message.channel_id == msg.channel_id,
            m.Message.external_id == external_id,
            m.Message.id != msg.id,
        )
    )
    if echo is not None:  # the network's copy of this reply was ingested before the write-back: keep ours
        echo_conversation = echo.conversation_id
        session.delete(echo)
        session.flush()
        stats.refresh(session, [echo_conversation])
    if msg.external_id is None:
        msg.external_id = external_id
    msg.delivery = "sent"
    msg.delivery_error = None
    msg.sent_at = msg.sent_at or now
    outbox.status = "sent"
    outbox.sent_at = now
    outbox.last_error = None
    stats.refresh(session, [outbox.conversation_id])
    conv = session.get(m.Conversation, outbox.conversation_id)
    if conv is not None:
        sla_rules.apply(conv, sla_rules.context_for(session, conv.workspace_id))
        _touch(conv, now)
    record(
        session,
        Actor.system(),
        "reply.sent",
        workspace_id=outbox.workspace_id,
        conversation_id=outbox.conversation_id,
        message_id=outbox.message_id,
        at=now,
        external_id=external_id,
    )


def retry_failed(rt: Runtime, actor: Actor, outbox_id: int) -> None:
    """The retry button: a failed reply goes back to the queue with its same idempotency key."""
    now = rt.clock.now()
    with rt.db.write() as session:
        outbox = session.get(m.Outbox, outbox_id)
        if outbox is None:
            raise NotFound(f"reply {outbox_id} not found")
        require(session, actor, outbox.workspace_id, Role.AGENT)
        if outbox.status != OutboxStatus.FAILED.value:
            raise Conflict("only a failed reply can be retried")
        if not outbox.request:  # actions/erasure.py
            raise Conflict("this reply was erased with the customer's personal data: write a new one")
        outbox.status, outbox.next_attempt_at, outbox.attempts = OutboxStatus.QUEUED.value, now, 0
        msg = session.get(m.Message, outbox.message_id)
        if msg is not None:
            msg.delivery, msg.delivery_error = "queued", None
        record(
            session,
            actor,
            "reply.retried",
            workspace_id=outbox.workspace_id,
            conversation_id=outbox.conversation_id,
            message_id=outbox.message_id,
            at=now,
        )
    rt.wake("outbox")
