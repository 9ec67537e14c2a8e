"""Pure domain types: the vocabulary every other layer speaks.

Nothing here touches the database, the network or the web framework.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class Direction(enum.StrEnum):
    IN = "in"  # written by a customer (or anyone who is not the brand)
    OUT = "out"  # written by the brand: an agent, an automation, or the brand account outside caredesk


class Status(enum.StrEnum):
    OPEN = "open"
    PENDING = "pending"  # waiting on the customer
    SNOOZED = "snoozed"  # hidden until snoozed_until, then open again
    RESOLVED = "resolved"


ACTIVE_STATUSES: frozenset[Status] = frozenset({Status.OPEN, Status.PENDING, Status.SNOOZED})


class Role(enum.StrEnum):
    """A member's role in one workspace. Order matters: each role may do what the ones before it may."""

    ANALYST = "analyst"  # read-only: conversations and reports
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _ROLE_RANK[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_ROLE_RANK = {Role.ANALYST: 0, Role.AGENT: 1, Role.SUPERVISOR: 2, Role.ADMIN: 3}


class Presence(enum.StrEnum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


class Capability(enum.StrEnum):
    """What a connector can do. Core code asks capabilities, never the network's name."""

    POLL = "poll"  # fetch(cursor) brings new activity
    WEBHOOK = "webhook"  # parse_webhook(headers, body) turns a pushed request into events
    STREAM = "stream"
    PUBLIC_REPLY = "public_reply"
    PRIVATE_REPLY = "private_reply"
    LISTEN = "listen"  # keyword listening (indirect mentions)
    IMPORT = "import"  # history replay only; cannot publish


class OutboxStatus(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"  # handed to the connector; outcome unknown until written back
    SENT = "sent"
    FAILED = "failed"  # parked after the last retry, or refused by the network; visible with its error


class SpoolStatus(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    DEAD = "dead"  # parked in dead_letters with the error
    ERASED = "erased"  # processed, then its payload erased (actions/erasure.py); kept to refuse redelivery


@dataclass(slots=True)
class Author:
    """Who wrote an inbound message, as the network names them."""

    id: str  # the network's stable id for the author (user id, email address, DID...)
    handle: str | None = None  # @name, address
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    followers: int | None = None


@dataclass(slots=True)
class InboundEvent:
    """One message as a connector hands it to the intake: network-neutral, validated."""

    external_id: str
    created_at: datetime  # timezone-aware UTC
    text: str
    author: Author
    direction: Direction = Direction.IN
    public: bool = True
    in_reply_to: str | None = None  # external id of the message this one answers
    references: list[str] = field(default_factory=list)  # further ancestors (email References)
    thread: str | None = None  # the network's thread key for private threads (DM conversation id)
    subject: str | None = None
    language: str | None = None  # a hint from the network, if it gives one
    listening: bool = False  # brought in by a watch rule, not addressed to the brand
    client_ref: str | None = None  # our own idempotency key, when the network echoes a reply we sent
    recipient: Author | None = None  # outbound messages: the customer they were addressed to
    raw: dict[str, Any] = field(default_factory=dict)  # the network's payload, kept as received


@dataclass(slots=True, frozen=True)
class OutboundReply:
    """What the sender hands a connector to publish."""

    idempotency_key: str  # the same key on every retry of the same reply
    text: str
    public: bool
    # External id of the customer's message answered: the post a public reply goes under, or the public
    # comment a private reply is sent about (networks that allow "private replies" to comments).
    in_reply_to: str | None
    thread: str | None  # private thread key, if the network has one
    recipient: str | None  # network id / handle / address of the customer (private replies)
    subject: str | None = None
    automatic: bool = False
    # Network-specific choices made when the reply was queued (e.g. {"tag": "HUMAN_AGENT"}).
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class ReplyContext:
    """What a connector may need to accept or refuse a reply before it is queued."""

    now: datetime
    target_public: bool | None  # visibility of the customer message answered (None: no such message)
    target_created_at: datetime | None
    last_inbound_at: datetime | None  # the customer's newest message in this conversation's channel
    private_replies_to_target: int  # private replies already sent or queued about the target message
    human_agent: bool  # the agent asked for the network's human-agent tag, where it has one


@dataclass(slots=True, frozen=True)
class SendResult:
    external_id: str
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class LengthRule:
    """Which counting rule of connectors/length.py applies to public posts and to private messages."""

    public: str
    private: str
