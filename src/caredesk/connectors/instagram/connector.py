"""An Instagram professional account linked to a Facebook Page: comments and DMs, through the Graph API
(Facebook-login flavour, host graph.facebook.com).

In: signed `instagram` webhooks (`comments` changes and `messaging` events) at /hooks/<channel id>. There
is no polling: webhooks are the only source (see docs/connectors.md).
Out: public replies (`POST /{ig-comment-id}/replies`), DMs through the Page (`POST /{page-id}/messages`,
HUMAN_AGENT-tagged after 24 h) and one private reply per comment (`recipient.comment_id`).

The channel's own_account_id is the Instagram account id (comments and DMs name it); `page_id` is the
linked Page, which the messaging endpoints go through.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from caredesk.connectors import registry
from caredesk.connectors.base import ChallengeAnswer, Connector, ConnectorSpec, WebhookResult
from caredesk.connectors.facebook import graph, messaging
from caredesk.connectors.facebook.graph import GraphClient, GraphSettings
from caredesk.connectors.instagram import comments
from caredesk.domain.errors import ConnectorError, NotConfigured
from caredesk.domain.types import (
    Capability,
    InboundEvent,
    LengthRule,
    OutboundReply,
    ReplyContext,
    SendResult,
)

log = logging.getLogger(__name__)

NETWORK = "Instagram"
WINDOW = "Instagram"
LOOKUP_PAGES = 3
ACK = {"status": "EVENT_RECEIVED"}


@registry.register
class InstagramConnector(Connector):
    spec = ConnectorSpec(
        key="instagram",
        display_name="Instagram (comments and DMs)",
        network="instagram",
        capabilities=frozenset({Capability.WEBHOOK, Capability.PUBLIC_REPLY, Capability.PRIVATE_REPLY}),
        length_rule=LengthRule(public="instagram", private="instagram"),
        config_fields=("graph_url", "api_version", "page_id", "verify_token"),
        credential_fields=("page_access_token", "app_secret"),
        idempotent_send=False,
        docs="docs/connectors.md",
    )

    @property
    def account_id(self) -> str:
        own = self.channel.own_account_id
        if not own:
            raise NotConfigured("this Instagram channel has no own_account_id (the Instagram account id)")
        return own

    def _settings(self) -> GraphSettings:
        return GraphSettings.of(self.channel, NETWORK, page_id_fallback=None)

    def _client(self) -> GraphClient:
        return GraphClient(self.http, self._settings(), NETWORK, WINDOW)

    # --- in ---------------------------------------------------------------------------------------------

    def challenge(self, params: Mapping[str, str]) -> ChallengeAnswer:
        return graph.answer_challenge(params, self.channel.config.get("verify_token"))

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookResult:
        secret = graph.app_secret(self.channel, NETWORK)
        graph.verify_signature(secret, headers.get(graph.SIGNATURE_HEADER.lower()), body)
        entries = graph.load_body(body, "instagram", "Instagram")
        own = self.account_id
        events: list[InboundEvent] = []
        for entry in entries:
            if graph.optional_id(entry.get("id")) != own:
                log.warning("instagram channel %s: ignoring an entry for another account", self.channel.id)
                continue
            events.extend(comments.change_events(entry, own_id=own))
            events.extend(messaging.messaging_events(entry, own_id=own))
        return WebhookResult(events=events, response=dict(ACK))

    # --- out --------------------------------------------------------------------------------------------

    def verify(self) -> None:
        settings = self._settings()
        answer = self._client().get(settings.page_id, {"fields": "id,name,instagram_business_account"})
        if graph.optional_id(answer.get("id")) != settings.page_id:
            raise ConnectorError(
                "the access token answers for another Page than this channel's page_id", retryable=False
            )
        linked = answer.get("instagram_business_account")
        linked_id = graph.optional_id(linked.get("id")) if isinstance(linked, dict) else None
        if linked_id != self.account_id:
            raise ConnectorError(
                "the Page is not linked to this channel's Instagram account (own_account_id): link the "
                "Instagram professional account to the Page in Meta Business Suite",
                retryable=False,
            )

    def prepare(self, reply: OutboundReply, context: ReplyContext) -> OutboundReply:
        return graph.prepare_reply(reply, context, window_name=WINDOW)

    def send(self, reply: OutboundReply) -> SendResult:
        client = self._client()
        if reply.public:
            if not reply.in_reply_to:
                raise ConnectorError("a public reply needs the comment it answers", retryable=False)
            answer = client.post_form(f"{reply.in_reply_to}/replies", {"message": reply.text})
            reply_id = graph.optional_id(answer.get("id"))
            if reply_id is None:
                raise ConnectorError("Instagram accepted the reply but returned no id", retryable=False)
            return SendResult(external_id=reply_id, raw=answer)
        body = messaging.send_body(reply, messaging_type=None, metadata=False)
        page_id = client.settings.page_id
        return messaging.send_result(client.post_json(f"{page_id}/messages", body), NETWORK)

    def find_published(self, reply: OutboundReply) -> SendResult | None:
        """Public: the account's reply with this text under the comment. DM: the account's message with
        this text in the person's conversation. A private reply to a comment cannot be looked up (the
        person's IGSID is only known once it is sent): None, and a resend is refused by Meta as a second
        private reply, which fails with a clear error rather than duplicating."""
        client = self._client()
        own = self.account_id
        if reply.public:
            if not reply.in_reply_to:
                return None
            found = self._find_reply(client, reply.in_reply_to, reply.text)
            if found is None:  # a reply to a reply is added under the top-level comment
                parent = graph.optional_id(
                    client.get(reply.in_reply_to, {"fields": "id,parent_id"}).get("parent_id")
                )
                if parent:
                    found = self._find_reply(client, parent, reply.text)
            return found
        if reply.options.get(graph.PRIVATE_REPLY_OPTION):
            return None
        person = reply.thread or reply.recipient
        if not person:
            return None
        return messaging.find_in_thread(
            client,
            page_id=client.settings.page_id,
            platform="instagram",
            person=person,
            own_id=own,
            text=reply.text,
        )

    def _find_reply(self, client: GraphClient, target: str, text: str) -> SendResult | None:
        params: dict[str, str | int] = {"fields": "id,text,from,timestamp", "limit": 50}
        for _ in range(LOOKUP_PAGES):
            page = client.get(f"{target}/replies", params)
            for item in page.get("data") or []:
                if not isinstance(item, dict):
                    continue
                author = item.get("from")
                mine = isinstance(author, dict) and graph.optional_id(author.get("id")) == self.account_id
                if mine and item.get("text") == text:
                    found = graph.optional_id(item.get("id"))
                    if found:
                        return SendResult(external_id=found, raw={"found": True})
            after = graph.next_after(page)
            if after is None:
                return None
            params = {**params, "after": after}
        return None
