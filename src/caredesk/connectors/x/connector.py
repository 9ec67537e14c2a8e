"""X (Twitter) API v2: mentions and DMs in, public replies and DMs out.

In: polling (`fetch`): mentions of the brand account (`GET /2/users/:id/mentions`, app-only bearer token),
then DM events (`GET /2/dm_events`, user token); see sync.py for the cursor. Or pushes from the Account
Activity API (`parse_webhook`), whose CRC check `challenge` answers. Listening (`watch`): the filtered
stream, with stream rules made from the watch rules; see listen.py. The brand's own posts and DMs are
recognised (direction "out") wherever they show up.
Out: a public reply is `POST /2/tweets` with `reply.in_reply_to_tweet_id`; a private one is
`POST /2/dm_conversations/with/:participant_id/messages`. X has no idempotency key, so `find_published`
looks for the reply on the brand's timeline or in the DM conversation before an in-doubt resend.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx

from caredesk.connectors import registry
from caredesk.connectors.base import ChallengeAnswer, Connector, ConnectorSpec, FetchResult, WebhookResult
from caredesk.connectors.x import listen, parse, signing, sync
from caredesk.connectors.x.api import Problem, XApi, error_for, json_object
from caredesk.domain.errors import (
    CaredeskError,
    ConnectorError,
    InvalidInput,
    NotConfigured,
    TooLarge,
)
from caredesk.domain.types import (
    Capability,
    LengthRule,
    OutboundReply,
    ReplyContext,
    SendResult,
)
from caredesk.domain.watch import WatchSpec

DEFAULT_BASE_URL = "https://api.x.com"
MAX_BODY = 1_000_000
_URL = re.compile(r"https?://\S+")
# How far before the reply was queued a copy found by find_published may be dated (clock skew).
LOOKUP_SKEW = timedelta(minutes=5)


@registry.register
class XConnector(Connector):
    spec = ConnectorSpec(
        key="x",
        display_name="X (Twitter)",
        network="x",
        capabilities=frozenset(
            {
                Capability.POLL,
                Capability.WEBHOOK,
                Capability.LISTEN,
                Capability.PUBLIC_REPLY,
                Capability.PRIVATE_REPLY,
            }
        ),
        length_rule=LengthRule(public="x", private="x_dm"),
        config_fields=("base_url", "user_id", "stream_seconds"),
        credential_fields=("bearer_token", "user_token", "consumer_secret"),
        idempotent_send=False,
        poll_seconds=60,
        docs="docs/connectors.md",
    )

    # Pages per kind (mentions, DMs) in one fetch, and the page size asked for.
    max_pages = 5
    page_size = 100
    # Listening: how long one watch() reads the filtered stream by default, and how many posts at most.
    stream_seconds = 20.0
    max_stream_posts = 500

    # --- configuration -----------------------------------------------------------------------------

    @property
    def user_id(self) -> str:
        value = self.channel.config.get("user_id") or self.channel.own_account_id
        value = str(value).strip() if value is not None else ""
        if not parse.is_id(value):
            raise NotConfigured("this X channel has no numeric user_id (the brand account's id) configured")
        return value

    def _api(self) -> XApi:
        base = str(self.channel.config.get("base_url") or DEFAULT_BASE_URL)
        tokens = {
            key: str(self.channel.credentials[key])
            for key in ("bearer_token", "user_token")
            if self.channel.credentials.get(key)
        }
        return XApi(self.http, base, tokens)

    def _consumer_secret(self) -> str:
        secret = self.channel.credentials.get("consumer_secret")
        if not isinstance(secret, str) or not secret:
            raise NotConfigured("this X channel has no consumer_secret configured (needed for webhooks)")
        return secret

    # --- checks ------------------------------------------------------------------------------------

    def verify(self) -> None:
        user_id, now = self.user_id, self.clock.now()
        own = self.channel.own_account_id
        if own and own != user_id:
            raise ConnectorError(
                f"the channel's own account id ({own}) differs from its user_id ({user_id}): set both to "
                "the brand account's numeric id, or the brand's own posts look like customers'",
                retryable=False,
            )
        body, _ = self._api().get_json(
            "/2/users/me",
            auth="user",
            what="checking the user token",
            params={"user.fields": "username"},
            now=now,
        )
        data = body.get("data") if isinstance(body.get("data"), dict) else {}
        assert isinstance(data, dict)
        if str(data.get("id")) != user_id:
            who = f"@{data.get('username')} (id {data.get('id')})" if data.get("id") else "another account"
            raise ConnectorError(
                f"the X user token belongs to {who}, not to the channel's user_id {user_id}: "
                "authorise the brand account itself",
                retryable=False,
            )
        self._api().get_json(
            f"/2/users/{user_id}/mentions",
            auth="app",
            what="checking the bearer token",
            params={"max_results": "5"},
            now=now,
        )

    # --- polling -----------------------------------------------------------------------------------

    def fetch(self, cursor: dict[str, Any]) -> FetchResult:
        user_id, api, now = self.user_id, self._api(), self.clock.now()
        if cursor.get("v") != sync.CURSOR_VERSION:
            cursor = {}
        mentions_state = _section(cursor, "mentions")
        dms_state = _section(cursor, "dms")
        got_mentions = sync.mentions(
            api, user_id, mentions_state, now=now, max_pages=self.max_pages, page_size=self.page_size
        )
        got_dms = sync.dms(
            api, user_id, dms_state, now=now, max_pages=self.max_pages, page_size=self.page_size
        )
        events = got_mentions.events + got_dms.events
        events.sort(key=lambda e: (e.created_at, parse.id_key(e.external_id)))
        return FetchResult(
            events=events,
            cursor={"v": sync.CURSOR_VERSION, "mentions": got_mentions.state, "dms": got_dms.state},
            more=got_mentions.more or got_dms.more,
        )

    # --- listening (filtered stream) ---------------------------------------------------------------

    @property
    def _stream_seconds(self) -> float:
        raw = self.channel.config.get("stream_seconds")
        if raw is None or raw == "":
            return self.stream_seconds
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise NotConfigured("this X channel's stream_seconds is not a number of seconds") from None
        if not 0.1 <= value <= 300:
            raise NotConfigured("this X channel's stream_seconds must be between 0.1 and 300")
        return value

    def watch(self, rules: Sequence[WatchSpec], cursor: dict[str, Any]) -> FetchResult:
        """Sync the app's stream rules with the watch rules, then read the stream for a while; see
        listen.py. The cursor keeps the ids of the newest posts seen (the stream has no position)."""
        user_id, api, now = self.user_id, self._api(), self.clock.now()
        seen = cursor.get("seen") if cursor.get("v") == listen.CURSOR_VERSION else None
        seen_ids = [str(i) for i in seen if parse.is_id(str(i))] if isinstance(seen, list) else []
        ours = listen.sync_rules(api, user_id, listen.wanted_rules(rules), now=now)
        heard = listen.read_stream(
            api,
            user_id,
            ours,
            seen_ids,
            seconds=self._stream_seconds,
            max_posts=self.max_stream_posts,
            now=now,
        )
        heard.events.sort(key=lambda e: (e.created_at, parse.id_key(e.external_id)))
        return FetchResult(
            events=heard.events, cursor={"v": listen.CURSOR_VERSION, "seen": heard.seen}, more=heard.more
        )

    # --- webhooks (Account Activity API) -----------------------------------------------------------

    def challenge(self, params: Mapping[str, str]) -> ChallengeAnswer:
        token = params.get("crc_token")
        if not token:
            raise InvalidInput("an X webhook check carries ?crc_token=...; this request has none")
        answer = {"response_token": signing.crc_response(self._consumer_secret(), token)}
        return ChallengeAnswer(body=json.dumps(answer))

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookResult:
        if len(body) > MAX_BODY:
            raise TooLarge(f"body larger than {MAX_BODY} bytes")
        signing.verify(self._consumer_secret(), headers.get(signing.HEADER), body)
        try:
            payload: Any = json.loads(body.decode("utf-8"))
        except UnicodeDecodeError:
            raise InvalidInput("body is not valid UTF-8") from None
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"body is not valid JSON: {exc.msg} at position {exc.pos}") from None
        return WebhookResult(events=parse.aaa_events(payload, self.user_id))

    # --- replies -----------------------------------------------------------------------------------

    def prepare(self, reply: OutboundReply, context: ReplyContext) -> OutboundReply:
        if reply.public:
            if context.target_public is False:
                raise InvalidInput(
                    "the message answered is an X DM: a public post cannot reply to it; send a DM instead"
                )
            if not parse.is_id(reply.in_reply_to):
                raise InvalidInput(
                    "a public X reply must answer a post, and this conversation has no X post to answer: "
                    "send a DM instead"
                )
        elif self._participant(reply) is None:
            raise InvalidInput(
                "no X user id is known for this customer, so no DM can be sent: reply publicly instead"
            )
        options = dict(reply.options)
        options["queued_at"] = context.now.isoformat()
        return OutboundReply(
            idempotency_key=reply.idempotency_key,
            text=reply.text,
            public=reply.public,
            in_reply_to=reply.in_reply_to,
            thread=reply.thread,
            recipient=reply.recipient,
            subject=reply.subject,
            automatic=reply.automatic,
            options=options,
        )

    def _participant(self, reply: OutboundReply) -> str | None:
        if parse.is_id(reply.recipient):
            return reply.recipient
        if reply.thread:
            return parse.other_participant(reply.thread, self.user_id)
        return None

    def send(self, reply: OutboundReply) -> SendResult:
        if reply.public:
            return self._send_post(reply)
        return self._send_dm(reply)

    def _send_post(self, reply: OutboundReply) -> SendResult:
        if not parse.is_id(reply.in_reply_to):
            raise ConnectorError("a public X reply needs the id of the post it answers", retryable=False)
        what = "posting the reply"
        body = {"text": reply.text, "reply": {"in_reply_to_tweet_id": reply.in_reply_to}}
        response = self._post_or_look(reply, "/2/tweets", body, what)
        if isinstance(response, SendResult):
            return response
        if response.status_code == 403 and Problem.of(response).duplicate_content:
            found = self.find_published(reply)  # an earlier attempt did publish it
            if found is not None:
                return found
        if response.status_code != 201:
            raise self._refused(response, what, reply)
        data = json_object(response, what).get("data")
        if not isinstance(data, dict) or not parse.is_id(data.get("id")):
            raise ConnectorError("X accepted the reply but returned no post id", retryable=False)
        return SendResult(external_id=str(data["id"]), raw={"status": 201, "data": data})

    def _send_dm(self, reply: OutboundReply) -> SendResult:
        participant = self._participant(reply)
        if participant is None:
            raise ConnectorError("no X user id to send this DM to", retryable=False)
        what = "sending the DM"
        path = f"/2/dm_conversations/with/{participant}/messages"
        response = self._post_or_look(reply, path, {"text": reply.text}, what)
        if isinstance(response, SendResult):
            return response
        if response.status_code != 201:
            raise self._refused(response, what, reply)
        data = json_object(response, what).get("data")
        if not isinstance(data, dict) or not data.get("dm_event_id"):
            raise ConnectorError("X accepted the DM but returned no dm_event_id", retryable=False)
        return SendResult(external_id=str(data["dm_event_id"]), raw={"status": 201, "data": data})

    def _post_or_look(
        self, reply: OutboundReply, path: str, body: dict[str, Any], what: str
    ) -> httpx.Response | SendResult:
        """POST once. When the outcome is unknown (timeout, dropped connection, 5xx), look for the reply
        before saying "retry": X has no idempotency key, and a retry of a post that landed duplicates it."""
        try:
            response = self._api().request("POST", path, auth="user", what=what, json_body=body)
        except ConnectorError as exc:
            if exc.retryable:
                return self._published_or(reply, exc)
            raise
        if response.status_code >= 500:
            return self._published_or(
                reply, error_for(response, what=what, auth="user", now=self.clock.now())
            )
        return response

    def _published_or(self, reply: OutboundReply, error: ConnectorError) -> SendResult:
        try:
            found = self.find_published(reply)
        except CaredeskError:
            found = None
        if found is None:
            raise error
        return found

    def _refused(self, response: httpx.Response, what: str, reply: OutboundReply) -> ConnectorError:
        error = error_for(response, what=what, auth="user", now=self.clock.now())
        if response.status_code == 403 and not error.retryable:
            problem = Problem.of(response)
            if reply.public and problem.duplicate_content:
                hint = "X refuses a post identical to one the brand already made: reword the reply"
            elif reply.public:
                hint = "the post may be deleted, protected or closed to replies: send a DM instead"
            else:
                hint = (
                    "the customer may not accept DMs from the brand account: reply publicly, "
                    "or ask them to send a DM first"
                )
            return ConnectorError(f"{error.message} ({hint})", retryable=False)
        return error

    # --- in-doubt sends ----------------------------------------------------------------------------

    def find_published(self, reply: OutboundReply) -> SendResult | None:
        """The brand's copy of this reply, if X has one: a post by the brand replying to the same post
        with the same visible text, or a DM from the brand in the same conversation with the same text,
        dated no earlier than when the reply was queued (minus LOOKUP_SKEW)."""
        since = self._queued_at(reply)
        if reply.public:
            return self._find_post(reply, since)
        return self._find_dm(reply, since)

    def _queued_at(self, reply: OutboundReply) -> datetime | None:
        value = reply.options.get("queued_at")
        if not isinstance(value, str):
            return None
        try:
            return datetime.fromisoformat(value) - LOOKUP_SKEW
        except ValueError:
            return None

    def _find_post(self, reply: OutboundReply, since: datetime | None) -> SendResult | None:
        params = {
            "max_results": "100",
            "exclude": "retweets",
            "tweet.fields": "created_at,referenced_tweets,display_text_range,conversation_id",
        }
        if since is not None:
            params["start_time"] = sync.iso(since)
        body, _ = self._api().get_json(
            f"/2/users/{self.user_id}/tweets",
            auth="user",
            what="looking for an already published reply",
            params=params,
            now=self.clock.now(),
        )
        for post in body.get("data") or []:
            if not isinstance(post, dict) or parse.replied_to(post) != reply.in_reply_to:
                continue
            text = parse.visible_text(str(post.get("text") or ""), post.get("display_text_range"))
            if _same_text(text, reply.text) and parse.is_id(post.get("id")):
                return SendResult(external_id=str(post["id"]), raw={"found": True, "data": post})
        return None

    def _find_dm(self, reply: OutboundReply, since: datetime | None) -> SendResult | None:
        participant = self._participant(reply)
        if participant is None:
            return None
        body, _ = self._api().get_json(
            f"/2/dm_conversations/with/{participant}/dm_events",
            auth="user",
            what="looking for an already sent DM",
            params={
                "max_results": "50",
                "event_types": "MessageCreate",
                "dm_event.fields": parse.DM_FIELDS,
            },
            now=self.clock.now(),
        )
        for event in body.get("data") or []:
            if not isinstance(event, dict) or str(event.get("sender_id")) != self.user_id:
                continue
            if since is not None and event.get("created_at"):
                try:
                    if parse.parse_time(event["created_at"]) < since:
                        continue
                except CaredeskError:
                    continue
            if _same_text(html.unescape(str(event.get("text") or "")), reply.text) and event.get("id"):
                return SendResult(external_id=str(event["id"]), raw={"found": True, "data": event})
        return None


def _section(cursor: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = cursor.get(key)
    return dict(value) if isinstance(value, dict) else {}


def _same_text(shown: str, sent: str) -> bool:
    """X rewrites links to t.co and may trim whitespace; compare what survives."""

    def norm(text: str) -> str:
        return " ".join(_URL.sub("<link>", text).split())

    return norm(shown) == norm(sent)
