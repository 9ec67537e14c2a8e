"""Tables. One code path for SQLite and PostgreSQL; Alembic migrations are generated from these.

Naming: every table has an integer `id`; times are timezone-aware UTC (`UTCDateTime`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from caredesk.domain.watch import WatchSpec


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, always returns timezone-aware UTC (SQLite keeps no zone of its own)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to storage; use timezone-aware UTC")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType, list[Any]: JSONType}


def _fk(target: str, *, nullable: bool = False, ondelete: str | None = None) -> Mapped[Any]:
    return mapped_column(sa.ForeignKey(target, ondelete=ondelete), nullable=nullable, index=True)


# --- tenancy and people -------------------------------------------------------------------------


class Workspace(Base):
    """A brand. One deployment serves many; every other row belongs to exactly one."""

    __tablename__ = "workspaces"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class Agent(Base):
    """A person who logs in. Their role is per workspace (Membership)."""

    __tablename__ = "agents"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(320), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    signature: Mapped[str] = mapped_column(sa.String(32), default="")  # e.g. "CK", appended as ^CK on X
    password_hash: Mapped[str | None] = mapped_column(sa.String(200))
    is_superadmin: Mapped[bool] = mapped_column(default=False)  # may create workspaces
    languages: Mapped[list[Any]] = mapped_column(default=list)
    skills: Mapped[list[Any]] = mapped_column(default=list)
    max_concurrent: Mapped[int] = mapped_column(default=12)
    presence: Mapped[str] = mapped_column(sa.String(16), default="offline")
    presence_changed_at: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "agent_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = _fk("workspaces.id")
    agent_id: Mapped[int] = _fk("agents.id")
    role: Mapped[str] = mapped_column(sa.String(16))


class Team(Base):
    __tablename__ = "teams"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = _fk("workspaces.id")
    name: Mapped[str] = mapped_column(sa.String(200))
    calendar_id: Mapped[int | None] = _fk("business_calendars.id", nullable=True)  # the team's hours
    created_at: Mapped[datetime]


class TeamMember(Base):
    __tablename__ = "team_members"
    __table_args__ = (sa.UniqueConstraint("team_id", "agent_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = _fk("teams.id")
    agent_id: Mapped[int] = _fk("agents.id")


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = _fk("agents.id")
    name: Mapped[str] = mapped_column(sa.String(200))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)  # sha256 hex; the token is shown once
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    revoked: Mapped[bool] = mapped_column(default=False)


class WebSession(Base):
    __tablename__ = "web_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = _fk("agents.id")
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(sa.String(64))
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime]


class LoginThrottle(Base):
    """Failed logins counted per account and per client address (actions/logins.py). The key is a digest
    ("account:<email>" or "client:<address>"), so what someone typed as an email is never stored."""

    __tablename__ = "login_throttles"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_start: Mapped[datetime]
    locked_until: Mapped[datetime | None]


# --- channels and intake ------------------------------------------------------------------------


class Channel(Base):
    """A network account a workspace answers from (an X handle, a page, a mailbox, a webhook source)."""

    __tablename__ = "channels"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = _fk("workspaces.id")
    connector: Mapped[str] = mapped_column(sa.String(32))  # registry key of the connector
    network: Mapped[str] = mapped_column(sa.String(32))  # "x", "mastodon", "email", "webhook"...
    name: Mapped[str] = mapped_column(sa.String(200))
    own_account_id: Mapped[str | None] = mapped_column(sa.String(200))  # the brand's id on the network
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)  # non-secret settings
    credentials_encrypted: Mapped[str | None] = mapped_column(sa.Text)  # see security/vault.py
    capabilities: Mapped[list[Any]] = mapped_column(default=list)
    cursor: Mapped[dict[str, Any]] = mapped_column(default=dict)  # where polling resumes
    lease_owner: Mapped[str | None] = mapped_column(sa.String(64))  # the one poller of this channel
    lease_until: Mapped[datetime | None]
    next_poll_at: Mapped[datetime | None]  # when the poller fetches again (later after errors, 429)
    poll_failures: Mapped[int] = mapped_column(default=0)  # in a row; reset by a successful fetch
    team_id: Mapped[int | None] = _fk("teams.id", nullable=True)  # default team for new conversations
    calendar_id: Mapped[int | None] = _fk("business_calendars.id", nullable=True)  # the channel's hours
    enabled: Mapped[bool] = mapped_column(default=True)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime]


class SpoolEvent(Base):
    """Each accepted inbound event, written before it is acknowledged; unique on (channel, external id)."""

    __tablename__ = "spool"
    __table_args__ = (
        sa.UniqueConstraint("channel_id", "external_id"),
        sa.Index("ix_spool_pending", "status", "id"),
    )
    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    channel_id: Mapped[int] = mapped_column(sa.ForeignKey("channels.id"))
    external_id: Mapped[str] = mapped_column(sa.String(255))
    payload: Mapped[dict[str, Any]]  # the normalized event (connectors' InboundEvent as JSON)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]


class WebhookDelivery(Base):
    """Digest of each accepted webhook body: the same body again is a replay, refused with 409."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (sa.UniqueConstraint("channel_id", "digest"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(sa.ForeignKey("channels.id"))
    digest: Mapped[str] = mapped_column(sa.String(64))
    received_at: Mapped[datetime] = mapped_column(index=True)


class DeadLetter(Base):
    __tablename__ = "dead_letters"
    id: Mapped[int] = mapped_column(primary_key=True)
    spool_id: Mapped[int] = mapped_column(sa.ForeignKey("spool.id"), index=True)
    stage: Mapped[str] = mapped_column(sa.String(64))
    error: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime]
    retried_at: Mapped[datetime | None]


# --- contacts, conversations, messages ----------------------------------------------------------


class Contact(Base):
    __tablename__ = "contacts"
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = _fk("workspaces.id")
    name: Mapped[str | None] = mapped_column(sa.String(200))
    merged_into_id: Mapped[int | None] = _fk("contacts.id", nullable=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    erased_at: Mapped[datetime | None]  # personal data erased (actions/erasure.py); the row stays for counts
    identities: Mapped[list[ContactIdentity]] = relationship(back_populates="contact", lazy="raise")


class ContactIdentity(Base):
    """One handle of a contact: an X user id, an email address, a phone number... unique per workspace."""

    __tablename__ = "contact_identities"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "kind", "value"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"))
    contact_id: Mapped[int] = _fk("contacts.id")
    kind: Mapped[str] = mapped_column(sa.String(32))  # a network key, or "email" / "phone"
    value: Mapped[str] = mapped_column(sa.String(320))  # the network's stable id, normalized
    handle: Mapped[str | None] = mapped_column(sa.String(320))  # the visible @name or address
    created_at: Mapped[datetime]
    contact: Mapped[Contact] = relationship(back_populates="identities", lazy="raise")


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        sa.Index("ix_conversations_queue", "workspace_id", "status", "priority", "id"),
        sa.Index("ix_conversations_recent", "workspace_id", "last_message_at", "id"),
        sa.Index("ix_conversations_contact_channel", "contact_id", "channel_id", "status"),
        # the inbox's queues (web/pages.py): mine, unassigned, my teams, mentions without @
        sa.Index("ix_conversations_assignee", "assignee_id", "status", "priority"),
        sa.Index("ix_conversations_unassigned", "workspace_id", "status", "assignee_id"),
        sa.Index("ix_conversations_team", "team_id", "status", "priority"),
        sa.Index("ix_conversations_direct", "workspace_id", "is_direct", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"))
    channel_id: Mapped[int] = _fk("channels.id")
    # NULL only while a thread started by the brand's own post has no customer message yet.
    contact_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contacts.id"))
    status: Mapped[str] = mapped_column(sa.String(16), default="open")
    priority: Mapped[int] = mapped_column(default=0)  # 0..100, higher first
    priority_reasons: Mapped[list[Any]] = mapped_column(default=list)
    assignee_id: Mapped[int | None] = _fk("agents.id", nullable=True)
    team_id: Mapped[int | None] = _fk("teams.id", nullable=True)
    is_public: Mapped[bool] = mapped_column(
        default=True
    )  # where it started: a public post or a private thread
    is_direct: Mapped[bool] = mapped_column(
        default=True
    )  # addressed to the brand (False: found by listening)
    subject: Mapped[str | None] = mapped_column(sa.String(500))
    language: Mapped[str | None] = mapped_column(sa.String(8))
    topic: Mapped[str | None] = mapped_column(sa.String(64))  # triage's, of the newest customer message
    first_inbound_at: Mapped[datetime | None]
    first_reply_at: Mapped[datetime | None]  # first agent reply published after first_inbound_at
    last_inbound_at: Mapped[datetime | None]
    last_outbound_at: Mapped[datetime | None]
    last_message_at: Mapped[datetime]
    waiting_since: Mapped[datetime | None]  # oldest customer message not yet answered
    waiting_count: Mapped[int] = mapped_column(default=0)  # customer messages since the last reply
    snoozed_until: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    sla_policy_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sla_policies.id"))
    first_reply_due_at: Mapped[datetime | None]
    next_reply_due_at: Mapped[datetime | None]
    resolution_due_at: Mapped[datetime | None]
    # Periods waiting on the customer (status pending): [[start, end or null], ...] as ISO UTC. The
    # resolution clock stops during them.
    sla_pauses: Mapped[list[Any]] = mapped_column(default=list)
    # The closed period ("closed:<next opening>" or "offline:<last presence change>") last acknowledged
    # automatically: one acknowledgement per conversation per closed period.
    ack_period: Mapped[str | None] = mapped_column(sa.String(80))
    # Warnings and breaches already raised, per clock: {"first_reply": {"due": iso, "warned": true, ...}}
    sla_alerts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The external ticket an escalation opened: {"id", "status", "url", "webhook_id", "updated_at"}
    external_ticket: Mapped[dict[str, Any]] = mapped_column(default=dict)
    message_count: Mapped[int] = mapped_column(default=0)
    version: Mapped[int] = mapped_column(default=1)  # bumped on every change (collision guard, caches)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Its personal data erased (a contact's erasure or the workspace's retention rule): texts, names and
    # handles are gone; times, counts, language, sentiment and topic stay for the reports.
    erased_at: Mapped[datetime | None]


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        sa.UniqueConstraint("channel_id", "external_id"),
        sa.Index("ix_messages_conversation", "conversation_id", "created_at"),
        sa.Index("ix_messages_channel_reply", "channel_id", "in_reply_to"),
        sa.Index("ix_messages_channel_thread", "channel_id", "thread"),
    )
    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"))
    conversation_id: Mapped[int] = mapped_column(sa.ForeignKey("conversations.id"))
    channel_id: Mapped[int] = mapped_column(sa.ForeignKey("channels.id"))
    direction: Mapped[str] = mapped_column(sa.String(4))
    is_public: Mapped[bool] = mapped_column(default=True)
    is_automatic: Mapped[bool] = mapped_column(default=False)  # auto-acknowledgements: not a reply in KPIs
    contact_id: Mapped[int | None] = _fk("contacts.id", nullable=True)  # author, inbound
    agent_id: Mapped[int | None] = _fk("agents.id", nullable=True)  # author, outbound from caredesk
    author_handle: Mapped[str | None] = mapped_column(sa.String(320))
    author_name: Mapped[str | None] = mapped_column(sa.String(200))
    external_id: Mapped[str | None] = mapped_column(sa.String(255))  # NULL until a reply is published
    in_reply_to: Mapped[str | None] = mapped_column(sa.String(255))
    thread: Mapped[str | None] = mapped_column(sa.String(255))
    references: Mapped[list[Any]] = mapped_column(default=list)
    client_ref: Mapped[str | None] = mapped_column(sa.String(64), unique=True)  # idempotency key of a reply
    text: Mapped[str] = mapped_column(sa.Text)
    language: Mapped[str | None] = mapped_column(sa.String(8))
    sentiment: Mapped[str | None] = mapped_column(sa.String(8))
    triage: Mapped[dict[str, Any]] = mapped_column(default=dict)
    listening: Mapped[bool] = mapped_column(default=False)
    delivery: Mapped[str | None] = mapped_column(sa.String(16))  # outbound: queued / sending / sent / failed
    delivery_error: Mapped[str | None] = mapped_column(sa.Text)
    raw: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]  # the network's time for inbound; when the agent sent, for replies
    sent_at: Mapped[datetime | None]  # outbound: when the network accepted it
    received_at: Mapped[datetime]


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = _fk("conversations.id")
    agent_id: Mapped[int] = mapped_column(sa.ForeignKey("agents.id"))
    text: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime]


class Tag(Base):
    __tablename__ = "tags"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"))
    name: Mapped[str] = mapped_column(sa.String(64))


class ConversationTag(Base):
    __tablename__ = "conversation_tags"
    conversation_id: Mapped[int] = mapped_column(sa.ForeignKey("conversations.id"), primary_key=True)
    tag_id: Mapped[int] = mapped_column(sa.ForeignKey("tags.id"), primary_key=True, index=True)


class WatchRule(Base):
    """Listening: keywords, phrases, exclusions and languages a workspace watches for (domain/watch.py)."""

    __tablename__ = "watch_rules"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = _fk("workspaces.id")
    name: Mapped[str] = mapped_column(sa.String(200))
    keywords: Mapped[list[Any]] = mapped_column(default=list)
    phrases: Mapped[list[Any]] = mapped_column(default=list)
    exclusions: Mapped[list[Any]] = mapped_column(default=list)
    languages: Mapped[list[Any]] = mapped_column(default=list)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]

    def spec(self) -> WatchSpec:
        return WatchSpec(
            tuple(self.keywords), tuple(self.phrases), tuple(self.exclusions), tuple(self.languages)
        )


class SlaPolicy(Base):
    """Targets in minutes. `match` narrows where it applies; the lowest `position` that matches wins."""

    __tablename__ = "sla_policies"
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = _fk("workspaces.id")
    name: Mapped[str] = mapped_column(sa.String(200))
    position: Mapped[int] = mapped_column(default=0)
    match: Mapped[dict[str, Any]] = mapped_column(default=dict)
    first_reply_minutes: Mapped[int | None]
    next_reply_minutes: Mapped[int | None]
    resolution_minutes: Mapped[int | None]
    # Business time: the policy's calendar, else the channel's, else the team's; calendar time otherwise.
    business_hours: Mapped[bool] = mapped_column(default=False)
    calendar_id: Mapped[int | None] = _fk("business_calendars.id", nullable=True)
    warn_before_minutes: Mapped[int] = mapped_column(default=10)  # minutes before a due time
    # What a breach does: {"raise_priority": points, "reassign": bool, "notify_supervisors": bool}
    escalation: Mapped[dict[str, Any]] = mapped_column(default=dict)


class BusinessCalendarRow(Base):
    """Working hours: see domain/calendar.py for the rules. `week`: {"mon": [["09:00", "17:00"]], ...}."""

    __tablename__ = "business_calendars"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = _fk("workspaces.id")
    name: Mapped[str] = mapped_column(sa.String(200))
    time_zone: Mapped[str] = mapped_column(sa.String(64))
    week: Mapped[dict[str, Any]] = mapped_column(default=dict)
    holiday_country: Mapped[str | None] = mapped_column(sa.String(8))
    holiday_subdivision: Mapped[str | None] = mapped_column(sa.String(16))
    closed_dates: Mapped[list[Any]] = mapped_column(default=list)  # ISO dates
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    def settings(self) -> dict[str, Any]:
        return {
            "time_zone": self.time_zone,
            "week": self.week,
            "holiday_country": self.holiday_country,
            "holiday_subdivision": self.holiday_subdivision,
            "closed_dates": self.closed_dates,
        }


class Outbox(Base):
    """A reply waiting to be published. The sender claims it, publishes once, writes the network's id back."""

    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_due", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"))
    channel_id: Mapped[int] = mapped_column(sa.ForeignKey("channels.id"))
    conversation_id: Mapped[int] = mapped_column(sa.ForeignKey("conversations.id"))
    message_id: Mapped[int] = mapped_column(sa.ForeignKey("messages.id"), unique=True)
    idempotency_key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    request: Mapped[dict[str, Any]]  # the OutboundReply, as JSON
    status: Mapped[str] = mapped_column(sa.String(16), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class Event(Base):
    """Append-only log of what happened, who did it and when: the audit trail and the reporting source.

    Rows are never updated or deleted by the product (triggers in the migration refuse it).
    """

    __tablename__ = "events"
    __table_args__ = (sa.Index("ix_events_ws_at", "workspace_id", "at"),)
    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    workspace_id: Mapped[int | None] = mapped_column(sa.ForeignKey("workspaces.id"))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(sa.String(64))
    actor_type: Mapped[str] = mapped_column(sa.String(16))  # agent / system / customer / token
    actor_id: Mapped[int | None]
    conversation_id: Mapped[int | None] = mapped_column(index=True)
    message_id: Mapped[int | None]
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class OutgoingWebhook(Base):
    """An address the workspace's events are posted to, signed with its secret (hooks.py, workers/hooks.py).
    A ticketing webhook also receives escalations and its answer names the external ticket."""

    __tablename__ = "outgoing_webhooks"
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = _fk("workspaces.id")
    name: Mapped[str] = mapped_column(sa.String(200))
    url: Mapped[str] = mapped_column(sa.String(2000))
    events: Mapped[list[Any]] = mapped_column(default=list)  # public event types (hooks.EVENT_TYPES)
    secret_encrypted: Mapped[str] = mapped_column(sa.Text)  # see security/vault.py
    ticketing: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class OutgoingDelivery(Base):
    """One event for one webhook, written in the transaction that recorded the event; posted at least once
    (receivers deduplicate on `uid`). States: queued -> sending -> delivered | failed. `log` keeps the
    attempts, newest last."""

    __tablename__ = "outgoing_deliveries"
    __table_args__ = (
        sa.Index("ix_outgoing_deliveries_due", "status", "next_attempt_at"),
        sa.Index("ix_outgoing_deliveries_webhook", "webhook_id", "id"),
    )
    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    uid: Mapped[str] = mapped_column(sa.String(32), unique=True)
    webhook_id: Mapped[int] = mapped_column(sa.ForeignKey("outgoing_webhooks.id"))
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"))
    event_uid: Mapped[str] = mapped_column(sa.String(32))  # the same for every webhook given the event
    event_type: Mapped[str] = mapped_column(sa.String(64))
    conversation_id: Mapped[int | None]
    message_id: Mapped[int | None]
    actor_id: Mapped[int | None]
    occurred_at: Mapped[datetime]
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(sa.String(16), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    last_status: Mapped[int | None]  # the receiver's HTTP status, NULL when none came back
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    log: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]


class Approval(Base):
    """A reply held for review (actions/approvals.py): its message waits with delivery "approval" and no
    outbox item until a reviewer approves (queued then) or rejects it."""

    __tablename__ = "approvals"
    __table_args__ = (sa.Index("ix_approvals_pending", "workspace_id", "status", "requested_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"))
    conversation_id: Mapped[int] = _fk("conversations.id")
    message_id: Mapped[int] = mapped_column(sa.ForeignKey("messages.id"), unique=True)
    requester_id: Mapped[int] = mapped_column(sa.ForeignKey("agents.id"))
    request: Mapped[dict[str, Any]]  # the OutboundReply, as JSON
    resolve: Mapped[bool] = mapped_column(default=False)  # resolve the conversation once published
    checks: Mapped[list[Any]] = mapped_column(default=list)  # the reply checks' findings when requested
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")  # pending/approved/rejected
    reviewer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("agents.id"))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    requested_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]


class CaseLink(Base):
    """A conversation's link to a case, order, ticket or email reference (from triage, an escalation's
    ticket, or an agent). Conversations sharing a reference are linked to each other through it."""

    __tablename__ = "case_links"
    __table_args__ = (
        sa.UniqueConstraint("conversation_id", "kind", "value"),
        sa.Index("ix_case_links_ref", "workspace_id", "kind", "value"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"))
    conversation_id: Mapped[int] = mapped_column(sa.ForeignKey("conversations.id"))
    kind: Mapped[str] = mapped_column(sa.String(32))  # order / case / ticket / email / a workspace pattern
    value: Mapped[str] = mapped_column(sa.String(320))
    source: Mapped[str] = mapped_column(sa.String(16))  # triage / ticket / agent
    message_id: Mapped[int | None]
    created_at: Mapped[datetime]


class CannedResponse(Base):
    """A saved reply (actions/canned.py): a text per language with variables and fill-in fields."""

    __tablename__ = "canned_responses"
    __table_args__ = (sa.Index("ix_canned_responses_ws", "workspace_id", "active", "folder"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"))
    name: Mapped[str] = mapped_column(sa.String(200))
    shortcut: Mapped[str | None] = mapped_column(sa.String(40))  # typed after "/" in the composer
    folder: Mapped[str] = mapped_column(sa.String(120), default="")
    texts: Mapped[dict[str, Any]] = mapped_column(default=dict)  # language (ISO 639-1) -> text
    topics: Mapped[list[Any]] = mapped_column(default=list)  # triage topics it answers, for suggestions
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ConversationPresence(Base):
    """Who is viewing or typing in a conversation (the collision guard); rows older than a short time
    (actions/presence.py) no longer count."""

    __tablename__ = "conversation_presence"
    __table_args__ = (sa.UniqueConstraint("conversation_id", "agent_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(sa.ForeignKey("conversations.id"))
    agent_id: Mapped[int] = mapped_column(sa.ForeignKey("agents.id"))
    state: Mapped[str] = mapped_column(sa.String(16))  # viewing / typing
    seen_at: Mapped[datetime]


class TriageAdjustment(Base):
    """A workspace's adjustment of one triage head, fitted from the team's decisions (triage/adapt.py).
    `weights` holds an `.npz` of plain float32 arrays (read with allow_pickle=False)."""

    __tablename__ = "triage_adjustments"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "head"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = _fk("workspaces.id")
    head: Mapped[str] = mapped_column(sa.String(40))
    decisions: Mapped[int]
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    weights: Mapped[bytes] = mapped_column(sa.LargeBinary)
    fitted_at: Mapped[datetime]


# --- analytics facts (analytics/facts.py): derived, rebuilt from their sources in the same transaction --


class ConversationFact(Base):
    """One conversation's figures and the dimensions reports slice by (definitions: docs/metrics.md)."""

    __tablename__ = "conversation_facts"
    __table_args__ = (sa.Index("ix_conversation_facts_ws_started", "workspace_id", "started_at"),)
    conversation_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    workspace_id: Mapped[int]
    channel_id: Mapped[int]
    network: Mapped[str] = mapped_column(sa.String(32))
    is_public: Mapped[bool]
    is_direct: Mapped[bool]
    team_id: Mapped[int | None]
    assignee_id: Mapped[int | None]
    language: Mapped[str | None] = mapped_column(sa.String(8))
    topic: Mapped[str | None] = mapped_column(sa.String(64))
    priority: Mapped[int]
    status: Mapped[str] = mapped_column(sa.String(16))
    started_at: Mapped[datetime | None]  # the first customer message
    first_reply_at: Mapped[datetime | None]
    first_response_s: Mapped[float | None]
    first_response_bh_s: Mapped[float | None]  # in the business hours of the conversation's calendar
    resolved_at: Mapped[datetime | None]
    resolution_s: Mapped[float | None]
    resolution_bh_s: Mapped[float | None]
    inbound_count: Mapped[int]
    reply_count: Mapped[int]  # agent replies published (automatic ones are not replies)
    automatic_count: Mapped[int]
    reopen_count: Mapped[int]
    first_reply_due_at: Mapped[datetime | None]  # under its SLA policy, kept after the reply (attainment)
    moved_private: Mapped[bool] = mapped_column(default=False)  # began in public, answered in private
    approval_s: Mapped[list[Any]] = mapped_column(default=list)  # each decided approval: request to decision


class MessageFact(Base):
    """One customer message: the reply to it and, when it started a wait, the response that ended it."""

    __tablename__ = "message_facts"
    __table_args__ = (
        sa.Index("ix_message_facts_ws_created", "workspace_id", "created_at"),
        sa.Index("ix_message_facts_conversation", "conversation_id"),
    )
    message_id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    workspace_id: Mapped[int]
    conversation_id: Mapped[int]
    channel_id: Mapped[int]
    created_at: Mapped[datetime]
    is_public: Mapped[bool]
    is_direct: Mapped[bool]
    language: Mapped[str | None] = mapped_column(sa.String(8))
    sentiment: Mapped[str | None] = mapped_column(sa.String(8))
    reply_message_id: Mapped[int | None] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"))
    replied_at: Mapped[datetime | None]
    reply_s: Mapped[float | None]  # to the first agent reply to this message
    reply_bh_s: Mapped[float | None]
    wait: Mapped[int | None]  # 1, 2, ...: this message started the conversation's n-th wait for an agent
    response_s: Mapped[float | None]  # that wait's length: to the next agent reply (first / next response)
    response_bh_s: Mapped[float | None]


class SpikeAlert(Base):
    """A surge of inbound or negative messages in a workspace (analytics/spikes.py)."""

    __tablename__ = "spike_alerts"
    __table_args__ = (sa.Index("ix_spike_alerts_ws_raised", "workspace_id", "raised_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"))
    metric: Mapped[str] = mapped_column(sa.String(16))  # negative / volume
    interval_start: Mapped[datetime]  # the first surging interval
    raised_at: Mapped[datetime]  # the end of that interval: when it was seen
    ended_at: Mapped[datetime | None]  # the end of the last surging interval's calm after it
    observed: Mapped[int]
    expected: Mapped[float]
    peak: Mapped[int]
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)  # top terms, example messages


class SpikeWatch(Base):
    """Where a workspace's spike evaluation stands: the last interval evaluated and the open alert."""

    __tablename__ = "spike_watch"
    workspace_id: Mapped[int] = mapped_column(sa.ForeignKey("workspaces.id"), primary_key=True)
    evaluated_until: Mapped[datetime | None]
    calm: Mapped[int] = mapped_column(default=0)  # normal intervals since the open alert's last surge
    open_alert_id: Mapped[int | None] = mapped_column(sa.ForeignKey("spike_alerts.id"))


class ReportState(Base):
    """Which version of the report facts and roll-ups the stored rows were computed by (analytics/upkeep.py
    recomputes them after an upgrade that changes their definition)."""

    __tablename__ = "report_state"
    name: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    version: Mapped[int]


# Roll-ups (analytics/rollups.py): per workspace, local day and slice, the sums reports add up, kept
# current by the facts' own transactions. Core tables: their columns come from the lists below.
ROLLUP_COUNTS = (
    "conversations", "customer_messages", "replies", "automatic", "responded", "resolved",
    "resolved_replies", "reopened", "sla_with_target", "sla_met", "messages_in", "negative_in",
    "moved_private",
)  # fmt: skip
ROLLUP_TIMES = (
    "first_response", "first_response_bh", "next_response", "next_response_bh",
    "resolution", "resolution_bh", "reply", "reply_bh", "response", "response_bh", "approval",
)  # fmt: skip
ROLLUP_TIME_PARTS = ("n", "sum", "60", "1440")  # how many, their seconds, how many within 60 min / 24 h

daily_rollups = sa.Table(
    "daily_rollups",
    Base.metadata,
    sa.Column("workspace_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("dimension", sa.String(16), primary_key=True),  # all, channel, team, ... , hour (of week)
    sa.Column("day", sa.Date, primary_key=True),  # in the workspace's time zone
    sa.Column("value", sa.String(72), primary_key=True),
    *(sa.Column(name, sa.BigInteger, nullable=False, default=0) for name in ROLLUP_COUNTS),
    *(
        sa.Column(f"{t}_{part}", sa.Float if part == "sum" else sa.BigInteger, nullable=False, default=0)
        for t in ROLLUP_TIMES
        for part in ROLLUP_TIME_PARTS
    ),
)

rollup_histograms = sa.Table(
    "rollup_histograms",
    Base.metadata,
    sa.Column("workspace_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("dimension", sa.String(16), primary_key=True),
    sa.Column("measure", sa.String(24), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("value", sa.String(72), primary_key=True),
    # how many times fell in each log-spaced bucket (rollups.slot_of): int32s, zlib-compressed
    sa.Column("counts", sa.LargeBinary, nullable=False),
)
