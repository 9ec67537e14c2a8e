"""A local stand-in for Bluesky: the brand's PDS, with the AppView and the chat service behind it, as a
client sees them through one base URL (`/xrpc/<nsid>`).

It speaks the documented XRPC methods the Bluesky connector uses, with their parameters, JSON shapes and
errors (`{"error", "message"}`):

- `com.atproto.server.createSession` / `refreshSession`: JWT-shaped tokens (three base64url segments,
  `exp`), app passwords with or without DM access, 30 logins per 5 minutes per account (then 429);
- `app.bsky.notification.listNotifications` (newest first, `cursor` = the last item's `indexedAt`,
  `reasons` filter, `isRead` against `seenAt`) and `updateSeen`;
- `app.bsky.feed.getPosts`, `app.bsky.feed.getAuthorFeed` (filters, `reply` context),
  `app.bsky.feed.searchPosts` (words and "quoted phrases", all required, matched case-insensitively on
  whole words; `lang`, `since`/`until` on the sort time, `sort=latest|top`, `limit` up to 100, offset
  `cursor`, `hitsTotal`; newest first),
  `com.atproto.identity.resolveHandle`, `com.atproto.repo.createRecord` (posts only; 3 points each
  against 5,000 per hour);
- `chat.bsky.convo.getLog`, `getConvoForMembers`, `sendMessage`, `getMessages`, `listConvos`, which
  require the `atproto-proxy: did:web:api.bsky.chat#bsky_chat` header and an app password with DM access.

Every answer carries the IETF draft `RateLimit-*` headers; `RateLimit-Reset` is an epoch time as Bluesky
sends it, or a delay in seconds (`reset_style="delta"`, the draft's form). As on the real network, the
brand's own posts never notify it, while DMs it sends appear in its chat log.

Test and demo hooks: Python methods and `/_fake/...` endpoints to add accounts, post as a customer
(mentions, replies, quotes), send a DM as a customer, read what the brand published, lock a conversation,
limit replies on a post, and make the next requests fail (429 with rate-limit headers, 500, or 0 = hang
past the client's timeout without doing anything).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

import regex
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

CHAT_PROXY = "did:web:api.bsky.chat#bsky_chat"
POST = "app.bsky.feed.post"
FACET = "app.bsky.richtext.facet"
_S32 = "234567abcdefghijklmnopqrstuvwxyz"
_GRAPHEME = regex.compile(r"\X")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


class XrpcError(Exception):
    def __init__(self, status: int, error: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.error, self.message, self.headers = status, error, message, headers or {}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", value))


def _graphemes(text: str) -> int:
    return sum(1 for _ in _GRAPHEME.finditer(text))


def did_for(handle: str) -> str:
    digest = base64.b32encode(hashlib.sha256(handle.encode()).digest()).decode().lower()
    return f"did:plc:{digest[:24]}"


@dataclass
class Account:
    did: str
    handle: str
    display_name: str
    allow_incoming: str = "all"  # chat setting: "all", "following" (accounts they follow) or "none"
    follows_brand: bool = False
    app_passwords: dict[str, bool] = field(default_factory=dict)  # password -> has DM access


@dataclass
class Post:
    uri: str
    cid: str
    author: str  # did
    record: dict[str, Any]
    indexed_at: str
    reply_disabled: bool = False


@dataclass
class Notification:
    post: Post
    reason: str
    reason_subject: str | None


@dataclass
class Convo:
    id: str
    members: list[str]
    rev: str
    locked: bool = False
    messages: list[dict[str, Any]] = field(default_factory=list)  # messageViews, oldest first


@dataclass
class Token:
    did: str
    kind: str  # "access" or "refresh"
    exp: float
    dm_access: bool


@dataclass
class Window:
    limit: int
    seconds: int
    start: float = 0.0
    used: int = 0


@dataclass
class Failure:
    status: int  # 429, 500..., or 0: hang past the client's timeout
    methods: frozenset[str] | None  # NSIDs it applies to; None: the next request of any kind


@dataclass
class Call:
    nsid: str
    params: dict[str, list[str]]
    body: Any
    headers: dict[str, str]
    auth: Token | None = None


class FakeBluesky:
    def __init__(
        self,
        *,
        brand_handle: str = "acme.bsky.social",
        brand_did: str | None = None,
        app_password: str = "abcd-efgh-ijkl-mnop",  # noqa: S107  (a fake account's test password)
        dm_access: bool = True,
        page_size: int = 100,
    ) -> None:
        self._lock = threading.RLock()
        self._secret = hashlib.sha256(f"fake-{time.time_ns()}".encode()).digest()
        self.page_size = page_size
        self.access_ttl = 7200.0  # seconds; the real PDS issues 2-hour access tokens
        self.refresh_ttl = 90 * 86400.0
        self.reset_style = "epoch"  # "epoch" (as Bluesky sends RateLimit-Reset) or "delta" (IETF draft)
        self.rate_limit_wait = 2  # seconds until reset announced with an injected 429
        self.hang_seconds = 3.0
        self.accounts: dict[str, Account] = {}
        self.posts: dict[str, Post] = {}
        self.notifications: list[Notification] = []
        self.convos: dict[str, Convo] = {}
        self.logs: list[dict[str, Any]] = []
        self.tokens: dict[str, Token] = {}
        self.published: list[dict[str, Any]] = []
        self.calls: list[Call] = []
        self.seen_at: str | None = None
        self.failures: list[Failure] = []
        self._windows: dict[str, Window] = {}
        self._last_stamp = datetime.now(UTC) - timedelta(seconds=1)
        self._last_micros = 0
        self._clock_id = itertools.count(1)
        brand = self.add_account(brand_handle, did=brand_did, display_name="Acme Support")
        brand.app_passwords[app_password] = dm_access
        self.brand = brand
        self.app = self._build()

    # --- identities, time, ids -------------------------------------------------------------------------

    def add_account(
        self,
        handle: str,
        *,
        did: str | None = None,
        display_name: str | None = None,
        allow_incoming: str = "all",
        follows_brand: bool = False,
    ) -> Account:
        handle = handle.lower() if "." in handle else f"{handle.lower()}.bsky.social"
        with self._lock:
            for account in self.accounts.values():
                if account.handle == handle:
                    return account
            account = Account(
                did=did or did_for(handle),
                handle=handle,
                display_name=display_name or handle.split(".")[0].title(),
                allow_incoming=allow_incoming,
                follows_brand=follows_brand,
            )
            self.accounts[account.did] = account
            return account

    def account(self, who: str) -> Account:
        """An account by DID or handle (a bare name means <name>.bsky.social); created when unknown."""
        with self._lock:
            if who in self.accounts:
                return self.accounts[who]
            return self.add_account(who)

    def _find(self, actor: str) -> Account | None:
        if actor in self.accounts:
            return self.accounts[actor]
        return next((a for a in self.accounts.values() if a.handle == actor.lower()), None)

    def _stamp(self) -> str:
        now = datetime.now(UTC)
        if now <= self._last_stamp:
            now = self._last_stamp + timedelta(milliseconds=1)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        if now <= self._last_stamp:
            now = self._last_stamp + timedelta(milliseconds=1)
        self._last_stamp = now
        return _iso(now)

    def _tid(self) -> str:
        micros = max(time.time_ns() // 1000, self._last_micros + 1)
        self._last_micros = micros
        n = (micros << 10) | (next(self._clock_id) & 1023)
        chars = []
        for _ in range(13):
            chars.append(_S32[n & 31])
            n >>= 5
        return "".join(reversed(chars))

    @staticmethod
    def _cid(data: Any) -> str:
        digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).digest()
        return "bafyrei" + base64.b32encode(digest).decode().lower().rstrip("=")[:52]

    # --- views -----------------------------------------------------------------------------------------

    def _profile(self, did: str) -> dict[str, Any]:
        account = self.accounts.get(did)
        if account is None:
            return {"did": did, "handle": "handle.invalid", "labels": []}
        return {
            "did": account.did,
            "handle": account.handle,
            "displayName": account.display_name,
            "labels": [],
            "createdAt": "2024-01-01T00:00:00.000Z",
        }

    def _post_view(self, post: Post) -> dict[str, Any]:
        viewer: dict[str, Any] = {"threadMuted": False, "embeddingDisabled": False}
        if post.reply_disabled:
            viewer["replyDisabled"] = True
        replies = sum(
            1
            for p in self.posts.values()
            if (p.record.get("reply") or {}).get("parent", {}).get("uri") == post.uri
        )
        return {
            "$type": "app.bsky.feed.defs#postView",
            "uri": post.uri,
            "cid": post.cid,
            "author": self._profile(post.author),
            "record": post.record,
            "replyCount": replies,
            "repostCount": 0,
            "likeCount": 0,
            "quoteCount": 0,
            "indexedAt": post.indexed_at,
            "viewer": viewer,
            "labels": [],
        }

    def _ref_view(self, uri: str) -> dict[str, Any]:
        post = self.posts.get(uri)
        if post is None:
            return {"$type": "app.bsky.feed.defs#notFoundPost", "uri": uri, "notFound": True}
        return self._post_view(post)

    def _feed_item(self, post: Post) -> dict[str, Any]:
        item: dict[str, Any] = {"post": self._post_view(post)}
        reply = post.record.get("reply")
        if isinstance(reply, dict):
            parent_uri, root_uri = reply["parent"]["uri"], reply["root"]["uri"]
            context: dict[str, Any] = {"root": self._ref_view(root_uri), "parent": self._ref_view(parent_uri)}
            parent = self.posts.get(parent_uri)
            grand = (parent.record.get("reply") or {}).get("parent", {}).get("uri") if parent else None
            if grand and grand in self.posts:
                context["grandparentAuthor"] = self._profile(self.posts[grand].author)
            item["reply"] = context
        return item

    def _notification_view(self, n: Notification) -> dict[str, Any]:
        view: dict[str, Any] = {
            "uri": n.post.uri,
            "cid": n.post.cid,
            "author": self._profile(n.post.author),
            "reason": n.reason,
            "record": n.post.record,
            "isRead": self.seen_at is not None and _parse(n.post.indexed_at) <= _parse(self.seen_at),
            "indexedAt": n.post.indexed_at,
            "labels": [],
        }
        if n.reason_subject:
            view["reasonSubject"] = n.reason_subject
        return view

    def _convo_view(self, convo: Convo) -> dict[str, Any]:
        view: dict[str, Any] = {
            "id": convo.id,
            "rev": convo.rev,
            "members": [self._profile(d) for d in convo.members],
            "muted": False,
            "status": "accepted",
            "unreadCount": 0,
        }
        if convo.messages:
            view["lastMessage"] = convo.messages[-1]
        return view

    # --- customer activity (Python API; the /_fake endpoints call these) -------------------------------

    def _mention_facets(self, text: str) -> list[dict[str, Any]]:
        facets = []
        for account in self.accounts.values():
            for match in re.finditer(rf"(?<![\w@])@{re.escape(account.handle)}(?![\w.-])", text):
                start = len(text[: match.start()].encode())
                end = start + len(match.group(0).encode())
                facets.append(
                    {
                        "$type": FACET,
                        "index": {"byteStart": start, "byteEnd": end},
                        "features": [{"$type": f"{FACET}#mention", "did": account.did}],
                    }
                )
        return sorted(facets, key=lambda f: f["index"]["byteStart"])

    def _store_post(self, author: str, record: dict[str, Any]) -> Post:
        rkey = self._tid()
        uri = f"at://{author}/{POST}/{rkey}"
        post = Post(
            uri=uri,
            cid=self._cid(record | {"uri": uri}),
            author=author,
            record=record,
            indexed_at=self._stamp(),
        )
        self.posts[uri] = post
        return post

    def post(
        self,
        author: str,
        text: str,
        *,
        reply_to: str | None = None,
        quote: str | None = None,
        langs: list[str] | None = None,
        created_at: str | None = None,
    ) -> Post:
        """A customer (or the brand, for setting up) publishes a post. `@handle` of a known account in the
        text becomes a mention facet, as a client would write it. The brand is notified of mentions,
        replies to its posts or in its threads, and quotes of its posts, never of its own posts."""
        with self._lock:
            account = self.account(author)
            record: dict[str, Any] = {"$type": POST, "text": text, "createdAt": created_at or self._stamp()}
            if langs:
                record["langs"] = langs
            facets = self._mention_facets(text)
            if facets:
                record["facets"] = facets
            parent = root = None
            if reply_to:
                parent = self.posts.get(reply_to)
                if parent is None:
                    raise KeyError(f"no post {reply_to}")
                root_ref = (parent.record.get("reply") or {}).get("root") or {
                    "uri": parent.uri,
                    "cid": parent.cid,
                }
                root = self.posts.get(root_ref["uri"])
                record["reply"] = {"root": root_ref, "parent": {"uri": parent.uri, "cid": parent.cid}}
            quoted = self.posts.get(quote) if quote else None
            if quote and quoted is None:
                raise KeyError(f"no post {quote}")
            if quoted is not None:
                record["embed"] = {
                    "$type": "app.bsky.embed.record",
                    "record": {"uri": quoted.uri, "cid": quoted.cid},
                }
            post = self._store_post(account.did, record)
            brand = self.brand.did
            if account.did != brand:
                if parent is not None and brand in (parent.author, root.author if root else None):
                    self.notifications.append(Notification(post, "reply", parent.uri))
                elif any(f["features"][0].get("did") == brand for f in facets):
                    self.notifications.append(Notification(post, "mention", None))
                elif quoted is not None and quoted.author == brand:
                    self.notifications.append(Notification(post, "quote", quoted.uri))
            return post

    def _convo_with(self, did: str) -> Convo | None:
        return next(
            (c for c in self.convos.values() if sorted(c.members) == sorted([self.brand.did, did])), None
        )

    def _open_convo(self, did: str) -> Convo:
        convo = self._convo_with(did)
        if convo is None:
            rev = self._tid()
            convo = Convo(id=self._tid(), members=[self.brand.did, did], rev=rev)
            self.convos[convo.id] = convo
            self.logs.append({"$type": "chat.bsky.convo.defs#logBeginConvo", "rev": rev, "convoId": convo.id})
        return convo

    def _add_message(self, convo: Convo, sender: str, text: str, facets: Any = None) -> dict[str, Any]:
        rev = self._tid()
        message: dict[str, Any] = {
            "$type": "chat.bsky.convo.defs#messageView",
            "id": self._tid(),
            "rev": rev,
            "text": text,
            "sender": {"did": sender},
            "sentAt": self._stamp(),
        }
        if facets:
            message["facets"] = facets
        convo.messages.append(message)
        convo.rev = rev
        self.logs.append(
            {
                "$type": "chat.bsky.convo.defs#logCreateMessage",
                "rev": rev,
                "convoId": convo.id,
                "message": message,
                "relatedProfiles": [self._profile(sender)],
            }
        )
        return message

    def dm(self, author: str, text: str) -> dict[str, Any]:
        """A customer writes to the brand privately (opening the 1:1 conversation if needed)."""
        with self._lock:
            account = self.account(author)
            convo = self._open_convo(account.did)
            return {"convoId": convo.id, **self._add_message(convo, account.did, text)}

    def lock_convo(self, convo_id: str) -> None:
        with self._lock:
            self.convos[convo_id].locked = True

    def limit_replies(self, uri: str) -> None:
        """The post's author limits who may reply (a threadgate the brand does not pass)."""
        with self._lock:
            self.posts[uri].reply_disabled = True

    def delete_post(self, uri: str) -> None:
        with self._lock:
            self.posts.pop(uri, None)

    def fail_next(self, *statuses: int, methods: list[str] | None = None) -> None:
        """The next requests (of `methods`, or any) answer these statuses; 0 hangs past the timeout."""
        with self._lock:
            self.failures.extend(Failure(s, frozenset(methods) if methods else None) for s in statuses)

    def author_feed(self, did: str) -> list[Post]:
        with self._lock:
            return sorted((p for p in self.posts.values() if p.author == did), key=lambda p: p.indexed_at)

    def count(self, nsid: str) -> int:
        with self._lock:
            return sum(1 for c in self.calls if c.nsid == nsid)

    def state(self) -> dict[str, Any]:
        with self._lock:
            counts: dict[str, int] = {}
            for c in self.calls:
                counts[c.nsid] = counts.get(c.nsid, 0) + 1
            return {"seenAt": self.seen_at, "calls": counts, "published": len(self.published)}

    # --- tokens and limits -----------------------------------------------------------------------------

    def _jwt(self, did: str, kind: str, dm_access: bool) -> str:
        now = time.time()
        ttl = self.access_ttl if kind == "access" else self.refresh_ttl
        header = {"typ": "at+jwt" if kind == "access" else "refresh+jwt", "alg": "HS256"}
        scope = "com.atproto.refresh"
        if kind == "access":
            scope = "com.atproto.appPassPrivileged" if dm_access else "com.atproto.appPass"
        claims = {
            "scope": scope,
            "sub": did,
            "aud": "did:web:fake.pds",
            "iat": int(now),
            "exp": int(now + ttl),
        }
        claims["jti"] = _b64(hashlib.sha256(f"{now}{self._tid()}".encode()).digest())[:22]
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = _b64(hmac.new(self._secret, signing_input.encode(), hashlib.sha256).digest())
        token = f"{signing_input}.{signature}"
        self.tokens[token] = Token(did=did, kind=kind, exp=now + ttl, dm_access=dm_access)
        return token

    def _session(self, account: Account, dm_access: bool) -> dict[str, Any]:
        return {
            "accessJwt": self._jwt(account.did, "access", dm_access),
            "refreshJwt": self._jwt(account.did, "refresh", dm_access),
            "handle": account.handle,
            "did": account.did,
            "active": True,
        }

    def _reset_header(self, reset_at: float) -> str:
        if self.reset_style == "delta":
            return str(max(0, round(reset_at - time.time())))
        return str(int(reset_at))

    def _limit_headers(self, window: Window, remaining: int, reset_at: float) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(window.limit),
            "RateLimit-Remaining": str(max(0, remaining)),
            "RateLimit-Reset": self._reset_header(reset_at),
            "RateLimit-Policy": f"{window.limit};w={window.seconds}",
        }

    def _spend(self, key: str, limit: int, seconds: int, cost: int = 1) -> dict[str, str]:
        now = time.time()
        window = self._windows.get(key)
        if window is None or now >= window.start + window.seconds:
            window = Window(limit=limit, seconds=seconds, start=now)
            self._windows[key] = window
        reset_at = window.start + window.seconds
        if window.used + cost > window.limit:
            headers = self._limit_headers(window, 0, reset_at)
            raise XrpcError(429, "RateLimitExceeded", "Rate Limit Exceeded", headers)
        window.used += cost
        return self._limit_headers(window, window.limit - window.used, reset_at)

    def _auth(self, call: Call, kind: str) -> Token:
        header = call.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            raise XrpcError(401, "AuthMissing", "Authentication Required")
        token = self.tokens.get(header[7:])
        if token is None:
            raise XrpcError(401, "InvalidToken", "Token could not be verified")
        if token.kind != kind:
            raise XrpcError(400, "InvalidToken", "Invalid token type")
        if time.time() >= token.exp:
            raise XrpcError(400, "ExpiredToken", "Token has expired")
        return token

    # --- XRPC methods ----------------------------------------------------------------------------------

    @staticmethod
    def _one(call: Call, name: str, *, required: bool = False) -> str | None:
        values = call.params.get(name) or []
        if not values:
            if required:
                raise XrpcError(400, "InvalidRequest", f'Error: Params must have the property "{name}"')
            return None
        return values[0]

    def _limit(self, call: Call, default: int = 50) -> int:
        raw = self._one(call, "limit")
        try:
            value = int(raw) if raw is not None else default
        except ValueError:
            raise XrpcError(400, "InvalidRequest", "Error: limit must be an integer") from None
        if not 1 <= value <= 100:
            raise XrpcError(400, "InvalidRequest", "Error: limit must be between 1 and 100")
        return min(value, self.page_size)

    def _body(self, call: Call, *names: str) -> dict[str, Any]:
        if not isinstance(call.body, dict):
            raise XrpcError(400, "InvalidRequest", "Input must be a JSON object")
        for name in names:
            if name not in call.body:
                raise XrpcError(400, "InvalidRequest", f'Input must have the property "{name}"')
        return call.body

    def _create_session(self, call: Call) -> dict[str, Any]:
        body = self._body(call, "identifier", "password")
        account = self._find(str(body["identifier"]))
        key = f"login:{account.did if account else body['identifier']}"
        self._spend(key, 30, 300)
        self._spend(f"{key}:day", 300, 86400)
        if account is None or str(body["password"]) not in account.app_passwords:
            raise XrpcError(401, "AuthenticationRequired", "Invalid identifier or password")
        return self._session(account, account.app_passwords[str(body["password"])])

    def _refresh_session(self, call: Call) -> dict[str, Any]:
        token = self._auth(call, "refresh")
        header = call.headers["authorization"][7:]
        del self.tokens[header]  # a refresh token is used once
        return self._session(self.accounts[token.did], token.dm_access)

    def _list_notifications(self, call: Call) -> dict[str, Any]:
        limit = self._limit(call)
        reasons = set(call.params.get("reasons") or [])
        cursor = self._one(call, "cursor")
        items = sorted(self.notifications, key=lambda n: n.post.indexed_at, reverse=True)
        if reasons:
            items = [n for n in items if n.reason in reasons]
        if cursor:
            items = [n for n in items if n.post.indexed_at < cursor]
        page = items[:limit]
        out: dict[str, Any] = {"notifications": [self._notification_view(n) for n in page], "priority": False}
        if page:
            out["cursor"] = page[-1].post.indexed_at
        if self.seen_at:
            out["seenAt"] = self.seen_at
        return out

    def _update_seen(self, call: Call) -> None:
        body = self._body(call, "seenAt")
        if not isinstance(body["seenAt"], str) or not _DATETIME.match(body["seenAt"]):
            raise XrpcError(400, "InvalidRequest", "Input/seenAt must be an valid datetime")
        self.seen_at = body["seenAt"]

    def _get_posts(self, call: Call) -> dict[str, Any]:
        uris = call.params.get("uris") or []
        if not uris:
            raise XrpcError(400, "InvalidRequest", 'Error: Params must have the property "uris"')
        if len(uris) > 25:
            raise XrpcError(400, "InvalidRequest", "Error: uris must not have more than 25 elements")
        return {"posts": [self._post_view(self.posts[u]) for u in uris if u in self.posts]}

    def _get_author_feed(self, call: Call) -> dict[str, Any]:
        actor = self._find(str(self._one(call, "actor", required=True)))
        if actor is None:
            raise XrpcError(400, "InvalidRequest", "Profile not found")
        limit = self._limit(call)
        cursor = self._one(call, "cursor")
        kind = self._one(call, "filter") or "posts_with_replies"
        if kind not in (
            "posts_with_replies",
            "posts_no_replies",
            "posts_with_media",
            "posts_and_author_threads",
            "posts_with_video",
        ):
            raise XrpcError(400, "InvalidRequest", f"Invalid filter: {kind}")
        posts = sorted(
            (p for p in self.posts.values() if p.author == actor.did),
            key=lambda p: p.indexed_at,
            reverse=True,
        )
        if kind == "posts_no_replies":
            posts = [p for p in posts if "reply" not in p.record]
        elif kind in ("posts_with_media", "posts_with_video"):
            posts = []  # the fake's posts carry no media
        elif kind == "posts_and_author_threads":
            posts = [
                p
                for p in posts
                if "reply" not in p.record
                or self.posts.get(p.record["reply"]["root"]["uri"], p).author == actor.did
            ]
        if cursor:
            posts = [p for p in posts if p.indexed_at < cursor]
        page = posts[:limit]
        out: dict[str, Any] = {"feed": [self._feed_item(p) for p in page]}
        if page:
            out["cursor"] = page[-1].indexed_at
        return out

    @staticmethod
    def _sort_at(post: Post) -> datetime:
        """The AppView's sort time: the earlier of the record's createdAt and indexedAt."""
        indexed = _parse(post.indexed_at)
        try:
            written = _parse(str(post.record.get("createdAt")))
        except ValueError:
            return indexed
        return min(indexed, written) if written.tzinfo else indexed

    @staticmethod
    def _search_time(call: Call, name: str) -> datetime | None:
        raw = FakeBluesky._one(call, name)
        if raw is None:
            return None
        try:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
                return datetime.fromisoformat(raw).replace(tzinfo=UTC)
            if not _DATETIME.match(raw):
                raise ValueError(raw)
            return _parse(raw)
        except ValueError:
            raise XrpcError(400, "InvalidRequest", f"Error: {name} must be a valid datetime") from None

    @staticmethod
    def _search_terms(q: str) -> list[list[str]]:
        """Each term of a query as its words: a "quoted phrase" is one term of several words."""
        terms: list[list[str]] = []
        for phrase, word in re.findall(r'"([^"]*)"|(\S+)', q):
            words = re.findall(r"\w+", (phrase or word).casefold())
            if words:
                terms.append(words)
        return terms

    @staticmethod
    def _has_term(words: list[str], term: list[str]) -> bool:
        n = len(term)
        return any(words[i : i + n] == term for i in range(len(words) - n + 1))

    def _search_posts(self, call: Call) -> dict[str, Any]:
        q = self._one(call, "q", required=True) or ""
        sort = self._one(call, "sort") or "latest"
        if sort not in ("latest", "top"):
            raise XrpcError(400, "InvalidRequest", "Error: sort must be one of latest, top")
        limit = self._limit(call, default=25)
        since, until = self._search_time(call, "since"), self._search_time(call, "until")
        lang = self._one(call, "lang")
        raw_cursor = self._one(call, "cursor")
        try:
            offset = int(raw_cursor) if raw_cursor else 0
        except ValueError:
            raise XrpcError(400, "InvalidRequest", "Error: invalid cursor") from None
        terms = self._search_terms(q)
        hits: list[tuple[datetime, Post]] = []
        for post in self.posts.values():
            text = post.record.get("text")
            if not terms or not isinstance(text, str):
                continue
            words = re.findall(r"\w+", text.casefold())
            if not all(self._has_term(words, term) for term in terms):
                continue
            if lang and lang not in (post.record.get("langs") or []):
                continue
            sort_at = self._sort_at(post)
            if (since and sort_at < since) or (until and sort_at >= until):
                continue
            hits.append((sort_at, post))
        hits.sort(key=lambda h: (h[0], h[1].uri), reverse=True)  # "top" ranks the same: no likes here
        page = hits[max(0, offset) : max(0, offset) + limit]
        out: dict[str, Any] = {"posts": [self._post_view(p) for _, p in page], "hitsTotal": len(hits)}
        if offset + limit < len(hits):
            out["cursor"] = str(offset + limit)
        return out

    def _resolve_handle(self, call: Call) -> dict[str, Any]:
        account = self._find(str(self._one(call, "handle", required=True)))
        if account is None:
            raise XrpcError(400, "HandleNotFound", "Unable to resolve handle")
        return {"did": account.did}

    @staticmethod
    def _check_ref(value: Any, where: str) -> None:
        if not (
            isinstance(value, dict)
            and isinstance(value.get("uri"), str)
            and value["uri"].startswith("at://")
            and isinstance(value.get("cid"), str)
            and value["cid"]
        ):
            raise XrpcError(
                400, "InvalidRequest", f"Invalid app.bsky.feed.post record: {where} must be a strongRef"
            )

    @staticmethod
    def _check_facets(facets: Any) -> None:
        if facets is None:
            return
        if not isinstance(facets, list):
            raise XrpcError(400, "InvalidRequest", "facets must be an array")
        for facet in facets:
            index = facet.get("index") if isinstance(facet, dict) else None
            features = facet.get("features") if isinstance(facet, dict) else None
            if not (
                isinstance(index, dict)
                and all(isinstance(index.get(k), int) and index[k] >= 0 for k in ("byteStart", "byteEnd"))
            ):
                raise XrpcError(400, "InvalidRequest", "facet index must have byteStart and byteEnd >= 0")
            if not (
                isinstance(features, list)
                and features
                and all(isinstance(f, dict) and isinstance(f.get("$type"), str) for f in features)
            ):
                raise XrpcError(400, "InvalidRequest", "facet features must be typed objects")

    def _create_record(self, call: Call, token: Token) -> tuple[dict[str, Any], dict[str, str]]:
        body = self._body(call, "repo", "collection", "record")
        if body["repo"] not in (token.did, self.accounts[token.did].handle):
            raise XrpcError(400, "InvalidRequest", "Input/repo must be the authenticated account")
        if body["collection"] != POST:
            raise XrpcError(400, "InvalidRequest", "this fake PDS stores app.bsky.feed.post records only")
        record = body["record"]
        if not isinstance(record, dict) or record.get("$type") != POST:
            raise XrpcError(
                400, "InvalidRequest", "Invalid app.bsky.feed.post record: $type must be app.bsky.feed.post"
            )
        text = record.get("text")
        if not isinstance(text, str):
            raise XrpcError(
                400,
                "InvalidRequest",
                'Invalid app.bsky.feed.post record: Record must have the property "text"',
            )
        if len(text.encode()) > 3000 or _graphemes(text) > 300:
            raise XrpcError(
                400,
                "InvalidRequest",
                "Invalid app.bsky.feed.post record: Record/text must not be longer than 300 graphemes",
            )
        if not isinstance(record.get("createdAt"), str) or not _DATETIME.match(record["createdAt"]):
            raise XrpcError(
                400,
                "InvalidRequest",
                "Invalid app.bsky.feed.post record: Record/createdAt must be an valid datetime",
            )
        reply = record.get("reply")
        if reply is not None:
            if not isinstance(reply, dict):
                raise XrpcError(
                    400, "InvalidRequest", "Invalid app.bsky.feed.post record: reply must be an object"
                )
            self._check_ref(reply.get("root"), "Record/reply/root")
            self._check_ref(reply.get("parent"), "Record/reply/parent")
        self._check_facets(record.get("facets"))
        headers = self._spend(f"points:{token.did}", 5000, 3600, cost=3)
        post = self._store_post(token.did, record)
        self.published.append(
            {"kind": "post", "uri": post.uri, "cid": post.cid, "record": record, "at": post.indexed_at}
        )
        rev = self._tid()
        return {
            "uri": post.uri,
            "cid": post.cid,
            "commit": {"cid": self._cid({"rev": rev}), "rev": rev},
            "validationStatus": "valid",
        }, headers

    def _get_log(self, call: Call) -> dict[str, Any]:
        cursor = self._one(call, "cursor")
        logs = [entry for entry in self.logs if cursor is None or entry["rev"] > cursor]
        page = logs[: self.page_size]
        out: dict[str, Any] = {"logs": page}
        latest = page[-1]["rev"] if page else cursor or (self.logs[-1]["rev"] if self.logs else None)
        if latest:
            out["cursor"] = latest
        return out

    def _get_convo_for_members(self, call: Call, token: Token) -> dict[str, Any]:
        members = [m for m in call.params.get("members") or [] if m != token.did]
        if not call.params.get("members"):
            raise XrpcError(400, "InvalidRequest", 'Error: Params must have the property "members"')
        if len(members) != 1:
            raise XrpcError(400, "InvalidRequest", "this fake chat service holds 1:1 conversations only")
        if not members[0].startswith("did:"):
            raise XrpcError(400, "InvalidRequest", "Error: members/0 must be a valid did")
        other = self.accounts.get(members[0])
        if other is None:
            raise XrpcError(400, "RecipientNotFound", "recipient not found")
        convo = self._convo_with(other.did)
        if convo is None:
            if other.allow_incoming == "none":
                raise XrpcError(400, "MessagesDisabled", "recipient has disabled incoming messages")
            if other.allow_incoming == "following" and not other.follows_brand:
                raise XrpcError(
                    400,
                    "NotFollowedBySender",
                    "recipient requires incoming messages to come from someone they follow",
                )
            convo = self._open_convo(other.did)
        return {"convo": self._convo_view(convo)}

    def _convo(self, convo_id: Any, did: str) -> Convo:
        convo = self.convos.get(str(convo_id))
        if convo is None or did not in convo.members:
            raise XrpcError(400, "InvalidConvo", "Convo not found")
        return convo

    def _send_message(self, call: Call, token: Token) -> dict[str, Any]:
        body = self._body(call, "convoId", "message")
        convo = self._convo(body["convoId"], token.did)
        message = body["message"]
        if not isinstance(message, dict) or not isinstance(message.get("text"), str):
            raise XrpcError(400, "InvalidRequest", 'Input/message must have the property "text"')
        text = message["text"]
        if len(text.encode()) > 10000 or _graphemes(text) > 1000:
            raise XrpcError(
                400, "InvalidRequest", "Input/message/text must not be longer than 1000 graphemes"
            )
        self._check_facets(message.get("facets"))
        if convo.locked:
            raise XrpcError(400, "ConvoLocked", "convo is locked")
        view = self._add_message(convo, token.did, text, message.get("facets"))
        recipient = next(m for m in convo.members if m != token.did)
        self.published.append(
            {
                "kind": "dm",
                "id": view["id"],
                "convoId": convo.id,
                "text": text,
                "recipient": recipient,
                "facets": message.get("facets"),
                "at": view["sentAt"],
            }
        )
        return view

    def _get_messages(self, call: Call, token: Token) -> dict[str, Any]:
        convo = self._convo(self._one(call, "convoId", required=True), token.did)
        limit = self._limit(call)
        cursor = self._one(call, "cursor")
        messages = list(reversed(convo.messages))
        if cursor:
            messages = [m for m in messages if m["rev"] < cursor]
        page = messages[:limit]
        out: dict[str, Any] = {"messages": page}
        if len(messages) > limit:
            out["cursor"] = page[-1]["rev"]
        return out

    def _list_convos(self, call: Call, token: Token) -> dict[str, Any]:
        limit = self._limit(call)
        convos = sorted(
            (c for c in self.convos.values() if token.did in c.members), key=lambda c: c.rev, reverse=True
        )
        return {"convos": [self._convo_view(c) for c in convos[:limit]]}

    def _handle(self, method: str, call: Call) -> tuple[int, Any, dict[str, str]]:
        """Run one XRPC call (under the lock); returns status, JSON body and extra headers."""
        queries: dict[str, Callable[[Call, Token], Any]] = {
            "app.bsky.notification.listNotifications": lambda c, t: self._list_notifications(c),
            "app.bsky.feed.getPosts": lambda c, t: self._get_posts(c),
            "app.bsky.feed.getAuthorFeed": lambda c, t: self._get_author_feed(c),
            "app.bsky.feed.searchPosts": lambda c, t: self._search_posts(c),
            "com.atproto.identity.resolveHandle": lambda c, t: self._resolve_handle(c),
        }
        chat_queries: dict[str, Callable[[Call, Token], Any]] = {
            "chat.bsky.convo.getLog": lambda c, t: self._get_log(c),
            "chat.bsky.convo.getConvoForMembers": self._get_convo_for_members,
            "chat.bsky.convo.getMessages": self._get_messages,
            "chat.bsky.convo.listConvos": self._list_convos,
        }
        procedures = {
            "app.bsky.notification.updateSeen",
            "com.atproto.repo.createRecord",
            "chat.bsky.convo.sendMessage",
            "com.atproto.server.createSession",
            "com.atproto.server.refreshSession",
        }
        nsid = call.nsid
        known = set(queries) | set(chat_queries) | procedures
        if nsid not in known:
            raise XrpcError(501, "MethodNotImplemented", "Method Not Implemented")
        if (method == "GET") != (nsid not in procedures):
            raise XrpcError(400, "InvalidRequest", f"Incorrect HTTP method ({method}) for {nsid}")
        headers = self._spend("ip:127.0.0.1", 3000, 300)
        if nsid == "com.atproto.server.createSession":
            return 200, self._create_session(call), headers
        if nsid == "com.atproto.server.refreshSession":
            return 200, self._refresh_session(call), headers
        token = self._auth(call, "access")
        call.auth = token
        if nsid.startswith("chat."):
            if call.headers.get("atproto-proxy") != CHAT_PROXY:
                raise XrpcError(
                    400, "InvalidRequest", f"chat methods need the header atproto-proxy: {CHAT_PROXY}"
                )
            if not token.dm_access:
                raise XrpcError(401, "InvalidToken", "Bad token scope")
        if nsid in queries:
            return 200, queries[nsid](call, token), headers
        if nsid in chat_queries:
            return 200, chat_queries[nsid](call, token), headers
        if nsid == "app.bsky.notification.updateSeen":
            self._update_seen(call)
            return 200, None, headers
        if nsid == "com.atproto.repo.createRecord":
            body, points = self._create_record(call, token)
            return 200, body, headers | points
        return 200, self._send_message(call, token), headers

    def _take_failure(self, nsid: str) -> int | None:
        for i, failure in enumerate(self.failures):
            if failure.methods is None or nsid in failure.methods:
                del self.failures[i]
                return failure.status
        return None

    def _failure_response(self, status: int) -> JSONResponse:
        if status == 429:
            window = Window(limit=3000, seconds=300)
            headers = self._limit_headers(window, 0, time.time() + self.rate_limit_wait)
            return JSONResponse(
                {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}, 429, headers
            )
        error = "InternalServerError" if status == 500 else "UpstreamFailure"
        return JSONResponse({"error": error, "message": "Internal Server Error"}, status)

    # --- the app ---------------------------------------------------------------------------------------

    def _build(self) -> FastAPI:
        app = FastAPI(title="fake Bluesky")

        @app.api_route("/xrpc/{nsid}", methods=["GET", "POST"])
        async def xrpc(nsid: str, request: Request) -> Response:
            raw = await request.body()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                return JSONResponse({"error": "InvalidRequest", "message": "Request body is not JSON"}, 400)
            params: dict[str, list[str]] = {}
            for name, value in request.query_params.multi_items():
                params.setdefault(name, []).append(value)
            call = Call(
                nsid=nsid,
                params=params,
                body=body,
                headers={k.lower(): v for k, v in request.headers.items()},
            )
            with self._lock:
                self.calls.append(call)
                failure = self._take_failure(nsid)
            if failure == 0:
                await asyncio.sleep(self.hang_seconds)  # the client gives up first; nothing is done
                return JSONResponse({"error": "UpstreamTimeout", "message": "too slow"}, 504)
            if failure is not None:
                with self._lock:
                    return self._failure_response(failure)
            try:
                with self._lock:
                    status, out, headers = self._handle(request.method, call)
            except XrpcError as exc:
                return JSONResponse({"error": exc.error, "message": exc.message}, exc.status, exc.headers)
            if out is None:
                return Response(status_code=status, headers=headers)
            return JSONResponse(out, status, headers)

        @app.post("/_fake/accounts")
        async def add_account(request: Request) -> JSONResponse:
            data = await request.json()
            account = self.add_account(
                str(data["handle"]),
                did=data.get("did"),
                display_name=data.get("display_name"),
                allow_incoming=str(data.get("allow_incoming", "all")),
                follows_brand=bool(data.get("follows_brand", False)),
            )
            return JSONResponse({"did": account.did, "handle": account.handle}, 201)

        @app.post("/_fake/posts")
        async def add_post(request: Request) -> JSONResponse:
            data = await request.json()
            try:
                post = self.post(
                    str(data["author"]),
                    str(data["text"]),
                    reply_to=data.get("reply_to"),
                    quote=data.get("quote"),
                    langs=data.get("langs"),
                    created_at=data.get("created_at"),
                )
            except KeyError as exc:
                return JSONResponse({"error": str(exc)}, 404)
            return JSONResponse({"uri": post.uri, "cid": post.cid}, 201)

        @app.post("/_fake/dms")
        async def add_dm(request: Request) -> JSONResponse:
            data = await request.json()
            message = self.dm(str(data["author"]), str(data["text"]))
            return JSONResponse({"id": message["id"], "convoId": message["convoId"]}, 201)

        @app.get("/_fake/published")
        def published() -> JSONResponse:
            with self._lock:
                return JSONResponse(list(self.published))

        @app.get("/_fake/state")
        def state() -> JSONResponse:
            return JSONResponse(self.state())

        @app.post("/_fake/fail")
        async def fail(request: Request) -> JSONResponse:
            data = await request.json()
            self.fail_next(*[int(s) for s in data["statuses"]], methods=data.get("methods"))
            return JSONResponse({"queued": len(data["statuses"])})

        @app.post("/_fake/convos/{convo_id}/lock")
        def lock(convo_id: str) -> JSONResponse:
            if convo_id not in self.convos:
                return JSONResponse({"error": "unknown convo"}, 404)
            self.lock_convo(convo_id)
            return JSONResponse({"locked": True})

        @app.post("/_fake/limit_replies")
        async def limit_replies(request: Request) -> JSONResponse:
            uri = str((await request.json())["uri"])
            if uri not in self.posts:
                return JSONResponse({"error": "unknown post"}, 404)
            self.limit_replies(uri)
            return JSONResponse({"replyDisabled": True})

        @app.post("/_fake/settings")
        async def settings(request: Request) -> JSONResponse:
            data = await request.json()
            with self._lock:
                for name in ("access_ttl", "reset_style", "page_size", "hang_seconds", "rate_limit_wait"):
                    if name in data:
                        setattr(self, name, data[name])
            return JSONResponse({"ok": True})

        @app.get("/", response_class=HTMLResponse)
        def home() -> str:
            with self._lock:
                rows = []
                for p in reversed(self.published[-50:]):
                    text = p["record"]["text"] if p["kind"] == "post" else p["text"]
                    kind = "reply" if p["kind"] == "post" else "direct message"
                    rows.append(f"<li>{kind} · {escape(text)}</li>")
            return (
                "<!doctype html><meta charset=utf-8><title>Fake Bluesky</title>"
                f"<h1>What caredesk published as @{escape(self.brand.handle)}</h1><ul>"
                + "".join(rows)
                + "</ul>"
            )

        return app
