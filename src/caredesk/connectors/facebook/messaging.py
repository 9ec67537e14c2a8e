"""Private messages on Meta, shared by Messenger and Instagram Direct: webhook `messaging` events in, the Send
API (`POST /{page-id}/messages`) out, and the Conversations API to find a reply after a crash mid-send.

A private thread is 1:1 between the account and one person, so the thread key is that person's scoped id
(PSID on Messenger, IGSID on Instagram). The account's own messages (Messenger echoes with `is_echo`,
Instagram's own sends on the `messages` field) come back as outbound events addressed to that person.
"""

from __future__ import annotations

from typing import Any, Final

from caredesk.connectors.facebook.graph import (
    HUMAN_AGENT_TAG,
    PRIVATE_REPLY_OPTION,
    GraphClient,
    from_epoch,
    next_after,
    optional_id,
    str_id,
)
from caredesk.domain.errors import ConnectorError, InvalidInput
from caredesk.domain.types import Author, Direction, InboundEvent, OutboundReply, SendResult

# Messenger echoes the Send API's `message.metadata`: ours carries the reply's idempotency key, so an echo
# that outruns the sender's write-back is still recognised as our reply.
METADATA_PREFIX: Final = "caredesk:"
LOOKUP_PAGES: Final = 4  # pages of a conversation searched by find_published


def _field(obj: dict[str, Any], key: str, sub: str) -> object:
    inner = obj.get(key)
    return inner.get(sub) if isinstance(inner, dict) else None


def message_text(message: dict[str, Any]) -> str:
    """The text of a message, with its attachments noted (`[image: https://…]`) so an agent sees them."""
    parts: list[str] = []
    reply_to = message.get("reply_to")
    if isinstance(reply_to, dict) and isinstance(reply_to.get("story"), dict):
        parts.append("[reply to a story]")
    text = message.get("text")
    if isinstance(text, str) and text.strip():
        parts.append(text)
    attachments = message.get("attachments")
    for attachment in attachments if isinstance(attachments, list) else []:
        if not isinstance(attachment, dict):
            continue
        kind = attachment.get("type") if isinstance(attachment.get("type"), str) else "file"
        url = _field(attachment, "payload", "url")
        parts.append(f"[{kind}: {url}]" if isinstance(url, str) and url else f"[{kind}]")
    if message.get("is_unsupported") is True:
        parts.append("[a message type this API does not show]")
    return "\n".join(parts) or "[empty message]"


def messaging_events(entry: dict[str, Any], *, own_id: str) -> list[InboundEvent]:
    """Events of one webhook entry's `messaging` list. Deliveries, reads, reactions, postbacks and deleted
    messages are not messages and are skipped."""
    items = entry.get("messaging")
    if items is None:
        return []
    if not isinstance(items, list):
        raise InvalidInput("entry.messaging is not a list")
    events: list[InboundEvent] = []
    for item in items:
        if not isinstance(item, dict):
            raise InvalidInput("entry.messaging holds something that is not an object")
        message = item.get("message")
        if not isinstance(message, dict) or message.get("is_deleted") is True:
            continue
        mid = str_id(message.get("mid"), "message.mid")
        sender = str_id(_field(item, "sender", "id"), "messaging.sender.id")
        recipient = str_id(_field(item, "recipient", "id"), "messaging.recipient.id")
        own = message.get("is_echo") is True or sender == own_id
        customer = recipient if own else sender
        metadata = message.get("metadata")
        client_ref = None
        if own and isinstance(metadata, str) and metadata.startswith(METADATA_PREFIX):
            client_ref = metadata[len(METADATA_PREFIX) :][:64] or None
        events.append(
            InboundEvent(
                external_id=mid,
                created_at=from_epoch(item.get("timestamp") or entry.get("time")),
                text=message_text(message),
                author=Author(id=own_id) if own else Author(id=sender),
                direction=Direction.OUT if own else Direction.IN,
                public=False,
                in_reply_to=optional_id(_field(message, "reply_to", "mid")),
                thread=customer,
                client_ref=client_ref,
                recipient=Author(id=customer) if own else None,
                raw=item,
            )
        )
    return events


def send_body(
    reply: OutboundReply, *, messaging_type: str | None, metadata: bool, post_prefix: str | None = None
) -> dict[str, Any]:
    """The Send API request for a private reply: to a comment's author (`recipient.comment_id`, once per
    comment; `recipient.post_id` for a visitor's post, whose id starts with `post_prefix`) or in the
    person's thread (`recipient.id`), tagged HUMAN_AGENT when prepare() said so."""
    message: dict[str, Any] = {"text": reply.text}
    target = reply.options.get(PRIVATE_REPLY_OPTION)
    if isinstance(target, str) and target:
        kind = "post_id" if post_prefix and target.startswith(post_prefix) else "comment_id"
        return {"recipient": {kind: target}, "message": message}
    person = reply.thread or reply.recipient
    if not person:
        raise ConnectorError(
            "this private reply has no recipient (no thread, no customer id)", retryable=False
        )
    if metadata:
        message["metadata"] = METADATA_PREFIX + reply.idempotency_key
    body: dict[str, Any] = {"recipient": {"id": person}, "message": message}
    if reply.options.get("tag") == HUMAN_AGENT_TAG:
        body["messaging_type"] = "MESSAGE_TAG"
        body["tag"] = HUMAN_AGENT_TAG
    elif messaging_type:
        body["messaging_type"] = messaging_type
    return body


def send_result(answer: dict[str, Any], network: str) -> SendResult:
    mid = optional_id(answer.get("message_id"))
    if mid is None:
        raise ConnectorError(f"{network} accepted the message but returned no message_id", retryable=False)
    return SendResult(external_id=mid, raw=answer)


def find_in_conversation(
    client: GraphClient, conversation_id: str, own_id: str, text: str
) -> SendResult | None:
    """Our message with this exact text in a conversation (`GET /{conversation-id}/messages`)."""
    params: dict[str, str | int] = {"fields": "id,message,from,created_time", "limit": 25}
    for _ in range(LOOKUP_PAGES):
        page = client.get(f"{conversation_id}/messages", params)
        for message in page.get("data") or []:
            if not isinstance(message, dict):
                continue
            if _field(message, "from", "id") == own_id and message.get("message") == text:
                found = optional_id(message.get("id"))
                if found:
                    return SendResult(external_id=found, raw={"found": True, "conversation": conversation_id})
        after = next_after(page)
        if after is None:
            return None
        params = {**params, "after": after}
    return None


def find_in_thread(
    client: GraphClient, *, page_id: str, platform: str, person: str, own_id: str, text: str
) -> SendResult | None:
    """Our message to `person` (`GET /{page-id}/conversations?platform=…&user_id=…`)."""
    answer = client.get(f"{page_id}/conversations", {"platform": platform, "user_id": person, "fields": "id"})
    for conversation in (answer.get("data") or [])[:3]:
        conversation_id = optional_id(conversation.get("id")) if isinstance(conversation, dict) else None
        if conversation_id:
            found = find_in_conversation(client, conversation_id, own_id, text)
            if found is not None:
                return found
    return None
