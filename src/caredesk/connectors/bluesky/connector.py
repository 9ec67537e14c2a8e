"""Bluesky (AT Protocol) through its documented XRPC API, with plain httpx.

In (polling): mentions, replies and quotes from `app.bsky.notification.listNotifications`, the brand's own
replies from `app.bsky.feed.getAuthorFeed` (written in caredesk or in a Bluesky app: own posts never
notify), and direct messages from `chat.bsky.convo.getLog` (through the chat proxy). After the events and
the cursor are stored, `acknowledge()` marks the notifications seen with `updateSeen`.

Listening (`watch`): the watch rules' terms are searched with `app.bsky.feed.searchPosts` (see listen.py).

Out: a public reply is a `com.atproto.repo.createRecord` of an `app.bsky.feed.post` whose `reply` names
the answered post (parent, fetched with `app.bsky.feed.getPosts` for its cid) and the thread's root; a
private reply is `chat.bsky.convo.sendMessage` in the 1:1 conversation `getConvoForMembers` returns.
Bluesky has no idempotency keys, so after a crash mid-send `find_published()` looks for the reply among
the brand's recent posts, or the conversation's recent messages, before anything is sent again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar

import httpx

from caredesk.connectors import registry
from caredesk.connectors.base import ChannelContext, Connector, ConnectorSpec, FetchResult
from caredesk.connectors.bluesky.listen import plan, search_event, sort_key
from caredesk.connectors.bluesky.parse import (
    MESSAGE_VIEW,
    POST_COLLECTION,
    format_time,
    is_post_uri,
    log_event,
    notification_event,
    obj,
    own_reply_event,
    parse_time,
    strong_ref,
)
from caredesk.connectors.bluesky.richtext import detect_facets
from caredesk.connectors.bluesky.walk import GRACE, walk
from caredesk.connectors.bluesky.xrpc import NETWORK, SESSIONS, Xrpc
from caredesk.domain.clock import Clock
from caredesk.domain.errors import ConnectorError, InvalidInput, NotConfigured
from caredesk.domain.types import (
    Capability,
    InboundEvent,
    LengthRule,
    OutboundReply,
    ReplyContext,
    SendResult,
)
from caredesk.domain.watch import WatchSpec

DEFAULT_BASE_URL = "https://bsky.social"
REASONS = ("mention", "reply", "quote")
PAGE_LIMIT = 100  # the lexicons' maximum `limit`
DEFAULT_BACKFILL_DAYS = 7.0
FIND_PAGES = 3  # find_published looks at the brand's newest 300 posts


def _flag(value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() not in ("false", "0", "no", "off")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _items(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _is_did(value: str | None) -> bool:
    return bool(value) and str(value).startswith("did:")


def _notification_key(item: dict[str, Any]) -> tuple[str, str] | None:
    at, uri = item.get("indexedAt"), item.get("uri")
    return (at, uri) if isinstance(at, str) and isinstance(uri, str) else None


def _feed_key(item: dict[str, Any]) -> tuple[str, str] | None:
    post = obj(item.get("post"))
    reason = item.get("reason")
    uri = post.get("uri")
    if not isinstance(uri, str):
        return None
    if isinstance(reason, dict):  # a repost sorts by when it was reposted
        at = reason.get("indexedAt")
        return (at, f"{uri}#repost") if isinstance(at, str) else None
    at = post.get("indexedAt")
    return (at, uri) if isinstance(at, str) else None


@registry.register
class BlueskyConnector(Connector):
    spec = ConnectorSpec(
        key="bluesky",
        display_name="Bluesky",
        network="bluesky",
        capabilities=frozenset(
            {Capability.POLL, Capability.LISTEN, Capability.PUBLIC_REPLY, Capability.PRIVATE_REPLY}
        ),
        length_rule=LengthRule(public="bluesky", private="bluesky_dm"),
        config_fields=("base_url", "handle", "did", "dms", "own_replies", "backfill_days"),
        credential_fields=("app_password",),
        idempotent_send=False,
        poll_seconds=60,
        docs="docs/connectors.md",
    )
    max_pages: ClassVar[int] = 10  # pages of each list read per fetch; the rest waits for the next fetch
    watch_pages: ClassVar[int] = 5  # pages of each search read per watch

    def __init__(self, channel: ChannelContext, *, http: httpx.Client, clock: Clock) -> None:
        super().__init__(channel, http=http, clock=clock)
        self._xrpc: Xrpc | None = None
        self._handles: dict[str, str | None] = {}

    # --- configuration ---------------------------------------------------------------------------------

    @property
    def did(self) -> str:
        value = self.channel.config.get("did") or self.channel.own_account_id
        if not isinstance(value, str) or not value.startswith("did:"):
            raise NotConfigured(
                "this Bluesky channel has no valid 'did' (the brand account's DID, e.g. did:plc:...)"
            )
        return value

    @property
    def dms(self) -> bool:
        return _flag(self.channel.config.get("dms"), True)

    def _backfill(self) -> timedelta:
        try:
            days = float(self.channel.config.get("backfill_days", DEFAULT_BACKFILL_DAYS))
        except (TypeError, ValueError):
            days = DEFAULT_BACKFILL_DAYS
        return timedelta(days=max(0.0, days))

    def _client(self) -> Xrpc:
        if self._xrpc is None:
            password = self.channel.credentials.get("app_password")
            if not isinstance(password, str) or not password:
                raise NotConfigured("this Bluesky channel has no app_password stored")
            base_url = _text(self.channel.config.get("base_url")) or DEFAULT_BASE_URL
            if not base_url.startswith(("https://", "http://")):
                raise NotConfigured(f"Bluesky base_url must be an http(s) URL, not {base_url!r}")
            identifier = _text(self.channel.config.get("handle")) or self.did
            self._xrpc = Xrpc(
                self.http, self.clock, base_url=base_url, identifier=identifier, password=password
            )
        return self._xrpc

    # --- verify ----------------------------------------------------------------------------------------

    def verify(self) -> None:
        session = self._client().login()
        if session.did != self.did:
            raise ConnectorError(
                f"{NETWORK}: the app password signs in as {session.did} (@{session.handle}), but this "
                f"channel is set up for {self.did}: correct the channel's did, or store the brand "
                "account's app password",
                retryable=False,
            )
        if self.dms:  # DMs need an app password created with DM access: find out now, not at first poll
            self._client().call("chat.bsky.convo.listConvos", params={"limit": 1}, chat=True)

    # --- in --------------------------------------------------------------------------------------------

    def fetch(self, cursor: dict[str, Any]) -> FetchResult:
        xrpc = self._client()
        did = self.did
        floor = self.clock.now() - self._backfill()
        new_cursor = dict(cursor)
        events: list[InboundEvent] = []
        complete = True

        def notifications(page_cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
            params: dict[str, Any] = {"reasons": list(REASONS), "limit": PAGE_LIMIT}
            if page_cursor:
                params["cursor"] = page_cursor
            data = xrpc.call("app.bsky.notification.listNotifications", params=params)
            return _items(data.get("notifications")), _text(data.get("cursor"))

        state = cursor.get("notifications")
        walked = walk(
            notifications,
            _notification_key,
            obj(state),
            floor=floor,
            max_pages=self.max_pages,
        )
        complete = complete and walked.complete
        new_cursor["notifications"] = walked.state
        for item in walked.items:
            if item.get("reason") in REASONS and (event := notification_event(item, did)) is not None:
                events.append(event)

        if _flag(self.channel.config.get("own_replies"), True):

            def own_posts(page_cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
                params: dict[str, Any] = {"actor": did, "filter": "posts_with_replies", "limit": PAGE_LIMIT}
                if page_cursor:
                    params["cursor"] = page_cursor
                data = xrpc.call("app.bsky.feed.getAuthorFeed", params=params)
                return _items(data.get("feed")), _text(data.get("cursor"))

            state = cursor.get("own_posts")
            walked = walk(
                own_posts,
                _feed_key,
                obj(state),
                floor=floor,
                max_pages=self.max_pages,
            )
            complete = complete and walked.complete
            new_cursor["own_posts"] = walked.state
            events.extend(e for e in (own_reply_event(i, did) for i in walked.items) if e is not None)

        if self.dms:
            rev, chat_complete, messages = self._fetch_chat(_text(cursor.get("chat")))
            complete = complete and chat_complete
            events.extend(e for e in messages if e.created_at >= floor)
            if rev:
                new_cursor["chat"] = rev

        events.sort(key=lambda e: e.created_at)
        return FetchResult(events=events, cursor=new_cursor, more=not complete)

    def _fetch_chat(self, rev: str | None) -> tuple[str | None, bool, list[InboundEvent]]:
        """New chat log entries after `rev`, oldest first: (new rev, read to the end, message events)."""
        events: list[InboundEvent] = []
        for _ in range(self.max_pages):
            data = self._client().call(
                "chat.bsky.convo.getLog", params={"cursor": rev} if rev else {}, chat=True
            )
            logs = _items(data.get("logs"))
            next_rev = _text(data.get("cursor"))
            events.extend(e for e in (log_event(entry, self.did) for entry in logs) if e is not None)
            if not logs or not next_rev or next_rev == rev:
                return next_rev or rev, True, events
            rev = next_rev
        return rev, False, events

    # --- listening -------------------------------------------------------------------------------------

    def watch(self, rules: Sequence[WatchSpec], cursor: dict[str, Any]) -> FetchResult:
        """Posts matching the watch rules, from `app.bsky.feed.searchPosts` (one query per term, newest
        first). Cursor: {"queries": {key: walk state}}; a query seen for the first time reads only its
        newest page (no older than backfill_days); queries no rule asks for any more are forgotten."""
        did = self.did
        old = obj(cursor.get("queries"))
        now = self.clock.now()
        states: dict[str, Any] = {}
        events: list[InboundEvent] = []
        seen: set[str] = set()
        complete = True
        for key, (q, lang) in plan(rules).items():
            posts, states[key], query_complete = self._search(q, lang, obj(old.get(key)), now)
            complete = complete and query_complete
            for post in posts:
                event = search_event(post, did)
                if event is not None and event.external_id not in seen:
                    seen.add(event.external_id)
                    events.append(event)
        events.sort(key=lambda e: e.created_at)
        return FetchResult(events=events, cursor={"queries": states}, more=not complete)

    def _search(
        self, q: str, lang: str | None, state: dict[str, Any], now: datetime
    ) -> tuple[list[dict[str, Any]], dict[str, Any], bool]:
        """New posts of one search, newest first: (posts, new state, read to the mark).

        State: the walk's mark ("newest", "recent", "resume") plus, after a first watch that read only the
        newest page, "floor": the oldest post time of that page; older posts were history when listening
        began and are not brought in (kept while the walk could still reach below it)."""
        xrpc = self._client()
        first = not state
        newest = parse_time(state.get("newest"))
        floor = parse_time(state.get("floor"))
        since = newest - GRACE if newest is not None else now - self._backfill()
        if floor is not None and floor > since:
            since = floor

        def page(page_cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
            params: dict[str, Any] = {
                "q": q,
                "sort": "latest",
                "since": format_time(since),
                "limit": PAGE_LIMIT,
            }
            if lang:
                params["lang"] = lang
            if page_cursor:
                params["cursor"] = page_cursor
            data = xrpc.call("app.bsky.feed.searchPosts", params=params)
            # A first watch reads the newest page only: no next page.
            return _items(data.get("posts")), None if first else _text(data.get("cursor"))

        walked = walk(page, sort_key, state, floor=since, max_pages=self.watch_pages)
        times = {id(p): parse_time(k[0]) if (k := sort_key(p)) else None for p in walked.items}
        posts = [p for p in walked.items if (t := times[id(p)]) is not None and t >= since]
        # A first search that found nothing still marks "now", so the next watch reads everything posted
        # since, not only the newest page.
        new_state = dict(walked.state) or {"newest": format_time(now), "recent": []}
        if first:
            floor = min((t for t in times.values() if t is not None), default=None)
        top = parse_time(new_state.get("newest"))
        if floor is not None and top is not None and top - GRACE < floor:
            new_state["floor"] = format_time(floor)
        return posts, new_state, walked.complete

    def acknowledge(self, cursor: dict[str, Any]) -> None:
        """Mark notifications seen up to the newest one stored (not "now": later ones stay unread in the
        Bluesky apps). Skipped while a long backlog is still being read, and when nothing changed."""
        state = cursor.get("notifications")
        if not isinstance(state, dict) or state.get("resume") or not _text(state.get("newest")):
            return
        seen = str(state["newest"])
        xrpc = self._client()
        if SESSIONS.seen(xrpc.key) == seen:
            return
        xrpc.call("app.bsky.notification.updateSeen", body={"seenAt": seen})
        SESSIONS.mark_seen(xrpc.key, seen)

    # --- out -------------------------------------------------------------------------------------------

    def prepare(self, reply: OutboundReply, context: ReplyContext) -> OutboundReply:
        if reply.public:
            if reply.in_reply_to is None:
                raise InvalidInput(
                    "a public Bluesky reply answers a post, and this conversation has no customer post to "
                    "answer: reply privately (direct message) instead"
                )
            if not is_post_uri(reply.in_reply_to):
                raise InvalidInput(
                    "the message being answered is a Bluesky direct message, not a post: reply privately, "
                    "or answer one of the customer's posts"
                )
            return reply
        if not self.dms:
            raise InvalidInput(
                "direct messages are turned off for this Bluesky channel (config dms=false): reply publicly, "
                "or turn them on with an app password that has DM access"
            )
        if not _is_did(reply.recipient) and not reply.thread:
            raise InvalidInput(
                "there is no Bluesky account to message in this conversation (no customer DID): reply "
                "publicly instead"
            )
        return reply

    def send(self, reply: OutboundReply) -> SendResult:
        return self._send_post(reply) if reply.public else self._send_message(reply)

    def _post_view(self, uri: str) -> dict[str, Any] | None:
        data = self._client().call("app.bsky.feed.getPosts", params={"uris": [uri]})
        return next((p for p in _items(data.get("posts")) if p.get("uri") == uri), None)

    def _resolve_handle(self, handle: str) -> str | None:
        if handle not in self._handles:
            try:
                data = self._client().call("com.atproto.identity.resolveHandle", params={"handle": handle})
            except ConnectorError as exc:
                if exc.retryable:
                    raise
                data = {}  # no such handle: the text stays plain, as in the Bluesky apps
            self._handles[handle] = _text(data.get("did"))
        return self._handles[handle]

    def _send_post(self, reply: OutboundReply) -> SendResult:
        uri = reply.in_reply_to
        if uri is None or not is_post_uri(uri):
            raise ConnectorError(f"{NETWORK}: a public reply needs the post it answers", retryable=False)
        post = self._post_view(uri)
        parent = strong_ref(post)
        if post is None or parent is None:
            raise ConnectorError(
                f"{NETWORK}: the post being answered no longer exists or is hidden from the brand (deleted, "
                "or a block between the accounts), so the reply cannot go under it: reply privately instead",
                retryable=False,
            )
        viewer = obj(post.get("viewer"))
        if viewer.get("replyDisabled"):
            raise ConnectorError(
                f"{NETWORK}: the author limited who can reply to this thread, and the brand may not: reply "
                "privately instead",
                retryable=False,
            )
        record_of_parent = obj(post.get("record"))
        thread = obj(record_of_parent.get("reply"))
        root = strong_ref(thread.get("root")) or parent
        record: dict[str, Any] = {
            "$type": POST_COLLECTION,
            "text": reply.text,
            "createdAt": format_time(self.clock.now()),
        }
        langs = reply.options.get("langs")
        if isinstance(langs, list) and langs and all(isinstance(x, str) for x in langs):
            record["langs"] = langs[:3]
        record["reply"] = {"root": root, "parent": parent}
        facets = detect_facets(reply.text, self._resolve_handle)
        if facets:
            record["facets"] = facets
        data = self._client().call(
            "com.atproto.repo.createRecord",
            body={"repo": self.did, "collection": POST_COLLECTION, "record": record},
        )
        created = _text(data.get("uri"))
        if created is None:
            raise ConnectorError(
                f"{NETWORK} accepted the post but returned no uri; check the brand's profile before retrying",
                retryable=False,
            )
        return SendResult(external_id=created, raw={"uri": created, "cid": data.get("cid"), "record": record})

    def _convo_id(self, reply: OutboundReply) -> str:
        if reply.recipient and _is_did(reply.recipient):
            data = self._client().call(
                "chat.bsky.convo.getConvoForMembers", params={"members": [reply.recipient]}, chat=True
            )
            convo = obj(data.get("convo"))
            convo_id = _text(convo.get("id"))
            if convo_id is None:
                raise ConnectorError(f"{NETWORK} returned no conversation for the customer", retryable=True)
            return convo_id
        if reply.thread:
            return reply.thread
        raise ConnectorError(f"{NETWORK}: no customer account or conversation to message", retryable=False)

    def _send_message(self, reply: OutboundReply) -> SendResult:
        convo_id = self._convo_id(reply)
        message: dict[str, Any] = {"text": reply.text}
        facets = detect_facets(reply.text, self._resolve_handle)
        if facets:
            message["facets"] = facets
        data = self._client().call(
            "chat.bsky.convo.sendMessage", body={"convoId": convo_id, "message": message}, chat=True
        )
        message_id = _text(data.get("id"))
        if message_id is None:
            raise ConnectorError(
                f"{NETWORK} accepted the message but returned no id; check the conversation before retrying",
                retryable=False,
            )
        return SendResult(external_id=message_id, raw={"convoId": convo_id, "id": message_id})

    # --- after a crash mid-send ------------------------------------------------------------------------

    def find_published(self, reply: OutboundReply) -> SendResult | None:
        return self._find_post(reply) if reply.public else self._find_message(reply)

    def _find_post(self, reply: OutboundReply) -> SendResult | None:
        """The brand's post with the same text under the same parent, among its newest posts."""
        if not reply.in_reply_to:
            return None
        page_cursor: str | None = None
        for _ in range(FIND_PAGES):
            params: dict[str, Any] = {"actor": self.did, "filter": "posts_with_replies", "limit": PAGE_LIMIT}
            if page_cursor:
                params["cursor"] = page_cursor
            data = self._client().call("app.bsky.feed.getAuthorFeed", params=params)
            feed = _items(data.get("feed"))
            for item in feed:
                post = obj(item.get("post"))
                record = obj(post.get("record"))
                author = obj(post.get("author"))
                thread = obj(record.get("reply"))
                parent = strong_ref(thread.get("parent"))
                if (
                    item.get("reason") is None
                    and author.get("did") == self.did
                    and parent is not None
                    and parent["uri"] == reply.in_reply_to
                    and record.get("text") == reply.text
                    and isinstance(post.get("uri"), str)
                ):
                    return SendResult(
                        external_id=post["uri"],
                        raw={"uri": post["uri"], "cid": post.get("cid"), "found": True},
                    )
            page_cursor = _text(data.get("cursor"))
            if not feed or page_cursor is None:
                break
        return None

    def _find_message(self, reply: OutboundReply) -> SendResult | None:
        """The brand's message with the same text in the conversation, newer than the message answered."""
        try:
            convo_id = self._convo_id(reply)
        except ConnectorError as exc:
            if exc.retryable:
                raise
            return None  # no conversation can be had: nothing was sent there
        data = self._client().call(
            "chat.bsky.convo.getMessages", params={"convoId": convo_id, "limit": PAGE_LIMIT}, chat=True
        )
        for message in _items(data.get("messages")):  # newest first
            if reply.in_reply_to and message.get("id") == reply.in_reply_to:
                break
            sender = obj(message.get("sender"))
            if (
                message.get("$type", MESSAGE_VIEW) == MESSAGE_VIEW
                and sender.get("did") == self.did
                and message.get("text") == reply.text
                and isinstance(message.get("id"), str)
            ):
                return SendResult(
                    external_id=message["id"], raw={"convoId": convo_id, "id": message["id"], "found": True}
                )
        return None
