"""A local stand-in for Meta's Graph API: Facebook Pages (feed, comments, Messenger) and Instagram
professional accounts (comments, DMs), as described in section 4 of the platform API notes.

Graph side (under `/{version}/…`, Page access token as `Authorization: Bearer` or `access_token`):

- `GET /{page-id}?fields=id,name,instagram_business_account`, `GET /{comment-id}?fields=…` (with
  `parent`, `can_reply_privately`, `private_reply_conversation`), `GET /{ig-user-id}`;
- `GET /{page-id}/feed?fields=…,comments.filter(stream).limit(n){…}&since=&until=&limit=&after=`:
  newest posts first, cursor paging (`paging.cursors.after`, `paging.next` absent on the last page);
- `GET|POST /{post-or-comment-id}/comments` (filter toplevel|stream, order, cursor paging; POST `message`);
- `GET|POST /{ig-comment-id}/replies`;
- `POST /{page-id}/messages` (or `/me/messages`): Messenger and Instagram DMs by `recipient.id`, private
  replies by `recipient.comment_id` (once per comment, within 7 days). Windows are enforced: outside 24 h
  of the person's last message only `MESSAGE_TAG` + `HUMAN_AGENT` passes, up to 7 days; otherwise the real
  error `{"code":10,"error_subcode":2018278}`;
- `GET /{page-id}/conversations?platform=messenger|instagram&user_id=…`, `GET /{conversation-id}/messages`;
- `POST /{page-id}/subscribed_apps?subscribed_fields=…`.

Errors have Graph's shape `{"error":{"message","type","code","error_subcode","fbtrace_id"}}`. Injected
rate limits answer HTTP 400 with code 32 (reads) or 613 (writes) and an `X-Business-Use-Case-Usage` header
whose `estimated_time_to_regain_access` is in minutes.

Webhooks: customer activity injected here is queued as Meta would post it (for the fields the Page or
account is subscribed to) and pushed, signed with `X-Hub-Signature-256` over `json.dumps(…,
ensure_ascii=True)` bytes, to the callback URL of each object (`page`, `instagram`). `handshake()` plays
Meta's `hub.challenge` check against that URL.

Admin side (`/_fake/…`, and the same as Python methods): create pages, inject posts, comments and messages
(with a chosen timestamp), push webhooks, run the handshake, read what was published, fail the next
requests (rate limit, 5xx, or hang past the client's timeout, recording nothing).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

STANDARD_WINDOW = timedelta(hours=24)
TAG_WINDOW = timedelta(days=7)
PRIVATE_REPLY_WINDOW = timedelta(days=7)
TEXT_LIMITS = {"messenger": 2000, "instagram": 1000}
MESSAGE_TAGS = frozenset({"HUMAN_AGENT", "ACCOUNT_UPDATE", "CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE"})
_VERSION = re.compile(r"^v\d+\.\d+$")


def _now() -> datetime:
    return datetime.now(UTC)


def graph_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def parse_when(value: object, default: datetime) -> datetime:
    """Admin timestamps: None (now), unix seconds, or ISO-8601."""
    if value is None:
        return default
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), tz=UTC)
    parsed = datetime.fromisoformat(str(value))
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --- state ---------------------------------------------------------------------------------------------


@dataclass
class FakePage:
    page_id: str
    name: str
    token: str
    app_secret: str
    verify_token: str
    ig_id: str | None = None
    ig_username: str | None = None
    hooks: dict[str, str] = field(default_factory=dict)  # webhook object ("page"/"instagram") -> URL
    subscribed: set[str] = field(default_factory=lambda: {"feed", "messages"})
    ig_subscribed: set[str] = field(default_factory=lambda: {"comments", "messages"})
    app_id: str = "555000111"


@dataclass
class Post:
    id: str
    page_id: str
    author_id: str
    author_name: str
    text: str
    created: datetime


@dataclass
class Media:
    id: str
    ig_id: str
    caption: str
    created: datetime
    product_type: str = "FEED"


@dataclass
class Comment:
    id: str
    platform: str  # "facebook" | "instagram"
    owner: str  # page id or Instagram account id
    object_id: str  # the post or media commented on
    parent_id: str | None  # the top-level comment this one answers
    author_id: str
    author_name: str
    text: str
    created: datetime


@dataclass
class Message:
    id: str
    platform: str  # "messenger" | "instagram"
    page_id: str
    user_id: str  # the person (PSID / IGSID)
    from_id: str
    to_id: str
    text: str
    created: datetime
    reply_to: str | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    messaging_type: str | None = None
    tag: str | None = None
    comment_id: str | None = None  # a private reply: the comment it answers
    metadata: str | None = None


@dataclass
class User:
    id: str
    platform: str
    page_id: str
    name: str


@dataclass
class Failure:
    on: str  # "read" (GET), "write" (POST) or "any"
    status: int  # 429 (rate limit), 5xx, 0 (hang); or the HTTP status of `error`
    error: dict[str, Any] | None = None


@dataclass(frozen=True)
class Handshake:
    ok: bool
    status: int
    body: str
    challenge: str


class GraphFailure(Exception):
    def __init__(self, status: int, error: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(error.get("message"))
        self.status = status
        self.error = error
        self.headers = headers or {}


def graph_error(
    status: int, code: int, message: str, *, subcode: int | None = None, kind: str = "OAuthException"
) -> GraphFailure:
    error: dict[str, Any] = {"message": message, "type": kind, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    return GraphFailure(status, error)


def _no_object(node: str) -> GraphFailure:
    return graph_error(
        400,
        100,
        f"Unsupported get request. Object with ID '{node}' does not exist, cannot be loaded due to missing "
        "permissions, or does not support this operation.",
        subcode=33,
        kind="GraphMethodException",
    )


# --- field expansion: "id,message,comments.filter(stream).limit(5){id,from}" ---------------------------


@dataclass
class FieldSpec:
    modifiers: dict[str, str] = field(default_factory=dict)
    fields: dict[str, FieldSpec] | None = None


def parse_fields(text: str | None) -> dict[str, FieldSpec]:
    out: dict[str, FieldSpec] = {}
    if not text:
        return out
    depth, start, items = 0, 0, []
    for i, ch in enumerate(text):
        if ch in "{(":
            depth += 1
        elif ch in "})":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    for raw in items:
        item = raw.strip()
        if not item:
            continue
        sub: dict[str, FieldSpec] | None = None
        brace = item.find("{")
        if brace >= 0 and item.endswith("}"):
            sub = parse_fields(item[brace + 1 : -1])
            item = item[:brace]
        name, *mods = re.findall(r"[^.(]+(?:\([^)]*\))?", item)
        modifiers = {}
        for mod in mods:
            match = re.fullmatch(r"([a-z_]+)\(([^)]*)\)", mod.strip("."))
            if match:
                modifiers[match.group(1)] = match.group(2)
        out[name.strip()] = FieldSpec(modifiers, sub)
    return out


def _encode_cursor(key: tuple[Any, ...]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def _decode_cursor(value: str) -> tuple[Any, ...]:
    try:
        padded = value + "=" * (-len(value) % 4)
        return tuple(json.loads(base64.urlsafe_b64decode(padded.encode())))
    except (ValueError, TypeError):
        raise graph_error(400, 100, "(#100) Invalid cursor", kind="OAuthException") from None


# --- the network ---------------------------------------------------------------------------------------


class FakeMetaGraph:
    def __init__(self, *, clock: Callable[[], datetime] = _now, max_page_size: int = 100) -> None:
        self.clock = clock
        self.max_page_size = max_page_size
        self.hang_seconds = 3.0
        self.regain_minutes = 1  # estimated_time_to_regain_access of injected rate limits
        self.base_url = ""  # set by the server's first request (for paging.next)
        self.pages: dict[str, FakePage] = {}
        self.posts: dict[str, Post] = {}
        self.media: dict[str, Media] = {}
        self.comments: dict[str, Comment] = {}
        self.messages: list[Message] = []
        self.users: dict[str, User] = {}
        self.private_replies: dict[str, str] = {}  # comment id -> message id
        self.commenter_psid: dict[tuple[str, str], str] = {}  # (page, commenter id) -> PSID
        self.published: list[dict[str, Any]] = []
        self.pending: dict[tuple[str, str], list[dict[str, Any]]] = {}  # (page id, object) -> entries
        self.deliveries: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []  # every Graph request, as received (method, path, body)
        self.failures: list[Failure] = []
        self.echoed: set[str] = set()
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self.app = self._build()

    def _next(self) -> int:
        return next(self._ids)

    # --- admin: setup ----------------------------------------------------------------------------------

    def add_page(
        self,
        page_id: str,
        *,
        name: str = "Acme",
        token: str,
        app_secret: str,
        verify_token: str = "",
        ig_id: str | None = None,
        ig_username: str | None = None,
    ) -> FakePage:
        with self._lock:
            page = FakePage(page_id, name, token, app_secret, verify_token, ig_id, ig_username)
            self.pages[page_id] = page
            return page

    def set_hook(self, page_id: str, url: str, *, obj: str = "page") -> None:
        with self._lock:
            self.pages[page_id].hooks[obj] = url

    def subscribe(self, page_id: str, fields: set[str], *, obj: str = "page") -> None:
        with self._lock:
            page = self.pages[page_id]
            if obj == "page":
                page.subscribed = set(fields)
            else:
                page.ig_subscribed = set(fields)

    def fail_next(self, *statuses: int, on: str = "any") -> None:
        """The next matching requests fail: 429 (a Graph rate limit), 5xx, or 0 (hang past the timeout)."""
        with self._lock:
            self.failures.extend(Failure(on, status) for status in statuses)

    def fail_with(self, error: dict[str, Any], *, status: int = 400, on: str = "any") -> None:
        """The next matching request gets this Graph error object (e.g. code 551)."""
        with self._lock:
            self.failures.append(Failure(on, status, error))

    # --- admin: customer activity ----------------------------------------------------------------------

    def add_post(
        self,
        page_id: str,
        text: str,
        *,
        author_id: str | None = None,
        author_name: str | None = None,
        created: object = None,
    ) -> str:
        """A post on the Page: by the Page itself (default) or by a visitor (author_id)."""
        with self._lock:
            page = self.pages[page_id]
            post = Post(
                id=f"{page_id}_{self._next() + 9_000_000}",
                page_id=page_id,
                author_id=author_id or page_id,
                author_name=author_name or page.name,
                text=text,
                created=parse_when(created, self.clock()),
            )
            self.posts[post.id] = post
            if post.author_id != page_id:
                self._queue_feed(page, "post", "add", post=post)
            return post.id

    def add_comment(
        self,
        page_id: str,
        post_id: str,
        text: str,
        *,
        author_id: str,
        author_name: str = "",
        parent_id: str | None = None,
        created: object = None,
    ) -> str:
        """A Facebook comment on a Page post (or a reply to a comment, with parent_id)."""
        with self._lock:
            page = self.pages[page_id]
            if post_id not in self.posts:
                raise KeyError(f"no post {post_id}")
            comment = self._new_comment(
                "facebook",
                page_id,
                post_id,
                self._top_level(parent_id),
                author_id,
                author_name,
                text,
                created,
            )
            self._queue_feed(page, "comment", "add", comment=comment)
            return comment.id

    def edit_comment(self, comment_id: str, text: str) -> None:
        with self._lock:
            comment = self.comments[comment_id]
            comment.text = text
            self._queue_feed(self.pages[comment.owner], "comment", "edited", comment=comment)

    def remove_comment(self, comment_id: str) -> None:
        with self._lock:
            comment = self.comments.pop(comment_id)
            self._queue_feed(self.pages[comment.owner], "comment", "remove", comment=comment)

    def add_media(self, ig_id: str, caption: str = "", *, created: object = None) -> str:
        with self._lock:
            media = Media(
                str(17_900_000_000_000_000 + self._next()), ig_id, caption, parse_when(created, self.clock())
            )
            self.media[media.id] = media
            return media.id

    def add_ig_comment(
        self,
        ig_id: str,
        media_id: str,
        text: str,
        *,
        author_id: str,
        username: str = "",
        parent_id: str | None = None,
        created: object = None,
    ) -> str:
        with self._lock:
            page = self._page_of_ig(ig_id)
            if media_id not in self.media:
                raise KeyError(f"no media {media_id}")
            comment = self._new_comment(
                "instagram", ig_id, media_id, self._top_level(parent_id), author_id, username, text, created
            )
            self._queue_ig_comment(page, comment)
            return comment.id

    def add_message(
        self,
        page_id: str,
        user_id: str,
        text: str,
        *,
        platform: str = "messenger",
        name: str = "",
        created: object = None,
        reply_to: str | None = None,
        attachments: list[dict[str, Any]] | None = None,
    ) -> str:
        """A person writes to the Page (Messenger, PSID) or to its Instagram account (IGSID)."""
        with self._lock:
            page = self.pages[page_id]
            own = page_id if platform == "messenger" else page.ig_id
            if own is None:
                raise KeyError(f"page {page_id} has no Instagram account")
            self.users.setdefault(user_id, User(user_id, platform, page_id, name or user_id))
            message = Message(
                id=self._mid(platform),
                platform=platform,
                page_id=page_id,
                user_id=user_id,
                from_id=user_id,
                to_id=own,
                text=text,
                created=parse_when(created, self.clock()),
                reply_to=reply_to,
                attachments=list(attachments or []),
            )
            self.messages.append(message)
            self._queue_message(page, message, echo=False)
            return message.id

    def echo(self, published_id: str) -> None:
        """Queue the webhook Meta sends about something the Page published (its own comment on the feed,
        a Messenger echo, an Instagram own message or reply), if not queued already."""
        with self._lock:
            if published_id in self.echoed:
                return
            record = next(p for p in self.published if p["id"] == published_id)
            page = self.pages[record["page_id"]]
            if record["kind"] == "comment":
                self._queue_feed(page, "comment", "add", comment=self.comments[published_id], force=True)
            elif record["kind"] == "ig_reply":
                self._queue_ig_comment(page, self.comments[published_id], force=True)
            else:
                message = next(m for m in self.messages if m.id == published_id)
                self._queue_message(page, message, echo=True, force=True)

    # --- admin: webhooks -------------------------------------------------------------------------------

    def signed(self, page_id: str, body: bytes) -> dict[str, str]:
        secret = self.pages[page_id].app_secret.encode()
        return {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest(),
            "X-Hub-Signature": "sha1=" + hmac.new(secret, body, hashlib.sha1).hexdigest(),
        }

    @staticmethod
    def body(obj: str, entries: list[dict[str, Any]]) -> bytes:
        """A webhook body exactly as Meta serialises it: escaped-unicode JSON."""
        return json.dumps(
            {"object": obj, "entry": entries}, ensure_ascii=True, separators=(",", ":")
        ).encode()

    def pending_entries(self, page_id: str, obj: str = "page") -> list[dict[str, Any]]:
        with self._lock:
            return list(self.pending.get((page_id, obj), []))

    def push(
        self, page_id: str, obj: str = "page", *, http: httpx.Client | None = None, batch: int = 50
    ) -> list[httpx.Response]:
        """POST the queued entries to the object's callback URL, signed; a refused delivery (not 2xx, not a
        409 "already received") stays queued for the next push, as Meta retries."""
        with self._lock:
            url = self.pages[page_id].hooks.get(obj)
            queue = self.pending.setdefault((page_id, obj), [])
            entries, queue[:] = list(queue), []
        if url is None:
            raise KeyError(f"no {obj} callback URL for page {page_id}")
        client = http or httpx.Client(timeout=10)
        responses: list[httpx.Response] = []
        try:
            for start in range(0, len(entries), batch):
                chunk = entries[start : start + batch]
                body = self.body(obj, chunk)
                response = client.post(url, content=body, headers=self.signed(page_id, body))
                responses.append(response)
                with self._lock:
                    self.deliveries.append(
                        {"object": obj, "status": response.status_code, "entries": len(chunk)}
                    )
                    if not (200 <= response.status_code < 300 or response.status_code == 409):
                        self.pending[(page_id, obj)][:0] = chunk
        finally:
            if http is None:
                client.close()
        return responses

    def handshake(
        self,
        page_id: str,
        obj: str = "page",
        *,
        http: httpx.Client | None = None,
        verify_token: str | None = None,
    ) -> Handshake:
        """Meta's subscription check: GET the callback with hub.mode, hub.verify_token, hub.challenge."""
        page = self.pages[page_id]
        url = page.hooks[obj]
        challenge = str(secrets.randbelow(9 * 10**9) + 10**9)
        params = {
            "hub.mode": "subscribe",
            "hub.verify_token": page.verify_token if verify_token is None else verify_token,
            "hub.challenge": challenge,
        }
        client = http or httpx.Client(timeout=10)
        try:
            response = client.get(url, params=params)
        finally:
            if http is None:
                client.close()
        ok = response.status_code == 200 and response.text == challenge
        return Handshake(ok=ok, status=response.status_code, body=response.text, challenge=challenge)

    # --- internals: objects ----------------------------------------------------------------------------

    def _mid(self, platform: str) -> str:
        token = secrets.token_urlsafe(18)
        return f"m_{token}" if platform == "messenger" else f"aWdfZAG1faXRlbToxOklH{token}"

    def _top_level(self, parent_id: str | None) -> str | None:
        """Facebook and Instagram threads are two levels deep: a reply to a reply joins the top comment."""
        while parent_id is not None and parent_id in self.comments and self.comments[parent_id].parent_id:
            parent_id = self.comments[parent_id].parent_id
        return parent_id

    def _new_comment(
        self,
        platform: str,
        owner: str,
        object_id: str,
        parent_id: str | None,
        author_id: str,
        author_name: str,
        text: str,
        created: object,
    ) -> Comment:
        if platform == "facebook":
            comment_id = f"{object_id.rsplit('_', maxsplit=1)[-1]}_{self._next() + 5_000_000}"
        else:
            comment_id = str(18_000_000_000_000_000 + self._next())
        comment = Comment(
            comment_id,
            platform,
            owner,
            object_id,
            parent_id,
            author_id,
            author_name,
            text,
            parse_when(created, self.clock()),
        )
        self.comments[comment_id] = comment
        return comment

    def _page_of_ig(self, ig_id: str) -> FakePage:
        for page in self.pages.values():
            if page.ig_id == ig_id:
                return page
        raise KeyError(f"no page linked to Instagram account {ig_id}")

    # --- internals: webhook entries --------------------------------------------------------------------

    def _queue(self, page_id: str, obj: str, entry: dict[str, Any]) -> None:
        self.pending.setdefault((page_id, obj), []).append(entry)

    def _queue_feed(
        self,
        page: FakePage,
        item: str,
        verb: str,
        *,
        post: Post | None = None,
        comment: Comment | None = None,
        force: bool = False,
    ) -> None:
        if "feed" not in page.subscribed and not force:
            return
        if comment is not None:
            post = self.posts[comment.object_id]
            if verb == "add" and comment.author_id == page.page_id:
                self.echoed.add(comment.id)
        assert post is not None
        author_id = comment.author_id if comment else post.author_id
        author_name = comment.author_name if comment else post.author_name
        created = comment.created if comment else post.created
        value: dict[str, Any] = {
            "from": {"id": author_id, "name": author_name},
            "post": {
                "status_type": "mobile_status_update",
                "is_published": True,
                "updated_time": graph_time(self.clock()),
                "permalink_url": f"https://www.facebook.com/{post.id}",
                "promotion_status": "inactive",
                "id": post.id,
            },
            "post_id": post.id,
            "created_time": int(created.timestamp()),
            "item": item,
            "verb": verb,
        }
        if verb != "remove":
            value["message"] = comment.text if comment else post.text
        if comment is not None:
            value["comment_id"] = comment.id
            value["parent_id"] = comment.parent_id or post.id
        entry = {
            "id": page.page_id,
            "time": int(self.clock().timestamp()),
            "changes": [{"field": "feed", "value": value}],
        }
        self._queue(page.page_id, "page", entry)

    def _queue_ig_comment(self, page: FakePage, comment: Comment, *, force: bool = False) -> None:
        if "comments" not in page.ig_subscribed and not force:
            return
        if comment.author_id == page.ig_id:
            self.echoed.add(comment.id)
        media = self.media[comment.object_id]
        value: dict[str, Any] = {
            "from": {"id": comment.author_id, "username": comment.author_name},
            "media": {"id": media.id, "media_product_type": media.product_type},
            "id": comment.id,
            "text": comment.text,
        }
        if comment.parent_id:
            value["parent_id"] = comment.parent_id
        entry = {
            "id": comment.owner,
            "time": int(comment.created.timestamp()),
            "changes": [{"field": "comments", "value": value}],
        }
        self._queue(page.page_id, "instagram", entry)

    def _queue_message(self, page: FakePage, message: Message, *, echo: bool, force: bool = False) -> None:
        instagram = message.platform == "instagram"
        fields = page.ig_subscribed if instagram else page.subscribed
        # Messenger echoes need the message_echoes field; Instagram sends own messages on `messages`.
        needed = "messages" if instagram or not echo else "message_echoes"
        if needed not in fields and not force:
            return
        if echo:
            self.echoed.add(message.id)
        body: dict[str, Any] = {"mid": message.id}
        if message.text:
            body["text"] = message.text
        if message.attachments:
            body["attachments"] = message.attachments
        if message.reply_to:
            body["reply_to"] = {"mid": message.reply_to}
        if echo and not instagram:
            body["is_echo"] = True
            body["app_id"] = int(page.app_id)
            if message.metadata:
                body["metadata"] = message.metadata
        millis = int(message.created.timestamp() * 1000)
        event = {
            "sender": {"id": message.from_id},
            "recipient": {"id": message.to_id},
            "timestamp": millis,
            "message": body,
        }
        own = page.ig_id if instagram else page.page_id
        self._queue(
            page.page_id,
            "instagram" if instagram else "page",
            {"id": own, "time": millis, "messaging": [event]},
        )

    # --- Graph: rendering ------------------------------------------------------------------------------

    def _paginate(
        self,
        items: list[Any],
        key: Callable[[Any], tuple[Any, ...]],
        params: dict[str, str],
        *,
        descending: bool,
        default_limit: int,
        path: str,
    ) -> tuple[list[Any], dict[str, Any] | None]:
        items = sorted(items, key=key, reverse=descending)
        after = params.get("after")
        if after:
            mark = _decode_cursor(after)
            items = [i for i in items if (key(i) < mark if descending else key(i) > mark)]
        limit = max(1, min(int(params.get("limit") or default_limit), self.max_page_size))
        page, rest = items[:limit], items[limit:]
        if not page:
            return page, None
        paging: dict[str, Any] = {
            "cursors": {"before": _encode_cursor(key(page[0])), "after": _encode_cursor(key(page[-1]))}
        }
        if rest:
            query = {k: v for k, v in params.items() if k not in ("after", "before", "access_token")}
            query["after"] = paging["cursors"]["after"]
            query["limit"] = str(limit)
            paging["next"] = f"{self.base_url}/{path}?{urlencode(query)}"
        return page, paging

    def _comment_json(self, comment: Comment, fields: dict[str, FieldSpec]) -> dict[str, Any]:
        wanted = fields or {n: FieldSpec() for n in ("id", "message", "from", "created_time")}
        if comment.platform == "instagram":
            wanted = fields or {n: FieldSpec() for n in ("id", "text", "timestamp")}
        out: dict[str, Any] = {}
        for name in wanted:
            if name == "id":
                out["id"] = comment.id
            elif name in ("message", "text"):
                out[name] = comment.text
            elif name == "from":
                key = "username" if comment.platform == "instagram" else "name"
                out["from"] = {"id": comment.author_id, key: comment.author_name}
            elif name == "username":
                out["username"] = comment.author_name
            elif name in ("created_time", "timestamp"):
                out[name] = graph_time(comment.created)
            elif name == "parent" and comment.parent_id and comment.platform == "facebook":
                parent = self.comments.get(comment.parent_id)
                out["parent"] = {"id": comment.parent_id}
                if parent is not None:
                    out["parent"]["created_time"] = graph_time(parent.created)
            elif name == "parent_id" and comment.parent_id:
                out["parent_id"] = comment.parent_id
            elif name == "media" and comment.platform == "instagram":
                out["media"] = {"id": comment.object_id}
            elif name == "can_reply_privately":
                fresh = self.clock() - comment.created <= PRIVATE_REPLY_WINDOW
                out[name] = fresh and comment.id not in self.private_replies
            elif name == "private_reply_conversation" and comment.id in self.private_replies:
                message = next(m for m in self.messages if m.id == self.private_replies[comment.id])
                out[name] = {"id": self._conversation_id(message.platform, message.page_id, message.user_id)}
        return out

    def _comments_of(self, object_id: str, *, stream: bool) -> list[Comment]:
        """Comments on a post (top-level, or all with stream) or the replies to a comment."""
        if object_id in self.comments:
            return [c for c in self.comments.values() if c.parent_id == object_id]
        return [
            c for c in self.comments.values() if c.object_id == object_id and (stream or c.parent_id is None)
        ]

    def _comment_edge(self, object_id: str, spec: FieldSpec | None, params: dict[str, str]) -> dict[str, Any]:
        modifiers = spec.modifiers if spec else {}
        merged = {**modifiers, **params}
        stream = merged.get("filter", "toplevel") == "stream"
        descending = merged.get("order", "chronological") == "reverse_chronological"
        comments = self._comments_of(object_id, stream=stream)
        page, paging = self._paginate(
            comments,
            lambda c: (c.created.timestamp(), c.id),
            {k: v for k, v in merged.items() if k in ("after", "limit", "filter", "order", "fields")},
            descending=descending,
            default_limit=25,
            path=f"{self._version}/{object_id}/comments",
        )
        sub = (spec.fields if spec else None) or parse_fields(params.get("fields"))
        out: dict[str, Any] = {"data": [self._comment_json(c, sub or {}) for c in page]}
        if paging:
            out["paging"] = paging
        return out

    def _post_json(self, post: Post, fields: dict[str, FieldSpec]) -> dict[str, Any]:
        wanted = fields or {n: FieldSpec() for n in ("id", "message", "created_time")}
        out: dict[str, Any] = {}
        for name, spec in wanted.items():
            if name == "id":
                out["id"] = post.id
            elif name == "message" and post.text:
                out["message"] = post.text
            elif name == "created_time":
                out["created_time"] = graph_time(post.created)
            elif name == "from":
                out["from"] = {"id": post.author_id, "name": post.author_name}
            elif name == "private_reply_conversation" and post.id in self.private_replies:
                message = next(m for m in self.messages if m.id == self.private_replies[post.id])
                out[name] = {"id": self._conversation_id(message.platform, message.page_id, message.user_id)}
            elif name == "comments":
                edge = self._comment_edge(post.id, spec, {})
                if edge["data"]:
                    out["comments"] = edge
        return out

    @staticmethod
    def _conversation_id(platform: str, page_id: str, user_id: str) -> str:
        return f"t_{'ig_' if platform == 'instagram' else ''}{page_id}_{user_id}"

    # --- Graph: handlers -------------------------------------------------------------------------------

    _version = "v25.0"

    def _get(self, page: FakePage, node: str, edge: str | None, params: dict[str, str]) -> dict[str, Any]:
        fields = parse_fields(params.get("fields"))
        if node == "me":
            node = page.page_id
        if edge is None:
            return self._get_node(page, node, fields)
        if edge == "feed" and node == page.page_id:
            return self._feed(page, fields, params)
        if edge == "comments" and (node in self.posts or node in self.comments):
            self._owned(page, node)
            return self._comment_edge(node, None, params)
        if edge == "replies" and node in self.comments and self.comments[node].platform == "instagram":
            self._owned(page, node)
            replies = [c for c in self.comments.values() if c.parent_id == node]
            data, paging = self._paginate(
                replies,
                lambda c: (c.created.timestamp(), c.id),
                params,
                descending=False,
                default_limit=25,
                path=f"{self._version}/{node}/replies",
            )
            out: dict[str, Any] = {"data": [self._comment_json(c, fields) for c in data]}
            if paging:
                out["paging"] = paging
            return out
        if edge == "conversations" and node == page.page_id:
            return self._conversations(page, params)
        if edge == "messages" and node.startswith("t_"):
            return self._conversation_messages(page, node, fields, params)
        raise _no_object(f"{node}/{edge}")

    def _owned(self, page: FakePage, node: str) -> None:
        owner = None
        if node in self.posts:
            owner = self.posts[node].page_id
        elif node in self.comments:
            owner = self.comments[node].owner
        if owner not in (page.page_id, page.ig_id):
            raise _no_object(node)

    def _get_node(self, page: FakePage, node: str, fields: dict[str, FieldSpec]) -> dict[str, Any]:
        if node == page.page_id:
            out: dict[str, Any] = {"id": page.page_id}
            if not fields or "name" in fields:
                out["name"] = page.name
            if "instagram_business_account" in fields and page.ig_id:
                out["instagram_business_account"] = {"id": page.ig_id}
            return out
        if page.ig_id and node == page.ig_id:
            return {"id": page.ig_id, "username": page.ig_username or ""}
        if node in self.posts:
            self._owned(page, node)
            return self._post_json(self.posts[node], fields)
        if node in self.comments:
            self._owned(page, node)
            return self._comment_json(self.comments[node], fields or {"id": FieldSpec()})
        raise _no_object(node)

    def _feed(self, page: FakePage, fields: dict[str, FieldSpec], params: dict[str, str]) -> dict[str, Any]:
        posts = [p for p in self.posts.values() if p.page_id == page.page_id]
        if params.get("since"):
            since = float(params["since"])
            posts = [p for p in posts if p.created.timestamp() >= since]
        if params.get("until"):
            until = float(params["until"])
            posts = [p for p in posts if p.created.timestamp() <= until]
        data, paging = self._paginate(
            posts,
            lambda p: (p.created.timestamp(), p.id),
            params,
            descending=True,
            default_limit=25,
            path=f"{self._version}/{page.page_id}/feed",
        )
        out: dict[str, Any] = {"data": [self._post_json(p, fields) for p in data]}
        if paging:
            out["paging"] = paging
        return out

    def _conversations(self, page: FakePage, params: dict[str, str]) -> dict[str, Any]:
        platform = params.get("platform", "messenger")
        if platform not in ("messenger", "instagram"):
            raise graph_error(400, 100, "(#100) param platform must be one of {MESSENGER, INSTAGRAM}")
        users = {m.user_id for m in self.messages if m.page_id == page.page_id and m.platform == platform}
        if params.get("user_id"):
            users &= {params["user_id"]}
        data = []
        for user in sorted(users):
            latest = max(m.created for m in self.messages if m.user_id == user and m.platform == platform)
            data.append(
                {
                    "id": self._conversation_id(platform, page.page_id, user),
                    "updated_time": graph_time(latest),
                }
            )
        return {"data": data}

    def _conversation_messages(
        self, page: FakePage, node: str, fields: dict[str, FieldSpec], params: dict[str, str]
    ) -> dict[str, Any]:
        found = [m for m in self.messages if self._conversation_id(m.platform, m.page_id, m.user_id) == node]
        if not found or found[0].page_id != page.page_id:
            raise _no_object(node)
        data, paging = self._paginate(
            found,
            lambda m: (m.created.timestamp(), m.id),
            params,
            descending=True,
            default_limit=25,
            path=f"{self._version}/{node}/messages",
        )
        wanted = fields or {"id": FieldSpec(), "created_time": FieldSpec()}
        rows = []
        for m in data:
            row: dict[str, Any] = {}
            for name in wanted:
                if name == "id":
                    row["id"] = m.id
                elif name == "message":
                    row["message"] = m.text
                elif name == "from":
                    row["from"] = {"id": m.from_id}
                elif name == "to":
                    row["to"] = {"data": [{"id": m.to_id}]}
                elif name == "created_time":
                    row["created_time"] = graph_time(m.created)
            rows.append(row)
        out: dict[str, Any] = {"data": rows}
        if paging:
            out["paging"] = paging
        return out

    def _post(self, page: FakePage, node: str, edge: str | None, params: dict[str, Any]) -> dict[str, Any]:
        if node == "me":
            node = page.page_id
        if edge == "comments" and (node in self.posts or node in self.comments):
            self._owned(page, node)
            target = self.comments.get(node)
            if target is not None and target.platform != "facebook":
                raise _no_object(f"{node}/comments")
            return self._publish_comment(page, node, params, platform="facebook")
        if edge == "replies" and node in self.comments and self.comments[node].platform == "instagram":
            self._owned(page, node)
            return self._publish_comment(page, node, params, platform="instagram")
        if edge == "messages" and node == page.page_id:
            return self._send(page, params)
        if edge == "subscribed_apps" and node == page.page_id:
            fields = str(params.get("subscribed_fields") or "")
            page.subscribed = {f.strip() for f in fields.split(",") if f.strip()}
            return {"success": True}
        raise _no_object(f"{node}/{edge}")

    def _publish_comment(
        self, page: FakePage, node: str, params: dict[str, Any], *, platform: str
    ) -> dict[str, Any]:
        text = params.get("message")
        if not isinstance(text, str) or not text.strip():
            raise graph_error(400, 100, "(#100) Missing message or attachment")
        limit = 8000 if platform == "facebook" else 2200
        if len(text) > limit:
            raise graph_error(400, 100, f"(#100) Param message must be at most {limit} characters long")
        target = self.comments.get(node)
        if platform == "facebook":
            object_id = target.object_id if target else node
            own = page.page_id
            name = page.name
        else:
            assert target is not None
            assert page.ig_id is not None
            object_id, own, name = target.object_id, page.ig_id, page.ig_username or ""
        comment = self._new_comment(
            platform, own, object_id, self._top_level(node) if target else None, own, name, text, None
        )
        self.published.append(
            {
                "id": comment.id,
                "kind": "comment" if platform == "facebook" else "ig_reply",
                "platform": platform,
                "page_id": page.page_id,
                "public": True,
                "text": text,
                "in_reply_to": node,
                "recipient": None,
                "at": comment.created.isoformat(),
            }
        )
        if platform == "facebook":
            self._queue_feed(page, "comment", "add", comment=comment)
        else:
            self._queue_ig_comment(page, comment)
        return {"id": comment.id}

    @staticmethod
    def _json_param(value: Any, name: str) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                raise graph_error(400, 100, f"(#100) param {name} must be a JSON object") from None
        return value

    def _send(self, page: FakePage, params: dict[str, Any]) -> dict[str, Any]:
        recipient = self._json_param(params.get("recipient"), "recipient")
        message = self._json_param(params.get("message"), "message")
        if not isinstance(recipient, dict) or not recipient:
            raise graph_error(400, 100, "(#100) param recipient must be non-empty.")
        if not isinstance(message, dict) or not (message.get("text") or message.get("attachment")):
            raise graph_error(400, 100, "(#100) param message must be non-empty.")
        text = str(message.get("text") or "")
        messaging_type = params.get("messaging_type")
        tag = params.get("tag")
        if messaging_type is not None and messaging_type not in ("RESPONSE", "UPDATE", "MESSAGE_TAG"):
            raise graph_error(
                400, 100, "(#100) param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}"
            )
        if messaging_type == "MESSAGE_TAG" and tag not in MESSAGE_TAGS:
            raise graph_error(400, 100, "(#100) Tag is required for MESSAGE_TAG messaging type")
        now = self.clock()
        comment_id = recipient.get("comment_id") or recipient.get("post_id")
        if comment_id is not None:
            # A private reply: to a comment's author, or to the author of a visitor's post on the Page.
            target_id = str(comment_id)
            comment = self.comments.get(target_id)
            post = self.posts.get(target_id) if "post_id" in recipient else None
            if (
                comment is not None
                and comment.owner in (page.page_id, page.ig_id)
                and "comment_id" in recipient
            ):
                author_id, author_name, created = comment.author_id, comment.author_name, comment.created
                platform = "messenger" if comment.platform == "facebook" else "instagram"
            elif post is not None and post.page_id == page.page_id and post.author_id != page.page_id:
                author_id, author_name, created, platform = (
                    post.author_id,
                    post.author_name,
                    post.created,
                    "messenger",
                )
            else:
                raise graph_error(400, 100, "(#100) No matching comment or post found", subcode=2018001)
            if target_id in self.private_replies:
                raise graph_error(400, 10900, "(#10900) Activity already replied to")
            if now - created > PRIVATE_REPLY_WINDOW:
                raise graph_error(400, 10903, "(#10903) This activity can't be replied to")
            if platform == "messenger":
                user_id = self.commenter_psid.setdefault(
                    (page.page_id, author_id), str(7_000_000_000_000_000 + self._next())
                )
            else:
                user_id = author_id
            self.users.setdefault(user_id, User(user_id, platform, page.page_id, author_name))
        else:
            user_id = str(recipient.get("id") or "")
            user = self.users.get(user_id)
            if user is None or user.page_id != page.page_id:
                raise graph_error(400, 100, "(#100) No matching user found", subcode=2018001)
            platform = user.platform
            if platform == "messenger" and messaging_type is None:
                raise graph_error(400, 100, "(#100) The parameter messaging_type is required")
            inbound = [m.created for m in self.messages if m.user_id == user_id and m.from_id == user_id]
            last = max(inbound, default=None)
            age = now - last if last is not None else None
            tagged = messaging_type == "MESSAGE_TAG" and tag == "HUMAN_AGENT"
            allowed = age is not None and (age <= STANDARD_WINDOW or (tagged and age <= TAG_WINDOW))
            if not allowed:
                raise graph_error(
                    400,
                    10,
                    "(#10) This message is sent outside of allowed window. Learn more about the new policy "
                    "here: https://developers.facebook.com/docs/messenger-platform/policy-overview",
                    subcode=2018278,
                )
        if len(text) > TEXT_LIMITS[platform]:
            raise graph_error(
                400,
                100,
                f"(#100) Length of param message[text] must be less than or equal to {TEXT_LIMITS[platform]}",
            )
        own = page.page_id if platform == "messenger" else page.ig_id
        assert own is not None
        sent = Message(
            id=self._mid(platform),
            platform=platform,
            page_id=page.page_id,
            user_id=user_id,
            from_id=own,
            to_id=user_id,
            text=text,
            created=now,
            messaging_type=messaging_type if isinstance(messaging_type, str) else None,
            tag=tag if isinstance(tag, str) else None,
            comment_id=str(comment_id) if comment_id is not None else None,
            metadata=message.get("metadata") if isinstance(message.get("metadata"), str) else None,
        )
        self.messages.append(sent)
        if comment_id is not None:
            self.private_replies[str(comment_id)] = sent.id
        self.published.append(
            {
                "id": sent.id,
                "kind": "private_reply" if comment_id is not None else "message",
                "platform": platform,
                "page_id": page.page_id,
                "public": False,
                "text": text,
                "in_reply_to": str(comment_id) if comment_id is not None else None,
                "recipient": user_id,
                "messaging_type": sent.messaging_type,
                "tag": sent.tag,
                "at": now.isoformat(),
            }
        )
        self._queue_message(page, sent, echo=True)
        return {"recipient_id": user_id, "message_id": sent.id}

    # --- HTTP ------------------------------------------------------------------------------------------

    def _page_for(self, token: str | None) -> FakePage:
        for page in self.pages.values():
            if token and hmac.compare_digest(page.token, token):
                return page
        raise graph_error(400, 190, "Invalid OAuth access token - Cannot parse access token")

    def _take_failure(self, method: str) -> Failure | None:
        kind = "read" if method == "GET" else "write"
        with self._lock:
            for i, failure in enumerate(self.failures):
                if failure.on in (kind, "any"):
                    return self.failures.pop(i)
        return None

    def _failure_response(self, failure: Failure, method: str, page_id: str) -> JSONResponse:
        if failure.error is not None:
            error = {**failure.error, "fbtrace_id": secrets.token_urlsafe(8)}
            return JSONResponse({"error": error}, status_code=failure.status)
        if failure.status == 429:
            code, text = (
                (32, "(#32) Page request limit reached")
                if method == "GET"
                else (
                    613,
                    "(#613) Calls to this api have exceeded the rate limit.",
                )
            )
            usage = {
                page_id: [
                    {
                        "type": "pages" if method == "GET" else "messenger",
                        "call_count": 100,
                        "total_cputime": 34,
                        "total_time": 41,
                        "estimated_time_to_regain_access": self.regain_minutes,
                    }
                ]
            }
            error = {
                "message": text,
                "type": "OAuthException",
                "code": code,
                "fbtrace_id": secrets.token_urlsafe(8),
            }
            return JSONResponse(
                {"error": error}, status_code=400, headers={"X-Business-Use-Case-Usage": json.dumps(usage)}
            )
        error = {
            "message": "An unexpected error has occurred. Please retry your request later.",
            "type": "OAuthException",
            "code": 2,
            "is_transient": True,
            "fbtrace_id": secrets.token_urlsafe(8),
        }
        return JSONResponse({"error": error}, status_code=failure.status)

    async def _params(self, request: Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query_params)
        if request.method == "POST":
            raw = await request.body()
            kind = request.headers.get("content-type", "")
            if raw and "json" in kind:
                try:
                    body = json.loads(raw)
                except json.JSONDecodeError:
                    raise graph_error(400, 100, "(#100) The request body is not valid JSON") from None
                if isinstance(body, dict):
                    params.update(body)
            elif raw:
                params.update(dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True)))
        return params

    def _build(self) -> FastAPI:
        app = FastAPI(title="fake Meta Graph API")

        @app.post("/_fake/pages")
        async def admin_add_page(request: Request) -> JSONResponse:
            body = await request.json()
            page = self.add_page(
                str(body["page_id"]),
                name=body.get("name", "Acme"),
                token=body["token"],
                app_secret=body["app_secret"],
                verify_token=body.get("verify_token", ""),
                ig_id=body.get("ig_id"),
                ig_username=body.get("ig_username"),
            )
            for obj, url in (body.get("hooks") or {}).items():
                self.set_hook(page.page_id, url, obj=obj)
            return JSONResponse({"page_id": page.page_id}, status_code=201)

        @app.post("/_fake/pages/{page_id}/hooks")
        async def admin_hook(page_id: str, request: Request) -> JSONResponse:
            body = await request.json()
            self.set_hook(page_id, body["url"], obj=body.get("object", "page"))
            return JSONResponse({"ok": True})

        @app.post("/_fake/pages/{page_id}/posts")
        async def admin_post(page_id: str, request: Request) -> JSONResponse:
            body = await request.json()
            post_id = self.add_post(
                page_id,
                body["text"],
                author_id=body.get("author_id"),
                author_name=body.get("author_name"),
                created=body.get("created_time"),
            )
            return JSONResponse({"id": post_id}, status_code=201)

        @app.post("/_fake/pages/{page_id}/comments")
        async def admin_comment(page_id: str, request: Request) -> JSONResponse:
            body = await request.json()
            comment_id = self.add_comment(
                page_id,
                body["post_id"],
                body["text"],
                author_id=str(body["author_id"]),
                author_name=body.get("author_name", ""),
                parent_id=body.get("parent_id"),
                created=body.get("created_time"),
            )
            return JSONResponse({"id": comment_id}, status_code=201)

        @app.post("/_fake/pages/{page_id}/messages")
        async def admin_message(page_id: str, request: Request) -> JSONResponse:
            body = await request.json()
            mid = self.add_message(
                page_id,
                str(body["user_id"]),
                body.get("text", ""),
                platform=body.get("platform", "messenger"),
                name=body.get("name", ""),
                created=body.get("created_time"),
                reply_to=body.get("reply_to"),
                attachments=body.get("attachments"),
            )
            return JSONResponse({"mid": mid}, status_code=201)

        @app.post("/_fake/instagram/{ig_id}/media")
        async def admin_media(ig_id: str, request: Request) -> JSONResponse:
            body = await request.json()
            return JSONResponse({"id": self.add_media(ig_id, body.get("caption", ""))}, status_code=201)

        @app.post("/_fake/instagram/{ig_id}/comments")
        async def admin_ig_comment(ig_id: str, request: Request) -> JSONResponse:
            body = await request.json()
            comment_id = self.add_ig_comment(
                ig_id,
                str(body["media_id"]),
                body["text"],
                author_id=str(body["author_id"]),
                username=body.get("username", ""),
                parent_id=body.get("parent_id"),
                created=body.get("created_time"),
            )
            return JSONResponse({"id": comment_id}, status_code=201)

        @app.post("/_fake/pages/{page_id}/push")
        def admin_push(page_id: str, obj: str = "page") -> JSONResponse:
            responses = self.push(page_id, obj)
            return JSONResponse({"deliveries": [r.status_code for r in responses]})

        @app.post("/_fake/pages/{page_id}/handshake")
        def admin_handshake(page_id: str, obj: str = "page", verify_token: str | None = None) -> JSONResponse:
            result = self.handshake(page_id, obj, verify_token=verify_token)
            return JSONResponse({"ok": result.ok, "status": result.status, "body": result.body[:200]})

        @app.post("/_fake/echo/{published_id}")
        def admin_echo(published_id: str) -> JSONResponse:
            self.echo(published_id)
            return JSONResponse({"queued": True})

        @app.get("/_fake/published")
        def admin_published(page_id: str | None = None) -> JSONResponse:
            with self._lock:
                rows = [p for p in self.published if page_id is None or p["page_id"] == page_id]
            return JSONResponse(rows)

        @app.post("/_fake/fail")
        async def admin_fail(request: Request) -> JSONResponse:
            body = await request.json()
            on = body.get("on", "any")
            if body.get("error"):
                self.fail_with(body["error"], status=int(body.get("status", 400)), on=on)
            else:
                self.fail_next(*[int(s) for s in body.get("statuses", [])], on=on)
            return JSONResponse({"pending_failures": len(self.failures)})

        @app.get("/", response_class=HTMLResponse)
        def home() -> str:
            from html import escape  # noqa: PLC0415

            rows = [
                f"<li>{escape(p['platform'])} · {escape(p['kind'])} · {escape(str(p['text']))}</li>"
                for p in reversed(self.published[-50:])
            ]
            return (
                "<!doctype html><meta charset=utf-8><title>Fake Meta</title>"
                "<h1>What caredesk published on the fake Facebook / Instagram</h1><ul>"
                + "".join(rows)
                + "</ul>"
            )

        @app.api_route("/{version}/{path:path}", methods=["GET", "POST"])
        async def graph(version: str, path: str, request: Request) -> Response:
            if not _VERSION.match(version):
                return JSONResponse(
                    {"error": {"message": "Unknown path components", "type": "OAuthException", "code": 2500}},
                    status_code=400,
                )
            self.base_url = str(request.base_url).rstrip("/")
            self._version = version
            parts = [p for p in path.split("/") if p]
            if not 1 <= len(parts) <= 2:
                raise_error = _no_object(path)
                return JSONResponse({"error": raise_error.error}, status_code=raise_error.status)
            node, edge = parts[0], parts[1] if len(parts) == 2 else None
            try:
                params = await self._params(request)
                header = request.headers.get("authorization", "")
                token = (
                    header[7:] if header.lower().startswith("bearer ") else params.pop("access_token", None)
                )
                with self._lock:  # every request received, failed or not (tests assert "nothing reached it")
                    self.requests.append({"method": request.method, "path": path, "params": params})
                    page = self._page_for(token if isinstance(token, str) else None)
                failure = self._take_failure(request.method)
                if failure is not None and failure.status == 0 and failure.error is None:
                    await asyncio.sleep(self.hang_seconds)  # the caller gives up first; nothing is recorded
                    return JSONResponse({"error": {"message": "timeout", "code": 2}}, status_code=504)
                if failure is not None:
                    return self._failure_response(failure, request.method, page.page_id)
                with self._lock:
                    if request.method == "GET":
                        answer = self._get(page, node, edge, {k: str(v) for k, v in params.items()})
                    else:
                        answer = self._post(page, node, edge, params)
            except GraphFailure as exc:
                error = {**exc.error, "fbtrace_id": secrets.token_urlsafe(8)}
                return JSONResponse({"error": error}, status_code=exc.status, headers=exc.headers)
            return JSONResponse(answer)

        return app
