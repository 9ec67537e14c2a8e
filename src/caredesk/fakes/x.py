"""A local stand-in for the X API v2 (and its Account Activity webhooks), for the demo and the tests.

It speaks the documented API (docs/connectors.md, section X): the same paths, parameters, JSON shapes,
status codes, problem+json errors, paging tokens, `since_id`/`until_id`, field selection, rate-limit
headers (`x-rate-limit-limit/-remaining/-reset`, no Retry-After) and 429s when a 15-minute window is spent.
Implemented endpoints:

    GET  /2/users/me                                      (user token)
    GET  /2/users/:id/mentions                            (app or user token)
    GET  /2/users/:id/tweets                              (app or user token)
    GET  /2/dm_events                                     (user token)
    GET  /2/dm_conversations/with/:participant_id/dm_events (user token)
    POST /2/tweets                                        (user token) -> 201
    POST /2/dm_conversations/with/:participant_id/messages (user token) -> 201
    GET  /2/tweets/search/stream/rules                    (app token)
    POST /2/tweets/search/stream/rules                    (app token; add / delete, dry_run, delete_all)
    GET  /2/tweets/search/stream                          (app token; a real streaming answer)

The filtered stream sends, as newline-delimited JSON with blank `\r\n` keep-alives, the posts created
after the connection opened whose text matches one of the app's rules (a subset of X's rule syntax: terms,
@handles, #tags, "quoted phrases", OR, parentheses, -negation, lang:xx, is:retweet, is:reply, from:name).
As on X, what is posted while nobody is connected is never sent. `post_on_connect()` (or `/_fake/posts`
with "on_stream_connect": true) holds a post back until the next stream connection opens, so a test can
have a post arrive while caredesk is connected. One connection at a time (a second one gets X's 429).

It plays the customers too: `post()` and `dm()` (or `POST /_fake/posts`, `/_fake/dms`) make activity the
connector then reads, and `push()` delivers Account Activity payloads signed with the consumer secret,
including the brand's own posts and DMs, as X does. `fail_next()` (or `POST /_fake/fail`) makes the next
reads or writes answer 429 (with X's headers), 5xx, or hang past the client's timeout (recording nothing;
or, with -1, after recording: the answer is lost).
`naming="post"` answers with the v2.167 names (`referenced_posts`, `edit_history_post_ids`, ...).
State is in memory and guarded by one lock.
"""

from __future__ import annotations

import asyncio
import base64
import html
import itertools
import json
import re
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse

from caredesk.connectors import length
from caredesk.connectors.x import signing

TWEPOCH_MS = 1288834974657
WINDOW = 900  # X's rate-limit windows are 15 minutes
MENTIONS_DEPTH = 800  # the reachable depth of the mentions timeline
DM_DAYS = 30  # GET /2/dm_events covers the last 30 days
PROBLEM = "https://api.x.com/2/problems/"

# Requests per 15-minute window, per endpoint and kind of token (docs.x.com rate limits).
LIMITS: dict[str, dict[str, int]] = {
    "me": {"user": 75},
    "mentions": {"app": 450, "user": 300},
    "timeline": {"app": 1500, "user": 900},
    "dm_read": {"user": 300},
    "tweet_create": {"user": 100},
    "dm_create": {"user": 200},
    "rules_read": {"app": 450},
    "rules_write": {"app": 100},
    "stream_connect": {"app": 50},
}
RULE_MAX = 1024  # characters per rule
RULES_MAX = 1000  # rules per app

TWEET_FIELDS = {
    "attachments", "author_id", "context_annotations", "conversation_id", "created_at", "display_text_range",
    "edit_controls", "edit_history_tweet_ids", "edit_history_post_ids", "entities", "geo", "id",
    "in_reply_to_user_id", "lang", "possibly_sensitive", "public_metrics", "referenced_tweets",
    "referenced_posts", "reply_settings", "source", "text", "withheld",
}  # fmt: skip
TWEET_EXPANSIONS = {
    "author_id", "referenced_tweets.id", "referenced_tweets.id.author_id", "referenced_posts",
    "in_reply_to_user_id", "entities.mentions.username", "attachments.media_keys", "edit_history_tweet_ids",
    "edit_history_post_ids",
}  # fmt: skip
USER_FIELDS = {
    "created_at", "description", "entities", "id", "location", "name", "pinned_tweet_id", "profile_image_url",
    "protected", "public_metrics", "url", "username", "verified", "withheld",
}  # fmt: skip
DM_FIELDS = {
    "attachments", "created_at", "dm_conversation_id", "entities", "event_type", "id", "participant_ids",
    "referenced_tweets", "referenced_posts", "sender_id", "text",
}  # fmt: skip
DM_EXPANSIONS = {
    "sender_id",
    "participant_ids",
    "attachments.media_keys",
    "referenced_tweets.id",
    "referenced_posts",
}
COMMON_PARAMS = {"media.fields", "place.fields", "poll.fields", "user.fields", "expansions"}
# Body keys of POST /2/tweets (CreatePostsRequest, additionalProperties: false).
TWEET_BODY = {
    "card_uri", "community_id", "direct_message_deep_link", "edit_options", "for_super_followers_only", "geo",
    "made_with_ai", "media", "nullcast", "paid_partnership", "poll", "quote_tweet_id", "reply",
    "reply_settings", "share_with_followers", "text",
}  # fmt: skip
REPLY_BODY = {"in_reply_to_tweet_id", "exclude_reply_user_ids", "auto_populate_reply_metadata"}
RENAMES = {
    "referenced_tweets": "referenced_posts",
    "edit_history_tweet_ids": "edit_history_post_ids",
    "tweets": "posts",
    "tweet_count": "post_count",
}
_ID = re.compile(r"^[0-9]{1,19}$")
_MENTION = re.compile(r"(?<![\w@])@(\w{1,15})")


def _escape(text: str) -> str:
    """X escapes &, < and > in post text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _v1_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%a %b %d %H:%M:%S +0000 %Y")


def conversation_key(a: str, b: str) -> str:
    low, high = sorted((a, b), key=int)
    return f"{low}-{high}"


@dataclass
class User:
    id: str
    username: str
    name: str
    followers: int = 0
    accepts_dms: bool = True
    created_at: datetime = field(default_factory=lambda: datetime(2015, 3, 1, tzinfo=UTC))


@dataclass
class Tweet:
    id: str
    author_id: str
    text: str  # the full text, unescaped, with the auto-populated reply mentions in front
    created_at: datetime
    conversation_id: str
    display_start: int = 0  # where the visible text starts (after the reply mentions)
    replied_to: str | None = None
    in_reply_to_user_id: str | None = None
    mentions: list[str] = field(default_factory=list)  # user ids mentioned in the text
    via_api: bool = False  # created through POST /2/tweets (what caredesk published)
    lang: str = "en"
    retweet_of: str | None = None  # a repost of this post


@dataclass
class DmEvent:
    id: str
    sender_id: str
    recipient_id: str
    text: str
    created_at: datetime
    via_api: bool = False

    @property
    def conversation_id(self) -> str:
        return conversation_key(self.sender_id, self.recipient_id)


class Refusal(Exception):
    """An X error answer: status, problem+json body (or a plain JSON body), headers."""

    def __init__(
        self, status: int, body: dict[str, Any], media_type: str = "application/problem+json"
    ) -> None:
        super().__init__(body.get("detail") or body.get("title"))
        self.status = status
        self.body = body
        self.media_type = media_type


def invalid_request(message: str, parameters: dict[str, list[str]] | None = None) -> Refusal:
    error: dict[str, Any] = {"message": message}
    if parameters is not None:
        error["parameters"] = parameters
    return Refusal(
        400,
        {
            "errors": [error],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": PROBLEM + "invalid-request",
        },
    )


def forbidden(detail: str) -> Refusal:
    return Refusal(403, {"detail": detail, "type": "about:blank", "title": "Forbidden", "status": 403})


def unsupported_auth() -> Refusal:
    return Refusal(
        403,
        {
            "title": "Unsupported Authentication",
            "detail": "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  "
            "Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].",
            "type": PROBLEM + "unsupported-authentication",
            "status": 403,
        },
    )


# --- filtered-stream rules: a subset of X's syntax ----------------------------------------------------

_RULE_TOKEN = re.compile(r'\s*(-?"[^"]*"|-?\(|\)|-?[^\s()"]+)')
_OPERATORS = {"lang", "is", "from", "to"}
Match = Callable[["Tweet", str], bool]  # (post, its author's username) -> matched


class RuleError(ValueError):
    """Why a rule is not valid, worded as X words it."""


def _word(term: str) -> Match:
    needle = term.casefold()
    words = r"\s+".join(re.escape(w) for w in needle.split())
    pattern = re.compile(rf"(?<![\w@#$]){words}(?!\w)")
    return lambda tweet, _name: pattern.search(tweet.text.casefold()) is not None


def _operator(name: str, value: str) -> Match:
    if name == "lang":
        if not re.fullmatch(r"[a-z]{2,3}", value):
            raise RuleError(f"Invalid language: {value}")
        return lambda tweet, _name: tweet.lang == value
    if name == "is":
        if value == "retweet":
            return lambda tweet, _name: tweet.retweet_of is not None
        if value == "reply":
            return lambda tweet, _name: tweet.replied_to is not None
        raise RuleError(f"Reference to invalid operator 'is:{value}'")
    if name == "from":
        return lambda _tweet, author: author.casefold() == value.lstrip("@").casefold()
    raise RuleError(f"Reference to invalid operator '{name}'")


class _RuleParser:
    """or := and ("OR" and)*; and := unit+; unit := ["-"] (group | "phrase" | term | op:value).
    As on X, AND binds tighter than OR, and a rule needs at least one positive term or phrase."""

    def __init__(self, value: str) -> None:
        self.tokens: list[str] = []
        pos = 0
        while pos < len(value):
            found = _RULE_TOKEN.match(value, pos)
            if found is None:
                if value[pos:].strip():
                    raise RuleError("Unbalanced quotes in the rule")
                break
            self.tokens.append(found.group(1))
            pos = found.end()
        self.at = 0
        self.positive = False

    def parse(self) -> Match:
        if not self.tokens:
            raise RuleError("The rule is empty")
        match = self._or()
        if self.at != len(self.tokens):
            raise RuleError(f"Unexpected '{self.tokens[self.at]}'")
        if not self.positive:
            raise RuleError("Rules must contain a non-negation term (at least one positive term or phrase)")
        return match

    def _or(self) -> Match:
        parts = [self._and()]
        while self.at < len(self.tokens) and self.tokens[self.at] == "OR":
            self.at += 1
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else (lambda t, a: any(p(t, a) for p in parts))

    def _and(self) -> Match:
        parts: list[Match] = []
        while self.at < len(self.tokens) and self.tokens[self.at] not in (")", "OR"):
            parts.append(self._unit())
        if not parts:
            raise RuleError("Ambiguous use of OR, or an empty group")
        return parts[0] if len(parts) == 1 else (lambda t, a: all(p(t, a) for p in parts))

    def _unit(self) -> Match:
        token = self.tokens[self.at]
        self.at += 1
        negated = token.startswith("-") and len(token) > 1
        body = token[1:] if negated else token
        match: Match
        if body == "(":
            match = self._or()
            if self.at >= len(self.tokens) or self.tokens[self.at] != ")":
                raise RuleError("Missing closing parenthesis")
            self.at += 1
        elif body.startswith('"'):
            phrase = body.strip('"').strip()
            if not phrase:
                raise RuleError("Empty quoted phrase")
            match = _word(" ".join(phrase.split()))
            self.positive = self.positive or not negated
        elif ":" in body and body.split(":", 1)[0] in _OPERATORS | {"has", "place", "url", "bio"}:
            name, value = body.split(":", 1)
            match = _operator(name, value)
        elif body == ")":
            raise RuleError("Unbalanced parentheses")
        else:
            match = _word(body)
            self.positive = self.positive or not negated
        if negated:
            inner = match
            return lambda t, a: not inner(t, a)
        return match


def compile_rule(value: str) -> Match:
    """The matcher of a rule value; RuleError when X would refuse it."""
    if len(value) > RULE_MAX:
        raise RuleError(f"Rule is too long: {len(value)} characters, at most {RULE_MAX}")
    return _RuleParser(value).parse()


@dataclass
class StreamRule:
    id: str
    value: str
    tag: str | None
    match: Match

    def json(self) -> dict[str, str]:
        out = {"id": self.id, "value": self.value}
        if self.tag is not None:
            out["tag"] = self.tag
        return out


class FakeX:
    def __init__(
        self,
        *,
        brand_username: str = "acme",
        brand_id: str = "783214",
        bearer_token: str | None = None,
        user_token: str | None = None,
        consumer_secret: str | None = None,
        naming: str = "tweet",
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.bearer_token = bearer_token or "app-" + secrets.token_urlsafe(24)
        self.user_token = user_token or "user-" + secrets.token_urlsafe(24)
        self.consumer_secret = consumer_secret or secrets.token_urlsafe(32)
        self.naming = naming
        self.now = now or (lambda: datetime.now(UTC))
        self.users: dict[str, User] = {}
        self.tweets: dict[str, Tweet] = {}
        self.dm_events: dict[str, DmEvent] = {}
        self.brand = User(brand_id, brand_username, brand_username.title())
        self.users[brand_id] = self.brand
        # Test knobs: answers to give before serving (status codes, 0 = hang), per kind of request.
        self.failures: dict[str, list[int]] = {"read": [], "write": [], "stream": []}
        self.hang_seconds = 3.0
        self.reset_in = 30  # seconds until the window resets, on a forced 429
        # X may return fewer results than max_results while more exist; this caps every page.
        self.page_cap: int | None = None
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # (method, path, query) served
        self._windows: dict[tuple[str, str], tuple[int, int]] = {}  # (bucket, token kind) -> (start, used)
        self._seq = itertools.count(1)
        self._user_ids = itertools.count(2244994945)
        self._lock = threading.RLock()
        # Filtered stream: the app's rules, posts in creation order, posts held back until a connection.
        self.rules: dict[str, StreamRule] = {}
        self._order: list[str] = []
        self._on_connect: list[tuple[str, str, dict[str, Any]]] = []
        self.stream_connections = 0
        self.stream_keepalive = 0.5  # seconds between blank keep-alive lines (X: 20 s)
        self.streamed: list[str] = []  # ids of the posts sent on a stream, in order
        self.app = self._build()

    # --- the customers' side (Python API) ----------------------------------------------------------

    def _snowflake(self, at: datetime) -> str:
        millis = int(at.timestamp() * 1000) - TWEPOCH_MS
        return str((millis << 22) | (next(self._seq) & 0x3FFFFF))

    def user(self, username: str, *, name: str | None = None, followers: int = 0) -> User:
        """The user with this handle, created on first use."""
        with self._lock:
            for user in self.users.values():
                if user.username.lower() == username.lower():
                    return user
            user = User(str(next(self._user_ids)), username, name or username.title(), followers)
            self.users[user.id] = user
            return user

    def _resolve(self, who: str) -> User:
        return self.users[who] if who in self.users else self.user(who)

    def _by_username(self, username: str) -> User | None:
        return next((u for u in self.users.values() if u.username.lower() == username.lower()), None)

    def post(
        self,
        author: str,
        text: str,
        *,
        reply_to: str | None = None,
        at: datetime | None = None,
        exclude_reply_user_ids: list[str] | None = None,
        via_api: bool = False,
        lang: str = "en",
        retweet_of: str | None = None,
    ) -> Tweet:
        """`author` (a username or user id) posts `text`, as a reply to `reply_to` if given. A reply's
        text starts with the auto-populated @mentions (the parent's author and those it replied to)."""
        with self._lock:
            user = self._resolve(author)
            created = at or self.now()
            tweet_id = self._snowflake(created)
            prefix, parent = "", None
            if reply_to is not None:
                parent = self.tweets[reply_to]
                names: list[str] = []
                for uid in [parent.author_id, *self._prefix_mentions(parent)]:
                    if uid != user.id and uid not in names and uid not in (exclude_reply_user_ids or []):
                        names.append(uid)
                prefix = "".join(f"@{self.users[uid].username} " for uid in names)
            full = prefix + text
            mentioned = []
            for name in _MENTION.findall(full):
                found = self._by_username(name)
                if found is not None and found.id not in mentioned:
                    mentioned.append(found.id)
            tweet = Tweet(
                id=tweet_id,
                author_id=user.id,
                text=full,
                created_at=created,
                conversation_id=parent.conversation_id if parent else tweet_id,
                display_start=len(prefix),
                replied_to=parent.id if parent else None,
                in_reply_to_user_id=parent.author_id if parent else None,
                mentions=mentioned,
                via_api=via_api,
                lang=lang,
                retweet_of=retweet_of,
            )
            self.tweets[tweet_id] = tweet
            self._order.append(tweet_id)
            return tweet

    def retweet(self, author: str, tweet_id: str) -> Tweet:
        """`author` reposts a post: X's text is "RT @name: <text>", in the original's language."""
        with self._lock:
            original = self.tweets[tweet_id]
            name = self.users[original.author_id].username
            text = f"RT @{name}: {original.text[original.display_start :]}"
            return self.post(author, text, lang=original.lang, retweet_of=original.id)

    def post_on_connect(self, author: str, text: str, **options: Any) -> None:
        """Hold a post back until the next filtered-stream connection opens, then post it (so it is
        created while that connection is open, and sent on it if it matches a rule)."""
        with self._lock:
            self._on_connect.append((author, text, options))

    def stream_rules(self) -> list[dict[str, str]]:
        with self._lock:
            return [r.json() for r in self.rules.values()]

    def _prefix_mentions(self, tweet: Tweet) -> list[str]:
        ids = []
        for name in _MENTION.findall(tweet.text[: tweet.display_start]):
            found = self._by_username(name)
            if found is not None:
                ids.append(found.id)
        return ids

    def brand_post(self, text: str, *, at: datetime | None = None) -> Tweet:
        """The brand posts outside caredesk (an announcement customers reply to)."""
        return self.post(self.brand.id, text, at=at)

    def dm(self, sender: str, text: str, *, to: str | None = None, at: datetime | None = None) -> DmEvent:
        """`sender` (username or id) sends a DM to `to` (default: the brand)."""
        with self._lock:
            user = self._resolve(sender)
            recipient = self._resolve(to) if to else self.brand
            created = at or self.now()
            event = DmEvent(self._snowflake(created), user.id, recipient.id, text, created)
            self.dm_events[event.id] = event
            return event

    def published(self) -> list[dict[str, Any]]:
        """What the brand published through the API, oldest first."""
        with self._lock:
            out: list[tuple[int, dict[str, Any]]] = []
            for t in self.tweets.values():
                if t.via_api:
                    item = {
                        "id": t.id,
                        "kind": "post",
                        "text": t.text,
                        "in_reply_to": t.replied_to,
                        "recipient": t.in_reply_to_user_id,
                        "created_at": _iso(t.created_at),
                    }
                    out.append((int(t.id), item))
            for e in self.dm_events.values():
                if e.via_api:
                    item = {
                        "id": e.id,
                        "kind": "dm",
                        "text": e.text,
                        "in_reply_to": None,
                        "recipient": e.recipient_id,
                        "dm_conversation_id": e.conversation_id,
                        "created_at": _iso(e.created_at),
                    }
                    out.append((int(e.id), item))
            return [item for _, item in sorted(out, key=lambda pair: pair[0])]

    def fail_next(self, *codes: int, on: str = "read") -> None:
        """Make the next requests of a kind ("read": GETs, "write": POSTs, "stream": filtered-stream
        connections, where 429 is X's too-many-connections answer) answer these statuses first;
        0 hangs for `hang_seconds` and records nothing; -1 does the request, then hangs (the answer is
        lost: a post that landed although the client saw a timeout)."""
        with self._lock:
            self.failures[on].extend(codes)

    # --- Account Activity webhooks -----------------------------------------------------------------

    def activity(self, object_id: str) -> dict[str, Any]:
        """The Account Activity payload X delivers for one post or DM event involving the brand."""
        with self._lock:
            if object_id in self.tweets:
                tweet = self.tweets[object_id]
                payload: dict[str, Any] = {
                    "for_user_id": self.brand.id,
                    "tweet_create_events": [self._v1_tweet(tweet)],
                }
                if tweet.author_id != self.brand.id:
                    payload["user_has_blocked"] = False
                return payload
            event = self.dm_events[object_id]
            return {
                "for_user_id": self.brand.id,
                "direct_message_events": [
                    {
                        "type": "message_create",
                        "id": event.id,
                        "created_timestamp": str(int(event.created_at.timestamp() * 1000)),
                        "message_create": {
                            "target": {"recipient_id": event.recipient_id},
                            "sender_id": event.sender_id,
                            "message_data": {
                                "text": event.text,
                                "entities": {"hashtags": [], "symbols": [], "urls": [], "user_mentions": []},
                            },
                        },
                    }
                ],
                "users": {
                    uid: self._v1_user(self.users[uid]) for uid in (event.sender_id, event.recipient_id)
                },
            }

    def push(
        self,
        object_id: str,
        url: str,
        *,
        http: httpx.Client | Any | None = None,
        sign_with: str | None = None,
    ) -> httpx.Response:
        """Deliver the Account Activity payload of one post or DM to `url`, signed as X signs it.
        `http` may be any client with httpx's `post` (a Starlette TestClient for a relative URL)."""
        body = json.dumps(self.activity(object_id), separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            signing.HEADER: signing.sign(sign_with or self.consumer_secret, body),
        }
        client = http or httpx.Client(timeout=10)
        try:
            response: httpx.Response = client.post(url, content=body, headers=headers)
            return response
        finally:
            if http is None:
                client.close()

    def crc_check(self, url: str, *, http: httpx.Client | Any | None = None) -> bool:
        """What X does on registration and hourly: GET url?crc_token=... and check the answer."""
        token = secrets.token_urlsafe(24)
        client = http or httpx.Client(timeout=3)
        try:
            response = client.get(url, params={"crc_token": token})
        finally:
            if http is None:
                client.close()
        if response.status_code != 200:
            return False
        try:
            answer = response.json().get("response_token")
        except ValueError:
            return False
        return bool(answer == signing.crc_response(self.consumer_secret, token))

    def _v1_user(self, user: User) -> dict[str, Any]:
        return {
            "id": int(user.id),
            "id_str": user.id,
            "name": user.name,
            "screen_name": user.username,
            "protected": False,
            "verified": False,
            "followers_count": user.followers,
            "created_at": _v1_time(user.created_at),
        }

    def _v1_tweet(self, tweet: Tweet) -> dict[str, Any]:
        full = _escape(tweet.text)
        mentions = [
            {
                "screen_name": self.users[uid].username,
                "name": self.users[uid].name,
                "id": int(uid),
                "id_str": uid,
                "indices": [m.start(), m.end()],
            }
            for m in _MENTION.finditer(tweet.text)
            for uid in [self._user_id_of(m.group(1))]
            if uid
        ]
        entities = {"hashtags": [], "urls": [], "user_mentions": mentions, "symbols": []}
        shown = [tweet.display_start, len(tweet.text)]
        item: dict[str, Any] = {
            "created_at": _v1_time(tweet.created_at),
            "id": int(tweet.id),
            "id_str": tweet.id,
            "text": full,
            "display_text_range": shown,
            "source": '<a href="https://x.com" rel="nofollow">X Web App</a>',
            "truncated": False,
            "in_reply_to_status_id": int(tweet.replied_to) if tweet.replied_to else None,
            "in_reply_to_status_id_str": tweet.replied_to,
            "in_reply_to_user_id": int(tweet.in_reply_to_user_id) if tweet.in_reply_to_user_id else None,
            "in_reply_to_user_id_str": tweet.in_reply_to_user_id,
            "in_reply_to_screen_name": (
                self.users[tweet.in_reply_to_user_id].username if tweet.in_reply_to_user_id else None
            ),
            "user": self._v1_user(self.users[tweet.author_id]),
            "is_quote_status": False,
            "entities": entities,
            "lang": tweet.lang,
            "timestamp_ms": str(int(tweet.created_at.timestamp() * 1000)),
        }
        if len(tweet.text) > 140:  # compatibility mode: the full text moves to extended_tweet
            item["text"] = _escape(tweet.text[:139]) + "…"
            item["display_text_range"] = [tweet.display_start, 140]
            item["truncated"] = True
            item["extended_tweet"] = {"full_text": full, "display_text_range": shown, "entities": entities}
        return item

    def _user_id_of(self, username: str) -> str | None:
        found = self._by_username(username)
        return found.id if found else None

    # --- the API: shapes ---------------------------------------------------------------------------

    def _name(self, key: str) -> str:
        return RENAMES.get(key, key) if self.naming == "post" else key

    def _user_json(self, user: User, fields: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"id": user.id, "name": user.name, "username": user.username}
        if "created_at" in fields:
            out["created_at"] = _iso(user.created_at)
        if "protected" in fields:
            out["protected"] = False
        if "verified" in fields:
            out["verified"] = False
        if "public_metrics" in fields:
            out["public_metrics"] = {
                "followers_count": user.followers,
                "following_count": 12,
                self._name("tweet_count"): 40,
                "listed_count": 0,
            }
        return out

    def _tweet_json(self, tweet: Tweet, fields: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": tweet.id,
            "text": _escape(tweet.text),
            self._name("edit_history_tweet_ids"): [tweet.id],
        }
        if "author_id" in fields:
            out["author_id"] = tweet.author_id
        if "conversation_id" in fields:
            out["conversation_id"] = tweet.conversation_id
        if "created_at" in fields:
            out["created_at"] = _iso(tweet.created_at)
        if "in_reply_to_user_id" in fields and tweet.in_reply_to_user_id:
            out["in_reply_to_user_id"] = tweet.in_reply_to_user_id
        if fields & {"referenced_tweets", "referenced_posts"} and (tweet.replied_to or tweet.retweet_of):
            kind, ref = (
                ("retweeted", tweet.retweet_of) if tweet.retweet_of else ("replied_to", tweet.replied_to)
            )
            out[self._name("referenced_tweets")] = [{"type": kind, "id": ref}]
        if "display_text_range" in fields:
            out["display_text_range"] = [tweet.display_start, len(tweet.text)]
        if "lang" in fields:
            out["lang"] = tweet.lang
        if "entities" in fields:
            mentions = [
                {"start": m.start(), "end": m.end(), "username": m.group(1), "id": uid}
                for m in _MENTION.finditer(tweet.text)
                for uid in [self._user_id_of(m.group(1))]
                if uid
            ]
            if mentions:
                out["entities"] = {"mentions": mentions}
        return out

    def _dm_json(self, event: DmEvent, fields: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"id": event.id, "event_type": "MessageCreate", "text": event.text}
        if "sender_id" in fields:
            out["sender_id"] = event.sender_id
        if "dm_conversation_id" in fields:
            out["dm_conversation_id"] = event.conversation_id
        if "created_at" in fields:
            out["created_at"] = _iso(event.created_at)
        return out

    # --- the API: request checks -------------------------------------------------------------------

    @staticmethod
    def _listed(query: dict[str, str], name: str, allowed: set[str]) -> set[str]:
        if name not in query:
            return set()
        values = [v for v in query[name].split(",") if v]
        bad = [v for v in values if v not in allowed]
        if not values or bad:
            shown = bad[0] if bad else ""
            raise invalid_request(
                f"The `{name}` query parameter value [{shown}] is not one of [{','.join(sorted(allowed))}]",
                {name: [query[name]]},
            )
        return set(values)

    @staticmethod
    def _known(query: dict[str, str], allowed: set[str]) -> None:
        for name, value in query.items():
            if name not in allowed:
                raise invalid_request(
                    f"The query parameter [{name}] is not one of [{','.join(sorted(allowed))}]",
                    {name: [value]},
                )

    @staticmethod
    def _max_results(query: dict[str, str], low: int, high: int, default: int) -> int:
        raw = query.get("max_results")
        if raw is None:
            return default
        if not raw.isdigit() or not low <= int(raw) <= high:
            raise invalid_request(
                f"The `max_results` query parameter value [{raw}] is not between {low} and {high}",
                {"max_results": [raw]},
            )
        return int(raw)

    @staticmethod
    def _id_param(query: dict[str, str], name: str) -> int | None:
        raw = query.get(name)
        if raw is None:
            return None
        if not _ID.match(raw):
            raise invalid_request(
                f"The `{name}` query parameter value [{raw}] does not match ^[0-9]{{1,19}}$", {name: [raw]}
            )
        return int(raw)

    @staticmethod
    def _time_param(query: dict[str, str], name: str) -> datetime | None:
        raw = query.get(name)
        if raw is None:
            return None
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            raise invalid_request(
                f"The `{name}` query parameter value [{raw}] is not a valid RFC 3339 date-time", {name: [raw]}
            ) from None
        if value.tzinfo is None:
            raise invalid_request(f"The `{name}` query parameter value [{raw}] needs a time zone")
        return value

    @staticmethod
    def _token(kind: str, last_id: str) -> str:
        return base64.b32hexencode(f"{kind}:{last_id}".encode()).decode().rstrip("=").lower()

    @staticmethod
    def _untoken(kind: str, query: dict[str, str]) -> int | None:
        raw = query.get("pagination_token")
        if raw is None:
            return None
        try:
            padded = raw.upper() + "=" * (-len(raw) % 8)
            decoded = base64.b32hexdecode(padded).decode()
            prefix, _, last = decoded.partition(":")
            if prefix != kind or not _ID.match(last):
                raise ValueError(decoded)
            return int(last)
        except (ValueError, UnicodeDecodeError):
            raise invalid_request(
                f"The `pagination_token` query parameter value [{raw}] is not valid",
                {"pagination_token": [raw]},
            ) from None

    def _page(
        self, items: list[Any], kind: str, size: int, after: int | None
    ) -> tuple[list[Any], str | None]:
        """Newest first; `after` is the id the previous page ended on."""
        if after is not None:
            items = [i for i in items if int(i.id) < after]
        if self.page_cap is not None:
            size = min(size, self.page_cap)
        page = items[:size]
        token = self._token(kind, page[-1].id) if len(items) > size else None
        return page, token

    # --- the API: endpoints ------------------------------------------------------------------------

    def me(self, auth: str, query: dict[str, str]) -> dict[str, Any]:
        if auth != "user":
            raise unsupported_auth()
        self._known(query, {"user.fields", "expansions", "tweet.fields", "post.fields"})
        fields = self._listed(query, "user.fields", USER_FIELDS)
        return {"data": self._user_json(self.brand, fields)}

    def _tweets_page(
        self, tweets: list[Tweet], query: dict[str, str], kind: str, low: int, default: int
    ) -> dict[str, Any]:
        fields_param = "post.fields" if "post.fields" in query else "tweet.fields"
        fields = self._listed(query, fields_param, TWEET_FIELDS)
        expansions = self._listed(query, "expansions", TWEET_EXPANSIONS)
        user_fields = self._listed(query, "user.fields", USER_FIELDS)
        size = self._max_results(query, low, 100, default)
        since, until = self._id_param(query, "since_id"), self._id_param(query, "until_id")
        start, end = self._time_param(query, "start_time"), self._time_param(query, "end_time")
        if since is not None and until is not None and since >= until:
            raise invalid_request("since_id must be less than until_id")
        if start is not None and end is not None and start >= end:
            raise invalid_request("start_time must be earlier than end_time")
        tweets = sorted(tweets, key=lambda t: int(t.id), reverse=True)
        if since is not None:
            tweets = [t for t in tweets if int(t.id) > since]
        if until is not None:
            tweets = [t for t in tweets if int(t.id) < until]
        if start is not None:
            tweets = [t for t in tweets if t.created_at >= start]
        if end is not None:
            tweets = [t for t in tweets if t.created_at <= end]
        page, token = self._page(tweets, kind, size, self._untoken(kind, query))
        body: dict[str, Any] = {}
        if page:
            body["data"] = [self._tweet_json(t, fields) for t in page]
            users: dict[str, User] = {}
            for t in page:
                if "author_id" in expansions:
                    users.setdefault(t.author_id, self.users[t.author_id])
                if "in_reply_to_user_id" in expansions and t.in_reply_to_user_id:
                    users.setdefault(t.in_reply_to_user_id, self.users[t.in_reply_to_user_id])
            includes: dict[str, Any] = {}
            if users:
                includes["users"] = [self._user_json(u, user_fields) for u in users.values()]
            if expansions & {"referenced_tweets.id", "referenced_posts"}:
                parents = [self.tweets[t.replied_to] for t in page if t.replied_to in self.tweets]
                if parents:
                    includes[self._name("tweets")] = [self._tweet_json(p, fields) for p in parents]
            if includes:
                body["includes"] = includes
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta["newest_id"], meta["oldest_id"] = page[0].id, page[-1].id
        if token:
            meta["next_token"] = token
        body["meta"] = meta
        return body

    def mentions(self, user_id: str, query: dict[str, str]) -> dict[str, Any]:
        self._known(query, TIMELINE_PARAMS)
        if user_id not in self.users:
            return self._missing_user(user_id)
        reachable = sorted(
            (t for t in self.tweets.values() if user_id in t.mentions and t.author_id != user_id),
            key=lambda t: int(t.id),
            reverse=True,
        )[:MENTIONS_DEPTH]
        return self._tweets_page(reachable, query, "mentions", 5, 10)

    def timeline(self, user_id: str, query: dict[str, str]) -> dict[str, Any]:
        self._known(query, TIMELINE_PARAMS | {"exclude"})
        if user_id not in self.users:
            return self._missing_user(user_id)
        self._listed(query, "exclude", {"retweets", "replies"})
        own = [t for t in self.tweets.values() if t.author_id == user_id]
        if "replies" in query.get("exclude", ""):
            own = [t for t in own if t.replied_to is None]
        return self._tweets_page(own, query, "timeline", 5, 10)

    @staticmethod
    def _missing_user(user_id: str) -> dict[str, Any]:
        return {
            "errors": [
                {
                    "value": user_id,
                    "detail": f"Could not find user with id: [{user_id}].",
                    "title": "Not Found Error",
                    "resource_type": "user",
                    "parameter": "id",
                    "resource_id": user_id,
                    "type": PROBLEM + "resource-not-found",
                }
            ]
        }

    def dm_page(self, query: dict[str, str], participant: str | None = None) -> dict[str, Any]:
        self._known(query, DM_PARAMS)
        fields = self._listed(query, "dm_event.fields", DM_FIELDS)
        expansions = self._listed(query, "expansions", DM_EXPANSIONS)
        user_fields = self._listed(query, "user.fields", USER_FIELDS)
        kinds = self._listed(query, "event_types", {"MessageCreate", "ParticipantsJoin", "ParticipantsLeave"})
        size = self._max_results(query, 1, 100, 100)
        oldest = self.now() - timedelta(days=DM_DAYS)
        events = [
            e
            for e in self.dm_events.values()
            if self.brand.id in (e.sender_id, e.recipient_id)
            and e.created_at >= oldest
            and (participant is None or participant in (e.sender_id, e.recipient_id))
            and (not kinds or "MessageCreate" in kinds)
        ]
        events.sort(key=lambda e: int(e.id), reverse=True)
        kind = f"dm{participant or ''}"
        page, token = self._page(events, kind, size, self._untoken(kind, query))
        body: dict[str, Any] = {}
        if page:
            body["data"] = [self._dm_json(e, fields) for e in page]
            if "sender_id" in expansions:
                senders = {e.sender_id: self.users[e.sender_id] for e in page}
                body["includes"] = {"users": [self._user_json(u, user_fields) for u in senders.values()]}
        meta: dict[str, Any] = {"result_count": len(page)}
        if token:
            meta["next_token"] = token
        body["meta"] = meta
        return body

    def create_tweet(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise invalid_request("The request body is not a JSON object")
        extra = sorted(set(body) - TWEET_BODY)
        if extra:
            raise invalid_request(
                f"$.{extra[0]}: is not defined in the schema and the schema does not allow it"
            )
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise invalid_request("$.text: text is required unless media is provided")
        reply = body.get("reply")
        parent_id: str | None = None
        excluded: list[str] = []
        if reply is not None:
            if not isinstance(reply, dict) or set(reply) - REPLY_BODY:
                raise invalid_request("$.reply: only in_reply_to_tweet_id, exclude_reply_user_ids allowed")
            parent_id = reply.get("in_reply_to_tweet_id")
            if not isinstance(parent_id, str) or not _ID.match(parent_id):
                raise invalid_request("$.reply.in_reply_to_tweet_id: does not match ^[0-9]{1,19}$")
            excluded = [str(x) for x in reply.get("exclude_reply_user_ids") or []]
            if parent_id not in self.tweets:
                raise forbidden("You attempted to reply to a Tweet that is deleted or not visible to you.")
        if not length.count("x", text).valid:
            raise forbidden("Your Tweet text is too long.")
        if any(
            t.author_id == self.brand.id and t.text[t.display_start :] == text for t in self.tweets.values()
        ):
            raise forbidden("You are not allowed to create a Tweet with duplicate content.")
        tweet = self.post(
            self.brand.id, text, reply_to=parent_id, exclude_reply_user_ids=excluded, via_api=True
        )
        return {
            "data": {
                "id": tweet.id,
                "text": _escape(tweet.text),
                self._name("edit_history_tweet_ids"): [tweet.id],
            }
        }

    def create_dm(self, participant: str, body: Any) -> dict[str, Any]:
        if not _ID.match(participant):
            raise invalid_request(f"The `participant_id` path parameter value [{participant}] is not valid")
        if not isinstance(body, dict) or set(body) - {"text", "attachments"}:
            raise invalid_request("$: only text and attachments are allowed")
        text = body.get("text")
        if not isinstance(text, str) or not text:
            raise invalid_request("$.text: must be at least 1 character long")
        if len(text) > 10_000:
            raise invalid_request("$.text: must be at most 10000 characters long")
        user = self.users.get(participant)
        if user is None or participant == self.brand.id:
            raise invalid_request(f"[{participant}] is not a valid participant for a one-to-one conversation")
        if not user.accepts_dms:
            raise forbidden("You are not permitted to send Direct Messages to this user.")
        event = self.dm(self.brand.id, text, to=participant)
        event.via_api = True
        return {"data": {"dm_conversation_id": event.conversation_id, "dm_event_id": event.id}}

    # --- the API: filtered stream ------------------------------------------------------------------

    def _rules_token(self, offset: int) -> str:
        return base64.b32hexencode(f"{offset:010d}".encode()).decode().lower()  # 16 characters

    def get_rules(self, query: dict[str, str]) -> dict[str, Any]:
        self._known(query, {"ids", "max_results", "pagination_token"})
        size = self._max_results(query, 1, 1000, 1000)
        rules = sorted(self.rules.values(), key=lambda r: int(r.id))
        if "ids" in query:
            ids = [i for i in query["ids"].split(",") if i]
            if not ids or not all(_ID.match(i) for i in ids):
                raise invalid_request(
                    f"The `ids` query parameter value [{query['ids']}] is not valid", {"ids": [query["ids"]]}
                )
            rules = [r for r in rules if r.id in ids]
        offset = 0
        if "pagination_token" in query:
            raw = query["pagination_token"]
            try:
                decoded = base64.b32hexdecode(raw.upper()).decode()
                if len(raw) != 16 or not decoded.isdigit():
                    raise ValueError(raw)
                offset = int(decoded)
            except (ValueError, UnicodeDecodeError):
                raise invalid_request(
                    f"The `pagination_token` query parameter value [{raw}] is not valid",
                    {"pagination_token": [raw]},
                ) from None
        page = rules[offset : offset + size]
        meta: dict[str, Any] = {"sent": _iso(self.now()), "result_count": len(page)}
        if offset + size < len(rules):
            meta["next_token"] = self._rules_token(offset + size)
        body: dict[str, Any] = {"meta": meta}
        if page:
            body["data"] = [r.json() for r in page]
        return body

    @staticmethod
    def _flag(query: dict[str, str], name: str) -> bool:
        raw = query.get(name)
        if raw is None:
            return False
        if raw not in ("true", "false"):
            raise invalid_request(
                f"The `{name}` query parameter value [{raw}] is not a boolean", {name: [raw]}
            )
        return raw == "true"

    def update_rules(self, query: dict[str, str], body: Any) -> tuple[int, dict[str, Any]]:
        self._known(query, {"dry_run", "delete_all"})
        dry_run, delete_all = self._flag(query, "dry_run"), self._flag(query, "delete_all")
        if not isinstance(body, dict) and not delete_all:
            raise invalid_request("The request body is not a JSON object")
        body = body if isinstance(body, dict) else {}
        extra = sorted(set(body) - {"add", "delete"})
        if extra:
            raise invalid_request(
                f"$.{extra[0]}: is not defined in the schema and the schema does not allow it"
            )
        if len(body) + int(delete_all) != 1:
            raise invalid_request("Exactly one of `add`, `delete` or `?delete_all=true` must be given")
        sent = _iso(self.now())
        if "add" in body:
            return self._add_rules(body["add"], dry_run, sent)
        if delete_all:
            ids = list(self.rules)
        else:
            delete = body["delete"]
            if not isinstance(delete, dict) or set(delete) - {"ids", "values"} or not delete:
                raise invalid_request("$.delete: give `ids` or `values`")
            ids = [str(i) for i in delete.get("ids") or []]
            if any(not _ID.match(i) for i in ids):
                raise invalid_request("$.delete.ids: every id must match ^[0-9]{1,19}$")
            values = [str(v) for v in delete.get("values") or []]
            ids += [r.id for r in self.rules.values() if r.value in values]
        found = [i for i in dict.fromkeys(ids) if i in self.rules]
        missing = [i for i in dict.fromkeys(ids) if i not in self.rules]
        if not dry_run:
            for rule_id in found:
                del self.rules[rule_id]
        answer: dict[str, Any] = {
            "meta": {"sent": sent, "summary": {"deleted": len(found), "not_deleted": len(missing)}}
        }
        if missing:
            answer["errors"] = [
                {
                    "type": PROBLEM + "resource-not-found",
                    "title": "Not Found Error",
                    "detail": f"Could not find rule with id: [{i}].",
                    "resource_type": "rule",
                    "resource_id": i,
                    "parameter": "ids",
                    "value": i,
                }
                for i in missing
            ]
        return 200, answer

    def _add_rules(self, add: Any, dry_run: bool, sent: str) -> tuple[int, dict[str, Any]]:
        if not isinstance(add, list) or not add:
            raise invalid_request("$.add: must be a non-empty array")
        created: list[StreamRule] = []
        errors: list[dict[str, Any]] = []
        invalid = 0
        values = {r.value: r.id for r in self.rules.values()}
        for item in add:
            if (
                not isinstance(item, dict)
                or set(item) - {"value", "tag"}
                or not isinstance(item.get("value"), str)
            ):
                raise invalid_request('$.add[*]: each rule is {"value": string, "tag": string}')
            value, tag = item["value"], item.get("tag")
            if tag is not None and not isinstance(tag, str):
                raise invalid_request("$.add[*].tag: must be a string")
            try:
                match = compile_rule(value)
            except RuleError as exc:
                invalid += 1
                errors.append(
                    {
                        "type": PROBLEM + "invalid-request",
                        "title": "UnprocessableEntity",
                        "detail": str(exc),
                        "details": [str(exc)],
                        "value": value,
                    }
                )
                continue
            if value in values:
                errors.append(
                    {
                        "type": PROBLEM + "invalid-request",
                        "title": "DuplicateRule",
                        "detail": f"This rule is a duplicate of rule {values[value]}.",
                        "value": value,
                        "id": values[value],
                    }
                )
                continue
            rule = StreamRule(self._snowflake(self.now()), value, tag, match)
            values[value] = rule.id
            created.append(rule)
        valid = len(add) - invalid
        summary = {"created": 0, "not_created": len(add), "valid": valid, "invalid": invalid}
        if invalid:
            return 400, {
                "type": PROBLEM + "invalid-request",
                "title": "Invalid Request",
                "detail": "One or more rules are invalid; no rule was created.",
                "errors": errors,
                "meta": {"sent": sent, "summary": summary},
            }
        if len(self.rules) + len(created) > RULES_MAX:
            raise Refusal(
                403,
                {
                    "type": "about:blank",
                    "title": "RulesCapExceeded",
                    "detail": f"Rule cap exceeded: the app may hold {RULES_MAX} rules.",
                    "status": 403,
                },
            )
        if not dry_run:
            for rule in created:
                self.rules[rule.id] = rule
            summary["created"], summary["not_created"] = len(created), len(add) - len(created)
        answer: dict[str, Any] = {"meta": {"sent": sent, "summary": summary}}
        if created:
            answer["data"] = [r.json() for r in created]
        if errors:
            answer["errors"] = errors
        return 200, answer

    def _stream_shape(self, query: dict[str, str]) -> tuple[set[str], set[str], set[str]]:
        self._known(
            query,
            {"tweet.fields", "expansions", "user.fields", "media.fields", "poll.fields", "place.fields",
             "backfill_minutes", "start_time", "end_time"},
        )  # fmt: skip
        for name in ("backfill_minutes", "start_time", "end_time"):
            if name in query:
                raise forbidden(f"`{name}` (recovery and backfill) is available on the Enterprise tier only.")
        return (
            self._listed(query, "tweet.fields", TWEET_FIELDS),
            self._listed(query, "expansions", TWEET_EXPANSIONS),
            self._listed(query, "user.fields", USER_FIELDS),
        )

    def _stream_line(self, tweet: Tweet, shape: tuple[set[str], set[str], set[str]]) -> bytes | None:
        """The line X sends for this post, or None when it matches no rule."""
        author = self.users[tweet.author_id].username
        matched = [r for r in self.rules.values() if r.match(tweet, author)]
        if not matched:
            return None
        fields, expansions, user_fields = shape
        item: dict[str, Any] = {"data": self._tweet_json(tweet, fields)}
        if "author_id" in expansions:
            item["includes"] = {"users": [self._user_json(self.users[tweet.author_id], user_fields)]}
        item["matching_rules"] = [
            {"id": r.id, **({"tag": r.tag} if r.tag is not None else {})} for r in matched
        ]
        self.streamed.append(tweet.id)
        return json.dumps(item, separators=(",", ":")).encode() + b"\r\n"

    async def _stream(self, request: Request) -> Response:
        query = dict(request.query_params)
        auth = self._auth(request)
        with self._lock:
            self.requests.append((request.method, request.url.path, query))
            forced = self.failures["stream"].pop(0) if self.failures["stream"] and auth else None
        if auth is None:
            body = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
            return JSONResponse(body, 401, media_type="application/problem+json")
        if forced == 0:
            await asyncio.sleep(self.hang_seconds)
            return JSONResponse({"title": "Service Unavailable"}, 503, media_type="application/problem+json")
        with self._lock:
            headers, over = self._limit_headers("stream_connect", auth, spend=forced in (None, -1))
            busy = self.stream_connections >= 1
            if forced == 429 or over or busy:
                headers["x-rate-limit-remaining"] = (
                    "0" if forced == 429 or over else headers["x-rate-limit-remaining"]
                )
                if forced == 429:
                    headers["x-rate-limit-reset"] = str(int(time.time()) + self.reset_in)
                body = {
                    "title": "ConnectionException",
                    "detail": "This stream is currently at the maximum allowed connection limit.",
                    "connection_issue": "TooManyConnections",
                    "type": PROBLEM + "streaming-connection",
                }
                return JSONResponse(body, 429, headers=headers, media_type="application/problem+json")
            if forced not in (None, -1):
                return JSONResponse(
                    {
                        "title": "Internal Server Error" if forced == 500 else "Service Unavailable",
                        "detail": "Something went wrong. Try again later.",
                        "type": PROBLEM + "internal-error",
                        "status": forced,
                    },
                    forced,
                    headers=headers,
                    media_type="application/problem+json",
                )
            try:
                if auth != "app":
                    raise unsupported_auth()
                shape = self._stream_shape(query)
            except Refusal as refusal:
                return JSONResponse(
                    refusal.body, refusal.status, headers=headers, media_type=refusal.media_type
                )
            self.stream_connections += 1
            position = len(self._order)
            held, self._on_connect = self._on_connect, []
        for author, text, options in held:
            self.post(author, text, **options)

        async def lines() -> AsyncIterator[bytes]:
            nonlocal position
            quiet_since = time.monotonic()
            try:
                yield b"\r\n"
                while not await request.is_disconnected():
                    with self._lock:
                        new, position = self._order[position:], len(self._order)
                        out = [line for t in new if (line := self._stream_line(self.tweets[t], shape))]
                    for line in out:
                        yield line
                        quiet_since = time.monotonic()
                    if time.monotonic() - quiet_since >= self.stream_keepalive:
                        yield b"\r\n"
                        quiet_since = time.monotonic()
                    await asyncio.sleep(0.02)
            finally:
                with self._lock:
                    self.stream_connections -= 1

        return StreamingResponse(lines(), 200, headers=headers, media_type="application/json")

    # --- the API: transport ------------------------------------------------------------------------

    def _auth(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        if secrets.compare_digest(token.encode(), self.bearer_token.encode()):
            return "app"
        if secrets.compare_digest(token.encode(), self.user_token.encode()):
            return "user"
        return None

    def _limit_headers(self, bucket: str, auth: str | None, *, spend: bool) -> tuple[dict[str, str], bool]:
        """Count the request in its 15-minute window; True when the window was already spent."""
        kind = auth or "app"
        limit = LIMITS[bucket].get(kind) or max(LIMITS[bucket].values())
        now = int(time.time())
        start, used = self._windows.get((bucket, kind), (now, 0))
        if now >= start + WINDOW:
            start, used = now, 0
        over = spend and used >= limit
        if spend and not over:
            used += 1
        self._windows[(bucket, kind)] = (start, used)
        headers = {
            "x-rate-limit-limit": str(limit),
            "x-rate-limit-remaining": str(max(0, limit - used)),
            "x-rate-limit-reset": str(start + WINDOW),
        }
        return headers, over

    async def _serve(
        self,
        request: Request,
        bucket: str,
        kind: str,
        handler: Callable[[str], dict[str, Any]],
        *,
        users: tuple[str, ...] = ("app", "user"),
        status: int = 200,
    ) -> Response:
        query = dict(request.query_params)
        auth = self._auth(request)
        with self._lock:
            self.requests.append((request.method, request.url.path, query))
            if auth is None:
                headers, _ = self._limit_headers(bucket, None, spend=False)
                body = {
                    "title": "Unauthorized",
                    "type": "about:blank",
                    "status": 401,
                    "detail": "Unauthorized",
                }
                return JSONResponse(body, 401, headers=headers, media_type="application/problem+json")
            forced = self.failures[kind].pop(0) if self.failures[kind] else None
        if forced == 0:
            await asyncio.sleep(self.hang_seconds)  # the client gives up first; nothing is recorded
            return JSONResponse({"title": "Service Unavailable"}, 503, media_type="application/problem+json")
        lose_answer = forced == -1
        if lose_answer:
            forced = None
        with self._lock:
            headers, over = self._limit_headers(bucket, auth, spend=forced is None)
            if forced == 429 or over:
                if forced == 429:
                    headers["x-rate-limit-remaining"] = "0"
                    headers["x-rate-limit-reset"] = str(int(time.time()) + self.reset_in)
                body = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank"}
                return JSONResponse({**body, "status": 429}, 429, headers=headers)
            if forced is not None:
                return JSONResponse(
                    {
                        "title": "Internal Server Error" if forced == 500 else "Service Unavailable",
                        "detail": "Something went wrong. Try again later.",
                        "type": PROBLEM + "internal-error",
                        "status": forced,
                    },
                    forced,
                    headers=headers,
                    media_type="application/problem+json",
                )
            try:
                if auth not in users:
                    raise unsupported_auth()
                payload = handler(auth)
            except Refusal as refusal:
                return JSONResponse(
                    refusal.body, refusal.status, headers=headers, media_type=refusal.media_type
                )
        if lose_answer:
            await asyncio.sleep(self.hang_seconds)  # done, but the client gives up before the answer
            return JSONResponse({"title": "Service Unavailable"}, 503, media_type="application/problem+json")
        return JSONResponse(payload, status, headers=headers)

    def _build(self) -> FastAPI:
        app = FastAPI(title="fake X API v2")

        @app.get("/2/users/me")
        async def users_me(request: Request) -> Response:
            query = dict(request.query_params)
            return await self._serve(request, "me", "read", lambda a: self.me(a, query), users=("user",))

        @app.get("/2/users/{user_id}/mentions")
        async def mentions(user_id: str, request: Request) -> Response:
            query = dict(request.query_params)
            return await self._serve(request, "mentions", "read", lambda _a: self.mentions(user_id, query))

        @app.get("/2/users/{user_id}/tweets")
        async def timeline(user_id: str, request: Request) -> Response:
            query = dict(request.query_params)
            return await self._serve(request, "timeline", "read", lambda _a: self.timeline(user_id, query))

        @app.get("/2/dm_events")
        async def dm_events(request: Request) -> Response:
            query = dict(request.query_params)
            return await self._serve(
                request, "dm_read", "read", lambda _a: self.dm_page(query), users=("user",)
            )

        @app.get("/2/dm_conversations/with/{participant_id}/dm_events")
        async def dm_with(participant_id: str, request: Request) -> Response:
            query = dict(request.query_params)
            return await self._serve(
                request, "dm_read", "read", lambda _a: self.dm_page(query, participant_id), users=("user",)
            )

        @app.post("/2/tweets")
        async def create_tweet(request: Request) -> Response:
            body = await _json(request)
            return await self._serve(
                request,
                "tweet_create",
                "write",
                lambda _a: self.create_tweet(body),
                users=("user",),
                status=201,
            )

        @app.post("/2/dm_conversations/with/{participant_id}/messages")
        async def create_dm(participant_id: str, request: Request) -> Response:
            body = await _json(request)
            return await self._serve(
                request,
                "dm_create",
                "write",
                lambda _a: self.create_dm(participant_id, body),
                users=("user",),
                status=201,
            )

        @app.get("/2/tweets/search/stream/rules")
        async def get_rules(request: Request) -> Response:
            query = dict(request.query_params)
            return await self._serve(
                request, "rules_read", "read", lambda _a: self.get_rules(query), users=("app",)
            )

        @app.post("/2/tweets/search/stream/rules")
        async def update_rules(request: Request) -> Response:
            query, body = dict(request.query_params), await _json(request)

            def handle(_auth: str) -> dict[str, Any]:
                status, payload = self.update_rules(query, body)
                if status != 200:
                    raise Refusal(status, payload)
                return payload

            return await self._serve(request, "rules_write", "write", handle, users=("app",))

        @app.get("/2/tweets/search/stream")
        async def stream(request: Request) -> Response:
            return await self._stream(request)

        self._admin(app)
        return app

    def _admin(self, app: FastAPI) -> None:
        @app.post("/_fake/users")
        async def add_user(request: Request) -> JSONResponse:
            body = await request.json()
            user = self.user(
                str(body["username"]), name=body.get("name"), followers=int(body.get("followers", 0))
            )
            if "accepts_dms" in body:
                user.accepts_dms = bool(body["accepts_dms"])
            return JSONResponse({"id": user.id, "username": user.username}, 201)

        @app.post("/_fake/posts")
        async def add_post(request: Request) -> JSONResponse:
            body = await request.json()
            author = str(body["author"])
            options = {"reply_to": body.get("reply_to"), "lang": str(body.get("lang") or "en")}
            if body.get("on_stream_connect"):
                self.post_on_connect(author, str(body["text"]), **options)
                return JSONResponse({"held": True}, 202)
            tweet = self.post(author, str(body["text"]), **options)
            return JSONResponse({"id": tweet.id, "text": tweet.text}, 201)

        @app.post("/_fake/retweets")
        async def add_retweet(request: Request) -> JSONResponse:
            body = await request.json()
            tweet = self.retweet(str(body["author"]), str(body["tweet_id"]))
            return JSONResponse({"id": tweet.id, "text": tweet.text}, 201)

        @app.get("/_fake/stream_rules")
        def list_rules() -> JSONResponse:
            return JSONResponse(self.stream_rules())

        @app.post("/_fake/brand_posts")
        async def add_brand_post(request: Request) -> JSONResponse:
            body = await request.json()
            tweet = self.brand_post(str(body["text"]))
            return JSONResponse({"id": tweet.id, "text": tweet.text}, 201)

        @app.post("/_fake/dms")
        async def add_dm(request: Request) -> JSONResponse:
            body = await request.json()
            event = self.dm(str(body["sender"]), str(body["text"]))
            return JSONResponse({"id": event.id, "dm_conversation_id": event.conversation_id}, 201)

        @app.get("/_fake/published")
        def list_published() -> JSONResponse:
            return JSONResponse(self.published())

        @app.post("/_fake/fail")
        async def fail(request: Request) -> JSONResponse:
            body = await request.json()
            on = str(body.get("on", "read"))
            if on not in self.failures:
                return JSONResponse({"error": "on must be read, write or stream"}, 422)
            self.fail_next(*[int(c) for c in body.get("codes", [])], on=on)
            return JSONResponse({"pending": self.failures})

        @app.post("/_fake/naming")
        async def naming(request: Request) -> JSONResponse:
            mode = (await request.json()).get("mode")
            if mode not in ("tweet", "post"):
                return JSONResponse({"error": "mode must be tweet or post"}, 422)
            self.naming = mode
            return JSONResponse({"mode": mode})

        @app.post("/_fake/webhooks/push")
        async def push(request: Request) -> JSONResponse:
            body = await request.json()
            url, ids = str(body["url"]), [str(i) for i in body.get("ids", [])]
            answers = await asyncio.to_thread(lambda: [self.push(i, url).status_code for i in ids])
            return JSONResponse({"delivered": dict(zip(ids, answers, strict=True))})

        @app.post("/_fake/webhooks/crc")
        async def crc(request: Request) -> JSONResponse:
            url = str((await request.json())["url"])
            return JSONResponse({"valid": await asyncio.to_thread(self.crc_check, url)})

        @app.get("/", response_class=HTMLResponse)
        def home() -> str:
            rows = [
                f"<li>{html.escape(p['kind'])} · to {html.escape(str(p['recipient']))} · "
                f"{html.escape(p['text'])}</li>"
                for p in reversed(self.published()[-50:])
            ]
            return (
                "<!doctype html><meta charset=utf-8><title>Fake X</title>"
                f"<h1>What caredesk published as @{html.escape(self.brand.username)}</h1>"
                "<ul>" + "".join(rows) + "</ul>"
            )


TIMELINE_PARAMS = {
    "max_results", "pagination_token", "since_id", "until_id", "start_time", "end_time",
    "tweet.fields", "post.fields", *COMMON_PARAMS,
}  # fmt: skip
DM_PARAMS = {
    "max_results",
    "pagination_token",
    "event_types",
    "dm_event.fields",
    "tweet.fields",
    *COMMON_PARAMS,
}


async def _json(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None
