"""Pipeline vocabulary: an Item travels through named Stages, each with one `process(ctx, items)`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from caredesk.domain.clock import Clock
from caredesk.domain.types import InboundEvent
from caredesk.storage import models as m


@dataclass(slots=True)
class Item:
    spool_id: int
    channel: m.Channel
    event: InboundEvent
    skip: str | None = None  # why later stages leave it alone ("duplicate", "echo")
    contact: m.Contact | None = None
    conversation: m.Conversation | None = None
    message: m.Message | None = None
    new_conversation: bool = False
    reopened: bool = False
    triage: dict[str, Any] = field(default_factory=dict)

    @property
    def live(self) -> bool:
        return self.skip is None


@dataclass(slots=True)
class StageContext:
    session: Session
    clock: Clock
    now: datetime
    # Conversations touched in this batch: their timing fields are recomputed before commit.
    touched: set[int] = field(default_factory=set)
    # (topic, payload) to publish on the bus once the batch has committed.
    notifications: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


class Stage(Protocol):
    name: str

    def process(self, ctx: StageContext, items: list[Item]) -> None: ...
