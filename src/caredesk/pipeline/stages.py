"""The named inbound stages. Each works on the whole batch, with one query per lookup where it can."""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from typing import Any

import sqlalchemy as sa

from caredesk.actions import cases
from caredesk.analytics import facts
from caredesk.connectors import registry
from caredesk.connectors.base import identity_kind
from caredesk.domain.errors import InvalidInput
from caredesk.domain.types import ACTIVE_STATUSES, Author, Direction, Status
from caredesk.domain.watch import WatchSpec, matches
from caredesk.pipeline.acknowledge import Acknowledge
from caredesk.pipeline.core import Item, StageContext
from caredesk.routing import priority as prio
from caredesk.routing import sla as sla_rules
from caredesk.routing.dispatch import dispatch
from caredesk.storage import models as m
from caredesk.storage import stats
from caredesk.storage.bulk import insert_rows
from caredesk.triage import adapt
from caredesk.triage.base import TriageInput, Triager
from caredesk.triage.model import ModelTriager, default_triager

MAX_TEXT = 100_000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ACTIVE = [s.value for s in ACTIVE_STATUSES]


class Normalize:
    name = "normalize"

    def process(self, ctx: StageContext, items: list[Item]) -> None:
        for item in items:
            ev = item.event
            if len(ev.text) > MAX_TEXT:
                raise InvalidInput(f"message text longer than {MAX_TEXT} characters")
            ev.text = _CONTROL.sub("", unicodedata.normalize("NFC", ev.text))
            if ev.language:
                ev.language = ev.language.lower()[:8]
            own = item.channel.own_account_id
            if own is not None and ev.author.id == own:
                ev.direction = Direction.OUT


class Dedupe:
    """Drops what is already stored, and recognises our own published replies coming back."""

    name = "dedupe"

    def process(self, ctx: StageContext, items: list[Item]) -> None:
        by_channel: dict[int, list[Item]] = defaultdict(list)
        for item in items:
            by_channel[item.channel.id].append(item)
        for channel_id, group in by_channel.items():
            ids = [i.event.external_id for i in group]
            stored = set(
                ctx.session.scalars(
                    sa.select(m.Message.external_id).where(
                        m.Message.channel_id == channel_id, m.Message.external_id.in_(ids)
                    )
                )
            )
            for item in group:
                if item.event.external_id in stored:
                    item.skip = "duplicate"
        refs = [i.event.client_ref for i in items if i.live and i.event.client_ref]
        if refs:
            ours = {
                msg.client_ref: msg
                for msg in ctx.session.scalars(sa.select(m.Message).where(m.Message.client_ref.in_(refs)))
            }
            for item in items:
                msg = ours.get(item.event.client_ref) if item.live and item.event.client_ref else None
                if msg is not None:
                    item.skip = "echo"
                    if msg.external_id is None:  # the echo outran the sender's write-back
                        msg.external_id = item.event.external_id
                        msg.delivery = "sent"
                        msg.sent_at = msg.sent_at or item.event.created_at
                        ctx.touched.add(msg.conversation_id)


class Triage:
    name = "triage"

    def __init__(self, triager: Triager | None = None) -> None:
        self.triager = triager or default_triager()
        self._fitted: dict[int, Any] = {}  # workspace -> fitted_at of the adjustment the triager holds

    def process(self, ctx: StageContext, items: list[Item]) -> None:
        live = [i for i in items if i.live and i.event.direction == Direction.IN]
        if isinstance(self.triager, ModelTriager) and live:
            self._workspace_models(ctx, {i.channel.workspace_id for i in live})
        results = self.triager.classify(
            [TriageInput(i.event.text, i.event.language, i.channel.workspace_id) for i in live]
        )
        for item, result in zip(live, results, strict=True):
            item.triage = result

    def _workspace_models(self, ctx: StageContext, workspace_ids: set[int]) -> None:
        """Each workspace's own topics and learnt needs-reply adjustment, read fresh, decoded only when
        they change."""
        assert isinstance(self.triager, ModelTriager)
        for ws_id in workspace_ids:
            ws = ctx.session.get(m.Workspace, ws_id)
            self.triager.set_topics(ws_id, dict((ws.settings if ws else {}).get("topics") or {}))
        stored = adapt.load_adjustments(ctx.session, workspace_ids)
        for ws_id in workspace_ids:
            if ws_id not in stored:
                self._fitted.pop(ws_id, None)
                self.triager.set_adjustment(ws_id, None)
            elif self._fitted.get(ws_id) != stored[ws_id][0]:
                self._fitted[ws_id] = stored[ws_id][0]
                learnt = adapt.Adjustment.from_bytes("needs_reply", stored[ws_id][1])
                # fitted on another release's features: the shipped head alone until it is refitted
                self.triager.set_adjustment(ws_id, learnt if learnt.fits(self.triager) else None)


class ListenFilter:
    """Listening results are kept only if one of the workspace's enabled watch rules matches them (text and
    language): networks' searches are coarser than the rules (exclusions, languages, whole words)."""

    name = "listen"

    def process(self, ctx: StageContext, items: list[Item]) -> None:
        heard = [i for i in items if i.live and i.event.listening and i.event.direction == Direction.IN]
        if not heard:
            return
        rules: dict[int, list[WatchSpec]] = {}
        for item in heard:
            ws = item.channel.workspace_id
            if ws not in rules:
                rows = ctx.session.scalars(
                    sa.select(m.WatchRule).where(m.WatchRule.workspace_id == ws, m.WatchRule.enabled)
                )
                rules[ws] = [r.spec() for r in rows]
            language = item.triage.get("language") or item.event.language
            if not any(matches(spec, item.event.text, language) for spec in rules[ws]):
                item.skip = "not watched"


class ChannelLock:
    """On PostgreSQL, workers hold a transaction lock per channel from here to commit, so two of them never
    identify or thread the same channel's messages at once (each would miss the other's uncommitted rows and
    open two conversations for one customer). Other channels, and the stages before, run in parallel.
    SQLite needs nothing: it has one writer at a time."""

    name = "lock"

    def process(self, ctx: StageContext, items: list[Item]) -> None:
        if ctx.session.get_bind().dialect.name != "postgresql":
            return
        for channel_id in sorted({i.channel.id for i in items if i.live}):  # one order: no deadlocks
            ctx.session.execute(sa.select(sa.func.pg_advisory_xact_lock(channel_id)))


class Identify:
    """Finds or creates the contact behind each message (the author, or the recipient of our own post)."""

    name = "identify"

    def process(self, ctx: StageContext, items: list[Item]) -> None:
        wanted: dict[tuple[int, str, str], None] = {}
        people: list[tuple[Item, Author, list[tuple[str, str]]]] = []
        for item in items:
            if not item.live:
                continue
            person = item.event.author if item.event.direction == Direction.IN else item.event.recipient
            if person is None or person.id == item.channel.own_account_id:
                continue
            kind = identity_kind(registry.get(item.channel.connector).spec, item.channel.id)
            keys = identity_keys(kind, person)
            people.append((item, person, keys))
            for kind, value in keys:
                wanted[(item.channel.workspace_id, kind, value)] = None
        if not people:
            return
        known: dict[tuple[int, str, str], m.ContactIdentity] = {}
        by_ws: dict[int, list[tuple[str, str]]] = defaultdict(list)
        for ws, kind, value in wanted:
            by_ws[ws].append((kind, value))
        for ws, pairs in by_ws.items():
            for start in range(0, len(pairs), 400):
                chunk = pairs[start : start + 400]
                rows = ctx.session.scalars(
                    sa.select(m.ContactIdentity).where(
                        m.ContactIdentity.workspace_id == ws,
                        sa.tuple_(m.ContactIdentity.kind, m.ContactIdentity.value).in_(chunk),
                    )
                )
                for row in rows:
                    known[(ws, row.kind, row.value)] = row
        # Held here: the session's identity map keeps objects only while something references them.
        loaded: dict[int, m.Contact] = {}
        for chunk in _chunks(sorted({ident.contact_id for ident in known.values()})):
            rows_c = ctx.session.scalars(sa.select(m.Contact).where(m.Contact.id.in_(chunk)))
            loaded.update((c.id, c) for c in rows_c)
        resolved: dict[tuple[int, str, str], m.Contact] = {}  # this batch's answers, new contacts included
        for item, person, keys in people:
            ws = item.channel.workspace_id
            contact = next((resolved[(ws, k, v)] for k, v in keys if (ws, k, v) in resolved), None)
            if contact is None:
                found = [known[(ws, k, v)] for k, v in keys if (ws, k, v) in known]
                if found:
                    contact = loaded.get(found[0].contact_id) or _resolve_merged(ctx, found[0].contact_id)
                    if contact.merged_into_id is not None:
                        contact = _resolve_merged(ctx, contact.id)
                else:
                    contact = m.Contact(
                        workspace_id=ws, name=person.name or person.handle, created_at=ctx.now
                    )
                    ctx.session.add(contact)
            if not contact.name and (person.name or person.handle):
                contact.name = person.name or person.handle
            for kind, value in keys:
                resolved[(ws, kind, value)] = contact
                ident: m.ContactIdentity | None = known.get((ws, kind, value))
                if ident is None:
                    ident = m.ContactIdentity(
                        workspace_id=ws,
                        contact=contact,
                        kind=kind,
                        value=value,
                        handle=person.handle if kind == keys[0][0] else value,
                        created_at=ctx.now,
                    )
                    ctx.session.add(ident)
                    known[(ws, kind, value)] = ident
                elif kind == keys[0][0] and person.handle and ident.handle != person.handle:
                    ident.handle = person.handle
            item.contact = contact
        ctx.session.flush()


def identity_keys(kind: str, person: Author) -> list[tuple[str, str]]:
    """The person's handle on this channel first, then the email and phone they gave, if any."""
    keys = [(kind, person.id.strip())]
    if person.email:
        keys.append(("email", person.email.strip().lower()))
    if person.phone:
        digits = re.sub(r"[^\d+]", "", person.phone)
        if len(digits) >= 6:
            keys.append(("phone", digits))
    seen: set[tuple[str, str]] = set()
    return [k for k in keys if not (k in seen or seen.add(k))]  # type: ignore[func-returns-value]


def _resolve_merged(ctx: StageContext, contact_id: int) -> m.Contact:
    contact = ctx.session.get(m.Contact, contact_id)
    assert contact is not None
    hops = 0
    while contact.merged_into_id is not None and hops < 20:
        nxt = ctx.session.get(m.Contact, contact.merged_into_id)
        assert nxt is not None
        contact, hops = nxt, hops + 1
    return contact


class Thread:
    """Places each message in a conversation. Rules, first that applies (docs/architecture.md):

    1. it answers a stored message (in_reply_to, then References) -> that conversation (reopened if resolved);
    2. it carries the network's thread key (a DM conversation) and that thread has an active conversation;
    3. stored messages answer it (it arrived after its replies) -> their conversation;
    4. its contact has an active conversation on the same channel -> the most recent one;
    5. otherwise a new conversation.
    """

    name = "thread"

    def process(self, ctx: StageContext, items: list[Item]) -> None:
        session = ctx.session
        live = [i for i in items if i.live]
        known = _Prefetch.load(ctx, live)
        batch_msgs: dict[tuple[int, str], m.Conversation] = {}  # (channel, external id) -> conversation
        batch_children: dict[tuple[int, str], m.Conversation] = {}  # (channel, in_reply_to) -> conversation
        batch_threads: dict[tuple[int, str], m.Conversation] = {}
        batch_contact: dict[tuple[int, int], list[m.Conversation]] = defaultdict(list)  # (channel, contact)
        redirect: dict[int, m.Conversation] = {}  # id(dropped conversation) -> kept one
        created: dict[int, int] = {}  # id(new conversation) -> creation order in this batch

        def final(conv: m.Conversation) -> m.Conversation:
            while id(conv) in redirect:
                conv = redirect[id(conv)]
            return conv

        with session.no_autoflush:  # one flush after the loop, not one per lookup
            for item in live:
                ev, ch = item.event, item.channel
                conv = None
                refs = [r for r in [ev.in_reply_to, *reversed(ev.references)] if r]
                for ref in refs:
                    conv = batch_msgs.get((ch.id, ref)) or known.message(ch.id, ref)
                    if conv is not None:
                        break
                if conv is None and ev.thread:
                    conv = batch_threads.get((ch.id, ev.thread)) or known.thread(ch.id, ev.thread)
                children = batch_children.get((ch.id, ev.external_id)) or known.child(ch.id, ev.external_id)
                if conv is None:
                    conv = children
                elif children is not None and final(children) is not final(conv):
                    _merge(ctx, keep=final(conv), drop=final(children), redirect=redirect)
                if conv is None and item.contact is not None:
                    candidates = [
                        *known.contact(ch.id, item.contact.id),
                        *batch_contact[(ch.id, item.contact.id)],
                    ]
                    conv = _most_recent([final(c) for c in candidates], created)
                if conv is not None:
                    conv = final(conv)
                if conv is None:
                    conv = m.Conversation(
                        workspace_id=ch.workspace_id,
                        channel_id=ch.id,
                        contact_id=item.contact.id if item.contact else None,
                        status=Status.OPEN.value,
                        team_id=ch.team_id,
                        is_public=ev.public,
                        is_direct=not ev.listening,
                        subject=ev.subject,
                        last_message_at=ev.created_at,
                        created_at=ctx.now,
                        updated_at=ctx.now,
                    )
                    session.add(conv)
                    created[id(conv)] = len(created)
                    item.new_conversation = True
                conv = final(conv)
                item.conversation = conv
                if ev.direction == Direction.IN and conv.contact_id is None and item.contact is not None:
                    conv.contact_id = item.contact.id  # a thread under the brand's own post gets its customer
                batch_msgs[(ch.id, ev.external_id)] = conv
                if ev.in_reply_to:
                    batch_children.setdefault((ch.id, ev.in_reply_to), conv)
                if ev.thread:
                    batch_threads[(ch.id, ev.thread)] = conv
                if item.contact is not None and conv.contact_id == item.contact.id:
                    batch_contact[(ch.id, item.contact.id)].append(conv)
                newest = ev.created_at >= conv.last_message_at
                conv.last_message_at = max(conv.last_message_at, ev.created_at)
                if ev.direction == Direction.IN:
                    if newest and item.triage.get("topic"):
                        conv.topic = str(item.triage["topic"])[:64]  # the newest customer message's
                    if not ev.listening:
                        conv.is_direct = True
                    if conv.status == Status.RESOLVED.value:
                        conv.status, conv.resolved_at, item.reopened = Status.OPEN.value, None, True
                    elif conv.status in (Status.PENDING.value, Status.SNOOZED.value):
                        if conv.status == Status.PENDING.value:
                            sla_rules.close_pause(conv, ev.created_at)  # the customer answered
                        conv.status, conv.snoozed_until = Status.OPEN.value, None
                    if conv.language is None and item.triage.get("language"):
                        conv.language = item.triage["language"]
                conv.updated_at = ctx.now
                conv.version = (conv.version or 1) + 1

        session.flush()
        announced: set[int] = set()
        for item in items:
            if not item.live:
                continue
            assert item.conversation is not None
            item.conversation = final(item.conversation)
            # "created" once per conversation born in this batch, even if merges folded others into it.
            item.new_conversation = id(item.conversation) in created and item.conversation.id not in announced
            announced.add(item.conversation.id)
            ev = item.event
            msg = m.Message(
                workspace_id=item.channel.workspace_id,
                conversation_id=item.conversation.id,
                channel_id=item.channel.id,
                direction=ev.direction.value,
                is_public=ev.public,
                contact_id=item.contact.id if item.contact and ev.direction == Direction.IN else None,
                author_handle=ev.author.handle or ev.author.id,
                author_name=ev.author.name,
                external_id=ev.external_id,
                in_reply_to=ev.in_reply_to,
                thread=ev.thread,
                references=list(ev.references),
                text=ev.text,
                language=item.triage.get("language"),
                sentiment=item.triage.get("sentiment"),
                triage=item.triage,
                listening=ev.listening,
                raw=ev.raw,
                created_at=ev.created_at,
                sent_at=ev.created_at if ev.direction == Direction.OUT else None,
                received_at=ctx.now,
            )
            session.add(msg)
            item.message = msg
            ctx.touched.add(item.conversation.id)
        session.flush()
        stats.refresh(session, ctx.touched)


class _Prefetch:
    """What the thread rules need from storage, fetched for the whole batch in four queries."""

    def __init__(self, ctx: StageContext) -> None:
        self.ctx = ctx
        # Keys hold what the database returns (nullable columns), looked up with the batch's own values.
        self.by_message: dict[tuple[int, str | None], int] = {}
        self.by_child: dict[tuple[int, str | None], int] = {}
        self.by_thread: dict[tuple[int, str | None], int] = {}
        self.by_contact: dict[tuple[int, int | None], list[int]] = defaultdict(list)
        self.loaded: dict[int, m.Conversation] = {}

    @classmethod
    def load(cls, ctx: StageContext, items: list[Item]) -> _Prefetch:
        self = cls(ctx)
        msg, conv = m.Message, m.Conversation
        channels = sorted({i.channel.id for i in items})
        refs = {r for i in items for r in [i.event.in_reply_to, *i.event.references] if r}
        ids = {i.event.external_id for i in items}
        threads = {i.event.thread for i in items if i.event.thread}
        contacts = {i.contact.id for i in items if i.contact is not None and i.contact.id is not None}
        for chunk in _chunks(sorted(refs)):
            for ch, ext, cid in ctx.session.execute(
                sa.select(msg.channel_id, msg.external_id, msg.conversation_id).where(
                    msg.channel_id.in_(channels), msg.external_id.in_(chunk)
                )
            ):
                self.by_message[(ch, ext)] = cid
        for chunk in _chunks(sorted(ids)):
            for ch, parent, cid in ctx.session.execute(
                sa.select(msg.channel_id, msg.in_reply_to, msg.conversation_id).where(
                    msg.channel_id.in_(channels), msg.in_reply_to.in_(chunk)
                )
            ):
                self.by_child.setdefault((ch, parent), cid)
        for chunk in _chunks(sorted(threads)):
            for ch, thread, cid in ctx.session.execute(
                sa.select(msg.channel_id, msg.thread, msg.conversation_id)
                .join(conv, conv.id == msg.conversation_id)
                .where(msg.channel_id.in_(channels), msg.thread.in_(chunk), conv.status.in_(_ACTIVE))
                .order_by(msg.created_at)
            ):
                self.by_thread[(ch, thread)] = cid  # the newest wins
        for chunk in _chunks(sorted(contacts)):
            for ch, contact, cid in ctx.session.execute(
                sa.select(conv.channel_id, conv.contact_id, conv.id).where(
                    conv.channel_id.in_(channels), conv.contact_id.in_(chunk), conv.status.in_(_ACTIVE)
                )
            ):
                self.by_contact[(ch, contact)].append(cid)
        wanted = {*self.by_message.values(), *self.by_child.values(), *self.by_thread.values()}
        wanted.update(cid for cids in self.by_contact.values() for cid in cids)
        for chunk in _chunks(sorted(wanted)):
            self.loaded.update(
                (c.id, c) for c in ctx.session.scalars(sa.select(conv).where(conv.id.in_(chunk)))
            )
        return self

    def _get(self, cid: int | None) -> m.Conversation | None:
        if cid is None:
            return None
        # A merge in this batch may have deleted a loaded conversation: fall back to the session.
        return self.loaded.get(cid) or self.ctx.session.get(m.Conversation, cid)

    def message(self, channel_id: int, external_id: str) -> m.Conversation | None:
        return self._get(self.by_message.get((channel_id, external_id)))

    def child(self, channel_id: int, external_id: str) -> m.Conversation | None:
        return self._get(self.by_child.get((channel_id, external_id)))

    def thread(self, channel_id: int, thread: str) -> m.Conversation | None:
        return self._get(self.by_thread.get((channel_id, thread)))

    def contact(self, channel_id: int, contact_id: int) -> list[m.Conversation]:
        convs = (self._get(cid) for cid in self.by_contact.get((channel_id, contact_id), []))
        return [c for c in convs if c is not None]


def _most_recent(convs: list[m.Conversation], created: dict[int, int]) -> m.Conversation | None:
    """The contact's active conversation with the newest message; ties go to the one created last."""
    active = [c for c in convs if c.status in _ACTIVE]
    if not active:
        return None
    return max(
        active,
        key=lambda c: (
            (c.last_message_at, 1, created[id(c)]) if id(c) in created else (c.last_message_at, 0, c.id)
        ),
    )


def _chunks(values: list[Any], size: int = 500) -> list[list[Any]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def _merge(
    ctx: StageContext, *, keep: m.Conversation, drop: m.Conversation, redirect: dict[int, m.Conversation]
) -> None:
    """Fold `drop` into `keep` (a message arrived that links two conversations)."""
    session = ctx.session
    redirect[id(drop)] = keep
    session.flush()
    if drop.id is None or keep.id is None:
        return
    for model in (m.Message, m.Note, m.Outbox):
        session.execute(
            sa.update(model).where(model.conversation_id == drop.id).values(conversation_id=keep.id)
        )
    facts.touch(session, [keep.id, drop.id])
    kept_tags = set(
        session.scalars(
            sa.select(m.ConversationTag.tag_id).where(m.ConversationTag.conversation_id == keep.id)
        )
    )
    for tag_id in session.scalars(
        sa.select(m.ConversationTag.tag_id).where(m.ConversationTag.conversation_id == drop.id)
    ):
        if tag_id not in kept_tags:
            session.add(m.ConversationTag(conversation_id=keep.id, tag_id=tag_id))
    session.execute(sa.delete(m.ConversationTag).where(m.ConversationTag.conversation_id == drop.id))
    keep.assignee_id = keep.assignee_id or drop.assignee_id
    ctx.touched.discard(drop.id)
    ctx.touched.add(keep.id)
    ctx.notifications.append(("conversation.merged", {"id": keep.id, "merged": drop.id}))
    session.add(
        m.Event(
            workspace_id=keep.workspace_id,
            at=ctx.now,
            kind="conversation.merged",
            actor_type="system",
            conversation_id=keep.id,
            data={"merged_conversation_id": drop.id},
        )
    )
    session.flush()
    session.delete(drop)


class Prioritize:
    name = "prioritize"

    def process(self, ctx: StageContext, items: list[Item]) -> None:
        latest: dict[int, Item] = {}
        for item in items:
            if item.live and item.event.direction == Direction.IN and item.conversation is not None:
                latest[item.conversation.id] = item
        weights: dict[int, dict[str, int]] = {}
        for item in latest.values():
            conv = item.conversation
            assert conv is not None
            if conv.workspace_id not in weights:
                ws = ctx.session.get(m.Workspace, conv.workspace_id)
                weights[conv.workspace_id] = dict((ws.settings if ws else {}).get("priority_weights") or {})
            t = item.triage
            # how long the customer had been waiting when they wrote this (replays score as live traffic did)
            since = conv.waiting_since
            waited = (item.event.created_at - since).total_seconds() / 3600 if since else 0.0
            conv.priority, conv.priority_reasons = prio.score(
                prio.PriorityInput(
                    is_public=item.event.public,
                    is_direct=conv.is_direct,
                    sentiment=t.get("sentiment"),
                    waiting_count=conv.waiting_count,
                    anger=float(t.get("anger") or 0.0),
                    complaint=t.get("complaint"),
                    needs_reply=t.get("needs_reply"),
                    urgency=tuple(u["type"] for u in t.get("urgency") or ()),
                    waited_hours=max(0.0, waited),
                    followers=item.event.author.followers,
                ),
                weights[conv.workspace_id],
            )


class Route:
    """Hands waiting conversations to online agents with room, highest priority first (routing/dispatch)."""

    name = "route"

    def process(self, ctx: StageContext, items: list[Item]) -> None:
        workspaces = sorted(
            {
                i.conversation.workspace_id
                for i in items
                if i.live and i.conversation is not None and i.event.direction == Direction.IN
            }
        )
        if workspaces:
            ctx.session.flush()
        for workspace_id in workspaces:
            dispatch(ctx.session, workspace_id, ctx.now)


class StartSla:
    name = "sla"

    def process(self, ctx: StageContext, items: list[Item]) -> None:
        contexts: dict[int, sla_rules.SlaContext] = {}
        for cid in sorted(ctx.touched):
            conv = ctx.session.get(m.Conversation, cid)
            if conv is None:
                continue
            if conv.workspace_id not in contexts:
                contexts[conv.workspace_id] = sla_rules.context_for(ctx.session, conv.workspace_id)
            sla_rules.apply(conv, contexts[conv.workspace_id])


class Record:
    """Writes what happened to the event log and queues live notifications."""

    name = "record"

    def process(self, ctx: StageContext, items: list[Item]) -> None:
        rows: list[dict[str, Any]] = []
        links: list[dict[str, Any]] = []
        for item in items:
            if not item.live or item.message is None or item.conversation is None:
                continue
            conv, ev = item.conversation, item.event
            if ev.direction == Direction.IN:
                links.extend(cases.refs_from_message(item.message, ctx.now))
            if item.new_conversation:
                rows.append(_event(ctx, conv, "conversation.created", None, channel_id=conv.channel_id))
            if item.reopened:
                rows.append(_event(ctx, conv, "conversation.reopened", None))
            rows.append(
                _event(
                    ctx,
                    conv,
                    "message.received" if ev.direction == Direction.IN else "message.outbound_seen",
                    item.message.id,
                    direction=ev.direction.value,
                )
            )
        if rows:
            insert_rows(ctx.session, m.Event, rows)
        if links:
            cases.link_refs(ctx.session, links)
        if ctx.touched:
            ctx.notifications.append(("conversations.changed", {"ids": sorted(ctx.touched)}))


def _event(
    ctx: StageContext, conv: m.Conversation, kind: str, message_id: int | None, **data: Any
) -> dict[str, Any]:
    return {
        "workspace_id": conv.workspace_id,
        "at": ctx.now,
        "kind": kind,
        "actor_type": "system",
        "actor_id": None,
        "conversation_id": conv.id,
        "message_id": message_id,
        "data": data,
    }


def default_stages(triager: Triager | None = None) -> tuple[Any, ...]:
    return (
        Normalize(),
        Dedupe(),
        Triage(triager),
        ListenFilter(),
        ChannelLock(),
        Identify(),
        Thread(),
        Prioritize(),
        Route(),
        StartSla(),
        Acknowledge(),
        Record(),
    )
