"""The connector contract: what every network integration declares and implements.

A connector is a declared `ConnectorSpec` plus four operations: `verify()`, `fetch(cursor)`,
`parse_webhook(headers, body)` and `send(reply)`. Its HTTP client and clock are injected, so tests run it
against a local fake network and the sender/pollers never build clients themselves. Core code asks a
connector's capabilities; it never branches on the network's name.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx

from caredesk.domain.clock import Clock
from caredesk.domain.errors import CaredeskError, ConnectorError, NotFound
from caredesk.domain.types import (
    Capability,
    InboundEvent,
    LengthRule,
    OutboundReply,
    ReplyContext,
    SendResult,
)
from caredesk.domain.watch import WatchSpec


@dataclass(frozen=True, slots=True)
class ConnectorSpec:
    key: str  # registry key, stored on the channel
    display_name: str
    network: str  # what kind of account this is: identities of contacts are keyed by it
    capabilities: frozenset[Capability]
    length_rule: LengthRule
    config_fields: tuple[str, ...] = ()  # non-secret settings an operator gives
    credential_fields: tuple[str, ...] = ()  # secrets, stored encrypted
    # True when the network drops a repeat of the same idempotency key, so an in-doubt send may be retried.
    idempotent_send: bool = False
    # True when author ids are only unique within one channel (a generic source), not across the network.
    identities_per_channel: bool = False
    poll_seconds: int = 60  # how often a POLL channel is fetched when nothing is pending
    docs: str = ""  # where docs/connectors.md describes it


def identity_kind(spec: ConnectorSpec, channel_id: int) -> str:
    """How a contact's handle on this channel is keyed: by network (an X user id is the same person on every
    X channel), or by channel for generic sources whose ids mean nothing elsewhere."""
    return f"{spec.network}:{channel_id}" if spec.identities_per_channel else spec.network


@dataclass(frozen=True, slots=True)
class ChannelContext:
    """What a connector knows of the channel it serves (credentials already decrypted)."""

    id: int
    own_account_id: str | None
    config: Mapping[str, Any]
    credentials: Mapping[str, Any]


@dataclass(slots=True)
class FetchResult:
    events: list[InboundEvent]
    cursor: dict[str, Any]  # stored with the events, in one transaction; the next fetch starts from it
    more: bool = False  # the network has more right now: fetch again without waiting


@dataclass(slots=True)
class WebhookResult:
    events: list[InboundEvent] = field(default_factory=list)
    # Some networks expect an answer of their own; None means the plain "accepted" answer.
    response: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ChallengeAnswer:
    """The answer to a network's webhook ownership check (X CRC, Meta hub.challenge)."""

    body: str
    media_type: str = "application/json"


class Connector:
    spec: ClassVar[ConnectorSpec]

    def __init__(self, channel: ChannelContext, *, http: httpx.Client, clock: Clock) -> None:
        self.channel = channel
        self.http = http
        self.clock = clock

    def has(self, capability: Capability) -> bool:
        return capability in self.spec.capabilities

    def verify(self) -> None:
        """Check the credentials against the network; raise ConnectorError with a clear reason."""
        raise CaredeskError(f"{self.spec.display_name} cannot verify credentials")

    def fetch(self, cursor: dict[str, Any]) -> FetchResult:
        raise CaredeskError(f"{self.spec.display_name} does not poll")

    def watch(self, rules: Sequence[WatchSpec], cursor: dict[str, Any]) -> FetchResult:
        """LISTEN: posts matching the workspace's watch rules, as events with `listening=True`. Called by the
        poller with its own cursor (kept apart from fetch's). A network whose search is coarser than a rule
        may return more: the pipeline keeps only what `domain.watch.matches` accepts."""
        raise CaredeskError(f"{self.spec.display_name} does not listen")

    def stream(
        self, cursor: dict[str, Any], deliver: Callable[[FetchResult], None], stop: threading.Event
    ) -> dict[str, Any]:
        """STREAM: stay connected until `stop` is set, handing each batch to `deliver` (which stores its
        events and cursor in one transaction, then acknowledges); return the last cursor. Run by
        workers/streamer.py when streaming is switched on; otherwise the channel is polled."""
        raise CaredeskError(f"{self.spec.display_name} does not stream")

    def acknowledge(self, cursor: dict[str, Any]) -> None:
        """Called after a fetch's events and cursor are stored: tell the network what was seen, if it
        keeps such a mark (Bluesky updateSeen). Never called for events not yet stored."""

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookResult:
        raise CaredeskError(f"{self.spec.display_name} does not receive webhooks")

    def challenge(self, params: Mapping[str, str]) -> ChallengeAnswer:
        """Answer a GET on the webhook address (ownership checks). Refuse what is not one."""
        raise NotFound(f"{self.spec.display_name} webhooks have no challenge")

    def prepare(self, reply: OutboundReply, context: ReplyContext) -> OutboundReply:
        """Check a reply against the network's rules before it is queued (windows, one-time replies);
        raise InvalidInput with what the agent can do instead, or return it with network options set."""
        return reply

    def find_published(self, reply: OutboundReply) -> SendResult | None:
        """After a crash mid-send: was this reply published? Networks without idempotency keys look it up."""
        return None

    def send(self, reply: OutboundReply) -> SendResult:
        raise ConnectorError(f"{self.spec.display_name} channels cannot publish replies", retryable=False)


def http_error(network: str, response: httpx.Response) -> ConnectorError:
    """Turn a network's error answer into a clear, classified error (never echoing credentials)."""
    status = response.status_code
    detail = response.text[:300].strip()
    retry_after: float | None = None
    header = response.headers.get("retry-after")
    if header:
        try:
            retry_after = max(0.0, float(header))
        except ValueError:
            retry_after = None
    if status == 429:
        return ConnectorError(
            f"{network} rate limit reached (HTTP 429)", retryable=True, retry_after=retry_after
        )
    if status >= 500:
        return ConnectorError(f"{network} is failing (HTTP {status}): {detail}", retryable=True)
    return ConnectorError(f"{network} refused the request (HTTP {status}): {detail}", retryable=False)
