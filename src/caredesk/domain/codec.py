"""InboundEvent <-> JSON, for the spool (what is written before acknowledging) and the replay tools."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from caredesk.domain.clock import as_utc
from caredesk.domain.types import Author, Direction, InboundEvent


def event_to_dict(event: InboundEvent) -> dict[str, Any]:
    out: dict[str, Any] = {
        "external_id": event.external_id,
        "created_at": as_utc(event.created_at).isoformat(),
        "text": event.text,
        "author": _author_to_dict(event.author),
        "direction": event.direction.value,
        "public": event.public,
    }
    optional = {
        "in_reply_to": event.in_reply_to,
        "references": event.references or None,
        "thread": event.thread,
        "subject": event.subject,
        "language": event.language,
        "listening": event.listening or None,
        "client_ref": event.client_ref,
        "recipient": _author_to_dict(event.recipient) if event.recipient else None,
        "raw": event.raw or None,
    }
    out.update({k: v for k, v in optional.items() if v is not None})
    return out


def event_from_dict(data: dict[str, Any]) -> InboundEvent:
    recipient = data.get("recipient")
    return InboundEvent(
        external_id=data["external_id"],
        created_at=as_utc(datetime.fromisoformat(data["created_at"])),
        text=data["text"],
        author=Author(**data["author"]),
        direction=Direction(data.get("direction", "in")),
        public=bool(data.get("public", True)),
        in_reply_to=data.get("in_reply_to"),
        references=list(data.get("references") or []),
        thread=data.get("thread"),
        subject=data.get("subject"),
        language=data.get("language"),
        listening=bool(data.get("listening", False)),
        client_ref=data.get("client_ref"),
        recipient=Author(**recipient) if recipient else None,
        raw=dict(data.get("raw") or {}),
    )


def _author_to_dict(author: Author) -> dict[str, Any]:
    fields = {
        "id": author.id,
        "handle": author.handle,
        "name": author.name,
        "email": author.email,
        "phone": author.phone,
        "followers": author.followers,
    }
    return {k: v for k, v in fields.items() if v is not None}


def storable(value: Any) -> Any:
    """Make text safe for every database: no NUL characters, no lone UTF-16 surrogates (broken encodings
    from the network become U+FFFD instead of failing the write)."""
    if isinstance(value, str):
        if "\x00" in value:
            value = value.replace("\x00", "")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return value
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(v) for v in value]
    return value
