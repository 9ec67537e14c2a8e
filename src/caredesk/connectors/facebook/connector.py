"""A Facebook Page: comments on its feed and its Messenger conversations, through the Graph API.

In: signed `page` webhooks (`feed` changes and `messaging` events) at /hooks/<channel id>, and polling of
`GET /{page-id}/feed` so comments are not lost when webhooks fail. Messenger is not polled.
Out: public replies as comments (`POST /{comment-or-post-id}/comments`), Messenger messages
(`POST /{page-id}/messages`, HUMAN_AGENT-tagged after 24 h), and one private reply per comment
(`recipient.comment_id`). Meta has no idempotency keys: after a crash mid-send, `find_published` looks
for the reply on the network before sending again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from caredesk.connectors import registry
from caredesk.connectors.base import ChallengeAnswer, Connector, ConnectorSpec, FetchResult, WebhookResult
from caredesk.connectors.facebook import feed, graph, messaging
from caredesk.connectors.facebook.graph import GraphClient, GraphSettings
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

NETWORK = "Facebook"
WINDOW = "Messenger"
LOOKUP_PAGES = 3
# Meta's sample callbacks answer 200 "EVENT_RECEIVED"; anything else counts against the webhook's health.
ACK = {"status": "EVENT_RECEIVED"}


@registry.register
class FacebookConnector(Connector):
    spec = ConnectorSpec(
        key="facebook",
        display_name="Facebook Page (comments and Messenger)",
        network="facebook",
        capabilities=frozenset(
            {Capability.WEBHOOK, Capability.POLL, Capability.PUBLIC_REPLY, Capability.PRIVATE_REPLY}
        ),
        length_rule=LengthRule(public="facebook_comment", private="messenger"),
        config_fields=("graph_url", "api_version", "page_id", "verify_token"),
        credential_fields=("page_access_token", "app_secret"),
        idempotent_send=False,
        poll_seconds=120,
        docs="docs/connectors.md",
    )

    @property
    def page_id(self) -> str:
        """The Page (config `page_id`, else own_account_id): needed to parse webhooks, unlike the token."""
        page_id = str(self.channel.config.get("page_id") or self.channel.own_account_id or "").strip()
        if not page_id:
            raise NotConfigured("this Facebook channel has no page_id configured")
        return page_id

    def _settings(self) -> GraphSettings:
        return GraphSettings.of(self.channel, NETWORK, page_id_fallback=self.channel.own_account_id)

    def _client(self) -> GraphClient:
        return GraphClient(self.http, self._settings(), NETWORK, WINDOW)

    # --- in ---------------------------------------------------------------------------------------------

    def challenge(self, params: Mapping[str, str]) -> ChallengeAnswer:
        return graph.answer_challenge(params, self.channel.config.get("verify_token"))

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookResult:
        secret = graph.app_secret(self.channel, NETWORK)
        graph.verify_signature(secret, headers.get(graph.SIGNATURE_HEADER.lower()), body)
        entries = graph.load_body(body, "page", "Facebook Page")
        page_id = self.page_id
        events: list[InboundEvent] = []
        for entry in entries:
            entry_id = graph.optional_id(entry.get("id"))
            if entry_id != page_id:
                # One Meta app posts every Page it serves to the same callback: not this channel's Page.
                log.warning("facebook channel %s: ignoring an entry for another Page", self.channel.id)
                continue
            events.extend(feed.change_events(entry, page_id=page_id))
            events.extend(messaging.messaging_events(entry, own_id=page_id))
        return WebhookResult(events=events, response=dict(ACK))

    def fetch(self, cursor: dict[str, Any]) -> FetchResult:
        events, new_cursor, more = feed.fetch_feed(self._client(), self.page_id, cursor, self.clock.now())
        return FetchResult(events=events, cursor=new_cursor, more=more)

    # --- out --------------------------------------------------------------------------------------------

    def verify(self) -> None:
        page_id = self.page_id
        answer = self._client().get(page_id, {"fields": "id,name"})
        if graph.optional_id(answer.get("id")) != page_id:
            raise ConnectorError(
                "the access token answers for another Page than this channel's page_id", retryable=False
            )

    def prepare(self, reply: OutboundReply, context: ReplyContext) -> OutboundReply:
        return graph.prepare_reply(reply, context, window_name=WINDOW)

    def send(self, reply: OutboundReply) -> SendResult:
        client = self._client()
        if reply.public:
            if not reply.in_reply_to:
                raise ConnectorError("a public reply needs the comment or post it answers", retryable=False)
            answer = client.post_form(f"{reply.in_reply_to}/comments", {"message": reply.text})
            comment_id = graph.optional_id(answer.get("id"))
            if comment_id is None:
                raise ConnectorError("Facebook accepted the comment but returned no id", retryable=False)
            return SendResult(external_id=comment_id, raw=answer)
        # Page post ids are "<page id>_<n>"; comment ids are "<post n>_<n>".
        body = messaging.send_body(
            reply, messaging_type="RESPONSE", metadata=True, post_prefix=f"{self.page_id}_"
        )
        return messaging.send_result(client.post_json(f"{self.page_id}/messages", body), NETWORK)

    def find_published(self, reply: OutboundReply) -> SendResult | None:
        """Public: the Page's comment with this text under the comment/post answered. Private: the Page's
        message with this text in the person's conversation (for a private reply to a comment, the
        conversation the comment's `private_reply_conversation` names)."""
        client = self._client()
        page_id = self.page_id
        if reply.public:
            if not reply.in_reply_to:
                return None
            found = self._find_comment(client, reply.in_reply_to, reply.text)
            if found is None:  # a reply to a reply lands under the top-level comment
                node = client.get(reply.in_reply_to, {"fields": "id,parent"})
                parent = node.get("parent")
                parent_id = graph.optional_id(parent.get("id")) if isinstance(parent, dict) else None
                if parent_id:
                    found = self._find_comment(client, parent_id, reply.text)
            return found
        comment = reply.options.get(graph.PRIVATE_REPLY_OPTION)
        if isinstance(comment, str) and comment:
            node = client.get(comment, {"fields": "id,private_reply_conversation"})
            conversation = node.get("private_reply_conversation")
            conversation_id = (
                graph.optional_id(conversation.get("id")) if isinstance(conversation, dict) else None
            )
            if conversation_id is None:
                return None
            return messaging.find_in_conversation(client, conversation_id, page_id, reply.text)
        person = reply.thread or reply.recipient
        if not person:
            return None
        return messaging.find_in_thread(
            client, page_id=page_id, platform="messenger", person=person, own_id=page_id, text=reply.text
        )

    def _find_comment(self, client: GraphClient, target: str, text: str) -> SendResult | None:
        params: dict[str, str | int] = {
            "filter": "stream",
            "order": "reverse_chronological",
            "fields": "id,message,from,created_time",
            "limit": 100,
        }
        for _ in range(LOOKUP_PAGES):
            page = client.get(f"{target}/comments", params)
            for comment in page.get("data") or []:
                if not isinstance(comment, dict):
                    continue
                author = comment.get("from")
                mine = isinstance(author, dict) and graph.optional_id(author.get("id")) == self.page_id
                if mine and comment.get("message") == text:
                    found = graph.optional_id(comment.get("id"))
                    if found:
                        return SendResult(external_id=found, raw={"found": True})
            after = graph.next_after(page)
            if after is None:
                return None
            params = {**params, "after": after}
        return None
