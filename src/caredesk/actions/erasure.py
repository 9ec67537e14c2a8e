"""Erasing personal data: one contact's on request (the right to erasure), and old conversations under
the workspace's retention rule.

The unit is the conversation. Erasing one blanks every text a customer or an agent wrote in it (messages,
notes, drafts awaiting approval, queued replies, escalation notes), the authors' names and handles, the
network payloads kept with them (messages' `raw`, the intake spool, outgoing webhook deliveries), the
subject, the case references and the personal-data spans found by triage. What stays is anonymous: the
rows themselves with their times, direction, language, sentiment, topic and counts, so the reports and
roll-ups give the same figures afterwards; the network's message ids (`external_id`, `in_reply_to`), so a
network delivering the same message again is refused as a duplicate instead of bringing the text back, and
reply times can be computed again. Thread keys and references go (on some networks a private thread's key
is made of the participants' account ids); a customer writing again after an erasure starts afresh.
Erasing a contact erases all its conversations (and its messages in other people's threads), then its
name, attributes and identities, and the same for contacts merged into it. The event log holds no
customer content (actions/base.py, `record`), so it is left whole.

On SQLite, pages freed by an erasure are overwritten (`secure_delete`, storage/db.py) and the write-ahead
log is checkpointed and truncated afterwards, so the text does not linger in the database files; on
PostgreSQL the old row versions are unreachable at once and reclaimed by autovacuum. Backups taken before
the erasure still hold the data (README, "Personal data").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from caredesk.actions.base import Actor, get_or_404, record, require
from caredesk.domain.errors import InvalidInput
from caredesk.domain.types import Role, SpoolStatus
from caredesk.runtime import Runtime
from caredesk.storage import models as m

CHUNK = 500
RETENTION_BATCH = 200  # conversations per transaction of the retention pass
MAX_RETENTION_DAYS = 36500
TRIAGE_KEPT = frozenset(
    {
        "language", "language_confidence", "languages", "sentiment", "sentiment_confidence",
        "sentiment_score", "anger", "needs_reply", "needs_reply_shipped", "complaint", "topic",
        "topic_confidence", "topic_source", "urgency", "model",
    }
)  # fmt: skip
# What an erased queued reply or pending approval is left with.
ERASED_REPLY_ERROR = "personal data erased before this reply was sent"


def _chunks(ids: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _scrub_triage(triage: dict[str, Any] | None) -> dict[str, Any]:
    """Triage scores stay for the reports; the spans and references (which point into the text) go."""
    return {k: v for k, v in (triage or {}).items() if k in TRIAGE_KEPT}


def _scrub_messages(session: Session, message_ids: Sequence[int]) -> list[tuple[int, str]]:
    """Blank these messages; returns their (channel id, external id) for the spool."""
    keys: list[tuple[int, str]] = []
    for chunk in _chunks(message_ids):
        rows = session.execute(
            sa.select(m.Message.id, m.Message.channel_id, m.Message.external_id, m.Message.triage).where(
                m.Message.id.in_(chunk)
            )
        ).all()
        if not rows:
            continue
        session.execute(
            sa.update(m.Message),
            [
                {"id": mid, "text": "", "author_handle": None, "author_name": None, "raw": {},
                 "thread": None, "references": [], "triage": _scrub_triage(triage)}
                for mid, _, _, triage in rows
            ],
        )  # fmt: skip
        keys.extend((channel_id, ext) for _, channel_id, ext, _ in rows if ext)
    return keys


def _scrub_spool(session: Session, keys: Sequence[tuple[int, str]]) -> int:
    """The intake spool's copies of these messages (those already processed): payloads erased."""
    erased = 0
    S = m.SpoolEvent
    for chunk in _chunks(keys):
        ids = list(
            session.scalars(
                sa.select(S.id).where(
                    sa.tuple_(S.channel_id, S.external_id).in_(list(chunk)),
                    S.status != SpoolStatus.PENDING.value,
                )
            )
        )
        if not ids:
            continue
        session.execute(sa.update(S).where(S.id.in_(ids)).values(payload={}, status=SpoolStatus.ERASED.value))
        session.execute(
            sa.update(m.DeadLetter).where(m.DeadLetter.spool_id.in_(ids)).values(error="(erased)")
        )
        erased += len(ids)
    return erased


def _scrub_conversations(session: Session, conv_ids: Sequence[int], now: datetime) -> dict[str, int]:
    """Erase the personal data of these conversations (see the module's docstring)."""
    counts = {"conversations": 0, "messages": 0, "spool": 0}
    for chunk in _chunks(conv_ids):
        message_ids = list(
            session.scalars(sa.select(m.Message.id).where(m.Message.conversation_id.in_(chunk)))
        )
        keys = _scrub_messages(session, message_ids)
        counts["messages"] += len(message_ids)
        counts["spool"] += _scrub_spool(session, keys)
        tickets = session.execute(
            sa.select(m.Conversation.id, m.Conversation.external_ticket).where(m.Conversation.id.in_(chunk))
        ).all()
        session.execute(
            sa.update(m.Conversation),
            [
                {"id": cid, "subject": None, "erased_at": now, "updated_at": now,
                 "external_ticket": {k: v for k, v in (ticket or {}).items() if k != "note"}}
                for cid, ticket in tickets
            ],
        )  # fmt: skip
        counts["conversations"] += len(tickets)
        session.execute(sa.update(m.Note).where(m.Note.conversation_id.in_(chunk)).values(text=""))
        session.execute(sa.delete(m.CaseLink).where(m.CaseLink.conversation_id.in_(chunk)))
        session.execute(
            sa.update(m.Outbox)
            .where(m.Outbox.conversation_id.in_(chunk), m.Outbox.status.in_(("queued", "failed")))
            .values(status="failed", last_error=ERASED_REPLY_ERROR, claimed_until=None)
        )
        # a reply in flight keeps its request: the sender may need it again to settle an unknown outcome
        session.execute(
            sa.update(m.Outbox)
            .where(m.Outbox.conversation_id.in_(chunk), m.Outbox.status != "sending")
            .values(request={})
        )
        session.execute(
            sa.update(m.Message)
            .where(m.Message.conversation_id.in_(chunk), m.Message.delivery.in_(("queued", "approval")))
            .values(delivery="failed", delivery_error=ERASED_REPLY_ERROR)
        )
        session.execute(
            sa.update(m.Approval)
            .where(m.Approval.conversation_id.in_(chunk), m.Approval.status == "pending")
            .values(status="rejected", reason=ERASED_REPLY_ERROR, decided_at=now)
        )
        session.execute(
            sa.update(m.Approval).where(m.Approval.conversation_id.in_(chunk)).values(request={}, checks=[])
        )
        session.execute(
            sa.update(m.OutgoingDelivery).where(m.OutgoingDelivery.conversation_id.in_(chunk)).values(data={})
        )
    return counts


def _scrub_spike_examples(session: Session, workspace_id: int) -> None:
    """Spike alerts quote example messages: the quotes of erased ones go (the alert's figures stay)."""
    for alert in session.scalars(sa.select(m.SpikeAlert).where(m.SpikeAlert.workspace_id == workspace_id)):
        examples = (alert.detail or {}).get("examples") or []
        ids = [x.get("message_id") for x in examples if x.get("text")]
        if not ids:
            continue
        erased = set(
            session.scalars(
                sa.select(m.Message.id)
                .join(m.Conversation, m.Conversation.id == m.Message.conversation_id)
                .where(
                    m.Message.id.in_(ids), sa.or_(m.Conversation.erased_at.is_not(None), m.Message.text == "")
                )
            )
        )
        if erased:
            kept = [x if x.get("message_id") not in erased else {**x, "text": ""} for x in examples]
            alert.detail = {**alert.detail, "examples": kept}


def _erase_contacts(session: Session, contact_ids: Sequence[int], now: datetime) -> None:
    for chunk in _chunks(contact_ids):
        session.execute(sa.delete(m.ContactIdentity).where(m.ContactIdentity.contact_id.in_(chunk)))
        session.execute(
            sa.update(m.Contact)
            .where(m.Contact.id.in_(chunk))
            .values(name=None, attributes={}, erased_at=now)
        )


def _merged_family(session: Session, contact_id: int) -> list[int]:
    """The contact and every contact merged into it, however deep."""
    family, frontier = [contact_id], [contact_id]
    while frontier:
        frontier = list(
            session.scalars(sa.select(m.Contact.id).where(m.Contact.merged_into_id.in_(frontier)))
        )
        family.extend(x for x in frontier if x not in family)
    return family


def erase_contact(rt: Runtime, actor: Actor, contact_id: int) -> dict[str, Any]:
    """Erase one contact's personal data (an admin acting on the customer's request)."""
    now = rt.clock.now()
    with rt.db.write() as session:
        contact: m.Contact = get_or_404(session, m.Contact, contact_id, "contact")
        require(session, actor, contact.workspace_id, Role.ADMIN)
        family = _merged_family(session, contact.id)
        conv_ids = list(
            session.scalars(sa.select(m.Conversation.id).where(m.Conversation.contact_id.in_(family)))
        )
        counts = _scrub_conversations(session, conv_ids, now)
        # what the contact wrote in other people's threads (a reply under someone else's public post)
        elsewhere = list(
            session.scalars(
                sa.select(m.Message.id).where(
                    m.Message.contact_id.in_(family), m.Message.conversation_id.not_in(conv_ids or [0])
                )
            )
        )
        counts["spool"] += _scrub_spool(session, _scrub_messages(session, elsewhere))
        counts["messages"] += len(elsewhere)
        _erase_contacts(session, family, now)
        _scrub_spike_examples(session, contact.workspace_id)
        record(
            session, actor, "contact.erased", workspace_id=contact.workspace_id, at=now,
            contact_id=contact.id, contacts=len(family), **counts,
        )  # fmt: skip
        ids = conv_ids
    rt.db.reclaim()
    rt.bus.publish("conversations.changed", {"ids": ids, "kind": "erased"})
    return {"contact_id": contact_id, "erased_at": now, "contacts": len(family), **counts}


# --- retention ------------------------------------------------------------------------------------


def retention_of(settings: dict[str, Any] | None) -> dict[str, Any]:
    days = (settings or {}).get("retention_days")
    return {"days": int(days) if days else None}


def set_retention(rt: Runtime, actor: Actor, workspace_id: int, days: int | None) -> dict[str, Any]:
    """Keep conversations `days` after their last message, then erase them; None keeps them for ever."""
    if days is not None and not 1 <= days <= MAX_RETENTION_DAYS:
        raise InvalidInput(f"days must be 1 to {MAX_RETENTION_DAYS}, or null to keep conversations for ever")
    now = rt.clock.now()
    with rt.db.write() as session:
        require(session, actor, workspace_id, Role.ADMIN)
        ws = get_or_404(session, m.Workspace, workspace_id, "workspace")
        settings = {k: v for k, v in (ws.settings or {}).items() if k != "retention_days"}
        ws.settings = {**settings, **({"retention_days": days} if days else {})}
        record(session, actor, "workspace.retention", workspace_id=workspace_id, at=now, days=days)
        return retention_of(ws.settings)


def apply_retention(rt: Runtime) -> int:
    """The scheduled pass (the worker, hourly): erase every conversation past its workspace's retention,
    then the contacts left with nothing else. Returns how many conversations it erased."""
    now = rt.clock.now()
    with rt.db.read() as session:
        rules = [
            (ws_id, retention_of(settings)["days"])
            for ws_id, settings in session.execute(sa.select(m.Workspace.id, m.Workspace.settings))
        ]
    total = 0
    for ws_id, days in rules:
        if not days:
            continue
        cutoff = now - timedelta(days=days)
        while True:
            with rt.db.write() as session:
                C = m.Conversation
                conv_ids = list(
                    session.scalars(
                        sa.select(C.id)
                        .where(C.workspace_id == ws_id, C.erased_at.is_(None), C.last_message_at < cutoff)
                        .order_by(C.last_message_at, C.id)
                        .limit(RETENTION_BATCH)
                    )
                )
                if not conv_ids:
                    break
                counts = _scrub_conversations(session, conv_ids, now)
                # the contacts of these conversations that have no other left
                live = sa.select(C.id).where(C.contact_id == m.Contact.id, C.erased_at.is_(None)).exists()
                touched = sa.select(C.contact_id).where(C.id.in_(conv_ids))
                contacts = list(
                    session.scalars(
                        sa.select(m.Contact.id).where(
                            m.Contact.id.in_(touched), m.Contact.erased_at.is_(None), ~live
                        )
                    )
                )
                _erase_contacts(session, contacts, now)
                _scrub_spike_examples(session, ws_id)
                record(
                    session, Actor.system(), "retention.erased", workspace_id=ws_id, at=now, days=days,
                    contacts=len(contacts), **counts,
                )  # fmt: skip
                total += len(conv_ids)
    if total:
        rt.db.reclaim()
    return total
