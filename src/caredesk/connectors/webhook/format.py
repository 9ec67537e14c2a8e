"""The generic message format (v1): what the webhook channel accepts and what `caredesk import jsonl` reads.

Documented in docs/message-format.md. Strict: unknown fields are refused, so a typo is an error, not a
silently dropped value; free-form data goes in `metadata`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from caredesk.domain.clock import as_utc
from caredesk.domain.errors import InvalidInput
from caredesk.domain.types import Author, Direction, InboundEvent

MAX_TEXT = 20_000
MAX_BATCH = 100

Id = Annotated[str, Field(min_length=1, max_length=255)]
Short = Annotated[str, Field(max_length=320)]


class AuthorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: Id
    handle: Short | None = None
    name: Annotated[str, Field(max_length=200)] | None = None
    email: Short | None = None
    phone: Annotated[str, Field(max_length=40)] | None = None
    followers: Annotated[int, Field(ge=0)] | None = None

    def to_author(self) -> Author:
        return Author(**self.model_dump())


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: Id
    created_at: datetime
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
    author: AuthorIn
    direction: Literal["in", "out"] = "in"
    public: bool = True
    in_reply_to: Id | None = None
    references: Annotated[list[Id], Field(max_length=50)] = []
    thread: Id | None = None
    subject: Annotated[str, Field(max_length=500)] | None = None
    language: Annotated[str, Field(min_length=2, max_length=8)] | None = None
    listening: bool = False
    client_ref: Annotated[str, Field(max_length=64)] | None = None
    recipient: AuthorIn | None = None
    metadata: dict[str, Any] = {}

    @field_validator("created_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("created_at needs a time zone (e.g. 2026-11-23T10:00:00Z)")
        return as_utc(value)

    def to_event(self) -> InboundEvent:
        return InboundEvent(
            external_id=self.id,
            created_at=self.created_at,
            text=self.text,
            author=self.author.to_author(),
            direction=Direction(self.direction),
            public=self.public,
            in_reply_to=self.in_reply_to,
            references=list(self.references),
            thread=self.thread,
            subject=self.subject,
            language=self.language,
            listening=self.listening,
            client_ref=self.client_ref,
            recipient=self.recipient.to_author() if self.recipient else None,
            raw=self.model_dump(mode="json", exclude_none=True),
        )


class ImportLine(MessageIn):
    """A line of a JSONL import: a message, and optionally the channel it belongs to."""

    channel: int | None = None


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    messages: Annotated[list[MessageIn], Field(min_length=1, max_length=MAX_BATCH)]


def parse_messages(data: Any) -> list[MessageIn]:
    """One message object or {"messages": [...]}; raises InvalidInput with every problem listed."""
    try:
        if isinstance(data, dict) and "messages" in data:
            return BatchIn.model_validate(data).messages
        return [MessageIn.model_validate(data)]
    except ValidationError as exc:
        raise InvalidInput(describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:10]:
        where = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{where}: {err['msg']}")
    return "invalid message: " + "; ".join(parts)
