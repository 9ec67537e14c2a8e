"""The generic webhook/API channel: any network or widget that can POST JSON and receive JSON.

In: signed POSTs of the generic message format to /hooks/<channel id>.
Out: a signed POST of each reply to the channel's `outbound_url`, with an `Idempotency-Key` header that is
the same on every retry, so the receiving side can drop a repeat (docs/message-format.md says so).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from caredesk.connectors import registry
from caredesk.connectors.base import Connector, ConnectorSpec, WebhookResult, http_error
from caredesk.connectors.webhook import signing
from caredesk.connectors.webhook.format import parse_messages
from caredesk.domain.errors import ConnectorError, InvalidInput, NotConfigured, TooLarge
from caredesk.domain.types import Capability, LengthRule, OutboundReply, SendResult

MAX_BODY = 1_000_000


@registry.register
class WebhookConnector(Connector):
    spec = ConnectorSpec(
        key="webhook",
        display_name="Webhook / API",
        network="webhook",
        capabilities=frozenset(
            {Capability.WEBHOOK, Capability.PUBLIC_REPLY, Capability.PRIVATE_REPLY, Capability.IMPORT}
        ),
        length_rule=LengthRule(public="webhook", private="webhook"),
        config_fields=("outbound_url",),
        credential_fields=("secret",),
        idempotent_send=True,
        identities_per_channel=True,
        docs="docs/message-format.md",
    )

    def _secret(self) -> str:
        secret = self.channel.credentials.get("secret")
        if not isinstance(secret, str) or not secret:
            raise NotConfigured("this webhook channel has no signing secret configured")
        return secret

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookResult:
        if len(body) > MAX_BODY:
            raise TooLarge(f"body larger than {MAX_BODY} bytes")
        signing.verify(
            self._secret(), headers.get(signing.HEADER.lower()), body, self.clock.now().timestamp()
        )
        try:
            data: Any = json.loads(body.decode("utf-8"))
        except UnicodeDecodeError:
            raise InvalidInput("body is not valid UTF-8") from None
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"body is not valid JSON: {exc.msg} at position {exc.pos}") from None
        return WebhookResult(events=[m.to_event() for m in parse_messages(data)])

    def _post(self, payload: dict[str, Any], idempotency_key: str | None = None) -> httpx.Response:
        url = self.channel.config.get("outbound_url")
        if not url:
            raise ConnectorError("this webhook channel has no outbound_url to publish to", retryable=False)
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            signing.HEADER: signing.sign(self._secret(), body, int(self.clock.now().timestamp())),
        }
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        try:
            return self.http.post(str(url), content=body, headers=headers)
        except httpx.TimeoutException:
            raise ConnectorError("webhook endpoint timed out", retryable=True) from None
        except httpx.TransportError as exc:
            raise ConnectorError(
                f"webhook endpoint unreachable: {type(exc).__name__}", retryable=True
            ) from None

    def verify(self) -> None:
        response = self._post({"type": "ping"})
        if response.status_code >= 300:
            raise http_error("webhook endpoint", response)

    def send(self, reply: OutboundReply) -> SendResult:
        payload = {
            "type": "reply",
            "idempotency_key": reply.idempotency_key,
            "text": reply.text,
            "public": reply.public,
            "in_reply_to": reply.in_reply_to,
            "thread": reply.thread,
            "recipient": reply.recipient,
            "subject": reply.subject,
            "automatic": reply.automatic,
        }
        response = self._post(payload, reply.idempotency_key)
        if response.status_code >= 300:
            raise http_error("webhook endpoint", response)
        try:
            external_id = str(response.json()["id"])
        except (ValueError, KeyError, TypeError):
            raise ConnectorError(
                "webhook endpoint accepted the reply but returned no JSON with an 'id'", retryable=False
            ) from None
        return SendResult(external_id=external_id, raw={"status": response.status_code})
