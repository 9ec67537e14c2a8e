"""A local stand-in for a Mastodon instance: the part of its REST API the Mastodon connector speaks.

What it implements, following Mastodon's documented behaviour (docs.joinmastodon.org, the 4.3 source):

- `Authorization: Bearer <token>`; a wrong or missing token is 401 `{"error": "The access token is invalid"}`,
  a token without the scope 403 `{"error": "This action is outside the authorized scopes"}`.
- Rate limits: 300 requests per 5-minute window per token (per address without one), reported on every
  `/api/` answer as `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (ISO-8601 with
  microseconds, or epoch seconds when `reset_format="epoch"`); past it, 429 `{"error": "Too many requests"}`.
- `GET /api/v1/notifications`: `max_id`, `since_id`, `min_id`, `limit` (default 40, max 80, or the fake's
  `page_size`), `types[]`, `exclude_types[]`, `account_id`, `include_filtered`; newest first; a `Link` header
  with `rel="next"` (`max_id`) and `rel="prev"` (`min_id`) whenever the page is not empty. `GET
  /api/v1/notifications/:id`.
- The notification policy (4.3): `GET`/`PATCH /api/v2/notifications/policy`. A mention is filtered or
  dropped per the policy (`for_private_mentions` applies to DMs that are not from followed accounts and do
  not answer the recipient's own DM); filtered ones appear in `GET /api/v1/notifications` only with
  `include_filtered=true` and are grouped as notification requests (`GET /api/v1/notifications/requests`,
  `/:id`, `POST /:id/accept`, `POST /:id/dismiss`, `GET .../merged`).
- `POST /api/v1/statuses` (JSON or form): `status`, `in_reply_to_id`, `visibility`, `spoiler_text`,
  `language`; the length rule of the instance (500 graphemes, URLs 23, `@user@domain` as `@user`); an
  `Idempotency-Key` is remembered for an hour per account and a repeat answers the first status. Mentions
  in the text are parsed, linked in the HTML `content`, and notify the mentioned accounts.
- `GET /api/v1/statuses/:id` (visibility-checked: a DM is visible to its author and mentioned accounts),
  `GET /api/v1/accounts/verify_credentials`, `GET /api/v1/accounts/:id`, `GET /api/v1/accounts/:id/statuses`
  (the owner sees their own DMs; `exclude_reblogs`, paging as above, limit max 40), `GET /api/v1/instance`,
  `GET /api/v2/instance`.
- Listening: `GET /api/v1/timelines/tag/:hashtag` (public statuses carrying the tag, case-insensitive;
  `any[]`, `all[]`, `none[]`, `local`, `remote`, `only_media`; paging and Link header as above, limit default
  20, max 40) and `GET /api/v2/search` (token with `read:search`; `q`, `type`, `resolve`, `limit` default 20
  max 40, `offset`, `max_id`/`min_id` as bounds, `account_id`; `{"accounts": [], "statuses": [...],
  "hashtags": []}`, statuses newest first, no Link header). Search finds what a real instance's full-text
  index would: public statuses of `indexable` accounts, plus the viewer's own statuses and the ones
  mentioning it (whatever their visibility); every bare word and "quoted phrase" of `q` must occur.
- Streaming: `GET /api/v1/streaming/user/notification` (server-sent events; token in the Authorization header
  or `access_token`): `:)` on connect, `event: notification` frames for new unfiltered notifications (filtered
  ones are not streamed), `:thump` heartbeats every `heartbeat_seconds`; `GET /api/v1/streaming/health`.

Admin (tests, demo): Python methods and `/_fake/...` endpoints to create accounts and tokens, post as a
customer (`post`), follow, read what an account published, make the next requests fail (`fail_next`:
"429" with the rate-limit headers, "500", any status code, or "timeout": hang past the client's timeout and
record nothing), and read the request log. State is in memory, behind one lock.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import re
import secrets
import threading
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, StreamingResponse

from caredesk.connectors import length

VISIBILITIES = ("public", "unlisted", "private", "direct")
POLICY_VALUES = ("accept", "filter", "drop")
DEFAULT_POLICY = {
    "for_not_following": "accept",
    "for_not_followers": "accept",
    "for_new_accounts": "accept",
    "for_private_mentions": "filter",
    "for_limited_accounts": "filter",
}
DEFAULT_SCOPES = ("read", "write")
IDEMPOTENCY_TTL = 3600.0
RATE_WINDOW = 300
INVALID_TOKEN = "The access token is invalid"  # noqa: S105  (an error message, not a secret)
OUT_OF_SCOPE = "This action is outside the authorized scopes"
NOT_FOUND = "Record not found"
REPLY_NOT_FOUND = "The post you are trying to reply to does not appear to exist."

_MENTION = re.compile(r"(?<![=/\w])@(\w+)(?:@(\w[\w.\-]*\w))?")
_URL = re.compile(r"https?://[^\s<>\"]+")
_HASHTAG = re.compile(r"(?<![=/\w#])#(\w+)")
_TOKEN = re.compile(rf"(?P<url>{_URL.pattern})|(?P<mention>{_MENTION.pattern})|(?P<tag>{_HASHTAG.pattern})")


class FakeError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _key(value: str) -> tuple[int, str]:
    return (len(value), value)


@dataclass
class Account:
    id: str
    username: str
    domain: str | None  # None: local to this instance
    display_name: str
    created_at: datetime
    followers_count: int = 0
    bot: bool = False
    indexable: bool = True  # opted in to full-text search (Mastodon 4.2+)

    @property
    def acct(self) -> str:
        return self.username if self.domain is None else f"{self.username}@{self.domain}"


@dataclass
class Status:
    id: str
    account_id: str
    created_at: datetime
    text: str
    content: str
    visibility: str
    in_reply_to_id: str | None
    in_reply_to_account_id: str | None
    mention_ids: list[str]
    spoiler_text: str = ""
    language: str | None = "en"
    media: list[dict[str, Any]] = field(default_factory=list)
    via_api: bool = False  # posted through POST /api/v1/statuses (what caredesk published)
    idempotency_key: str | None = None
    tags: list[str] = field(default_factory=list)  # lowercase hashtag names


@dataclass
class Notification:
    id: str
    type: str
    created_at: datetime
    recipient_id: str
    from_id: str
    status_id: str | None
    filtered: bool = False


@dataclass
class NotificationRequest:
    id: str
    recipient_id: str
    from_id: str
    created_at: datetime
    updated_at: datetime
    last_status_id: str | None
    count: int = 0


@dataclass
class Token:
    account_id: str
    scopes: tuple[str, ...]


class FakeMastodon:
    def __init__(
        self,
        *,
        host: str = "mastodon.example",
        page_size: int = 80,
        max_characters: int = 500,
        rate_limit: int = 300,
        reset_format: str = "iso",
        hang_seconds: float = 3.0,
    ) -> None:
        self.host = host
        self.page_size = page_size  # the most a page holds (Mastodon: 80 notifications, 40 statuses)
        self.max_characters = max_characters
        self.rate_limit = rate_limit
        self.reset_format = reset_format  # "iso" as Mastodon sends it, or "epoch"
        self.hang_seconds = hang_seconds
        self.idempotency_ttl = IDEMPOTENCY_TTL
        self.heartbeat_seconds = 15.0
        self._subscribers: list[tuple[str, asyncio.AbstractEventLoop, asyncio.Queue[str]]] = []
        self._closing = False
        self.accounts: dict[str, Account] = {}
        self.statuses: dict[str, Status] = {}
        self.notifications: dict[str, Notification] = {}
        self.requests: dict[str, NotificationRequest] = {}
        self.tokens: dict[str, Token] = {}
        self.follows: set[tuple[str, str]] = set()  # (follower, followed)
        self.permissions: set[tuple[str, str]] = set()  # (recipient, sender) accepted notification requests
        self.policies: dict[str, dict[str, str]] = {}
        self.idempotency: dict[tuple[str, str], tuple[str, float]] = {}
        self.failures: dict[str, list[str]] = {}
        self.request_log: list[dict[str, Any]] = []
        self._windows: dict[str, tuple[int, int]] = {}  # caller -> (window number, requests in it)
        self._lock = threading.RLock()
        self._account_ids = itertools.count(109_000_000_000_000_001)
        self._status_seq = itertools.count(1)
        self._last_status_id = 0
        # Notification ids are a plain sequence; starting below 1000 makes them change length early, as
        # real ids do over time ("999" < "1000"): a client comparing them as text would go wrong.
        self._notification_ids = itertools.count(990)
        self._request_ids = itertools.count(112_456_967_201_894_256)
        self.app = self._build()

    # --- admin: Python methods ---------------------------------------------------------------------

    def add_account(
        self,
        username: str,
        *,
        domain: str | None = None,
        display_name: str | None = None,
        created_at: datetime | None = None,
        followers_count: int = 0,
        indexable: bool = True,
    ) -> dict[str, Any]:
        with self._lock:
            if self._find_account(username, domain) is not None:
                raise ValueError(f"account {username}@{domain or self.host} exists")
            account = Account(
                id=str(next(self._account_ids)),
                username=username,
                domain=None if domain in (None, self.host) else domain,
                display_name=display_name if display_name is not None else username.title(),
                created_at=created_at or datetime(2022, 11, 7, 12, tzinfo=UTC),
                followers_count=followers_count,
                indexable=indexable,
            )
            self.accounts[account.id] = account
            return self._account_json(account)

    def account(self, acct: str) -> dict[str, Any]:
        """An account by acct (`jane` or `jane@social.example`)."""
        user, _, domain = acct.lstrip("@").partition("@")
        with self._lock:
            found = self._find_account(user, domain or None)
            if found is None:
                raise KeyError(acct)
            return self._account_json(found)

    def issue_token(self, account_id: str, scopes: Sequence[str] = DEFAULT_SCOPES) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self.tokens[token] = Token(account_id, tuple(scopes))
        return token

    def revoke(self, token: str) -> None:
        with self._lock:
            self.tokens.pop(token, None)

    def follow(self, follower_id: str, followed_id: str) -> None:
        with self._lock:
            self.follows.add((follower_id, followed_id))

    def set_policy(self, account_id: str, **values: str) -> dict[str, Any]:
        with self._lock:
            policy = self.policies.setdefault(account_id, dict(DEFAULT_POLICY))
            for name, value in values.items():
                if name not in DEFAULT_POLICY or value not in POLICY_VALUES:
                    raise ValueError(f"bad policy {name}={value}")
                policy[name] = value
            return self._policy_json(account_id)

    def post(
        self,
        account_id: str,
        text: str | None = None,
        *,
        content: str | None = None,
        visibility: str = "public",
        in_reply_to_id: str | None = None,
        spoiler_text: str = "",
        language: str | None = "en",
        media: Iterable[dict[str, Any]] = (),
    ) -> dict[str, Any]:
        """A status written by `account_id` outside the API under test (a customer, or the brand's own app).

        `content` gives the HTML as a remote server federated it (anything, even hostile markup); by default
        it is rendered from `text` the way Mastodon does. Mentions in `text` notify the accounts."""
        with self._lock:
            status = self._create_status(
                account_id,
                text or "",
                visibility=visibility,
                in_reply_to_id=in_reply_to_id,
                spoiler_text=spoiler_text,
                language=language,
                content=content,
                media=list(media),
            )
            return self._status_json(status, account_id)

    def published(self, account_id: str) -> list[dict[str, Any]]:
        """What `account_id` published through `POST /api/v1/statuses`, oldest first."""
        with self._lock:
            mine = [s for s in self.statuses.values() if s.account_id == account_id and s.via_api]
            return [self._status_json(s, account_id) for s in sorted(mine, key=lambda s: _key(s.id))]

    def statuses_of(self, account_id: str) -> list[dict[str, Any]]:
        """Everything `account_id` wrote, newest first, as its owner sees it."""
        with self._lock:
            mine = [s for s in self.statuses.values() if s.account_id == account_id]
            return [
                self._status_json(s, account_id) for s in sorted(mine, key=lambda s: _key(s.id), reverse=True)
            ]

    def notification_requests(self, account_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [self._request_json(r) for r in self.requests.values() if r.recipient_id == account_id]

    def fail_next(self, on: str, *failures: str) -> None:
        """Make the next requests fail. `on`: "fetch" (GET /api/v1/notifications), "send" (POST
        /api/v1/statuses), "search" (GET /api/v2/search) or "METHOD /path"; failures: "429", "500" (any
        status code) or "timeout"."""
        for failure in failures:
            if failure != "timeout" and not failure.isdigit():
                raise ValueError(f"unknown failure {failure!r}")
        with self._lock:
            self.failures.setdefault(_scope(on), []).extend(failures)

    def close_streams(self) -> None:
        """End open streams (before stopping the server: uvicorn waits for open responses)."""
        self._closing = True

    @property
    def streams(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def calls(self, method: str, path: str) -> list[dict[str, Any]]:
        with self._lock:
            return [c for c in self.request_log if c["method"] == method and c["path"] == path]

    # --- state -------------------------------------------------------------------------------------

    def _find_account(self, username: str, domain: str | None) -> Account | None:
        domain = None if domain in (None, self.host) else domain
        for account in self.accounts.values():
            if account.username.lower() == username.lower() and account.domain == (
                domain.lower() if domain else None
            ):
                return account
        return None

    def _next_status_id(self) -> str:
        # Snowflake-like: milliseconds since the epoch in the high bits, so ids sort by time.
        candidate = (int(time.time() * 1000) << 16) | (next(self._status_seq) & 0xFFFF)
        self._last_status_id = max(candidate, self._last_status_id + 1)
        return str(self._last_status_id)

    def _render(self, text: str) -> tuple[str, list[str]]:
        """Mastodon's plain-text formatter: escaped text, links, mention h-cards, hashtags, <p> and <br />."""
        mentioned: list[str] = []
        paragraphs = []
        for para in re.split(r"\n{2,}", text.strip()):
            out: list[str] = []
            pos = 0
            for match in _TOKEN.finditer(para):
                out.append(html.escape(para[pos : match.start()]))
                pos = match.end()
                raw = match.group(0)
                if match.group("url"):
                    url = raw.rstrip(".,;:!?)")
                    pos -= len(raw) - len(url)
                    scheme, _, rest = url.partition("://")
                    shown, hidden = (rest[:30], rest[30:]) if len(rest) > 30 else (rest, "")
                    shown_class = "ellipsis" if hidden else ""
                    out.append(
                        f'<a href="{html.escape(url)}" target="_blank" rel="nofollow noopener" '
                        'translate="no">'
                        f'<span class="invisible">{html.escape(scheme)}://</span>'
                        f'<span class="{shown_class}">{html.escape(shown)}</span>'
                        f'<span class="invisible">{html.escape(hidden)}</span></a>'
                    )
                elif match.group("mention"):
                    user, domain = match.group(3), match.group(4)
                    account = self._find_account(user, domain)
                    if account is None:
                        out.append(html.escape(raw))
                        continue
                    if account.id not in mentioned:
                        mentioned.append(account.id)
                    out.append(
                        f'<span class="h-card" translate="no"><a href="{html.escape(self._url(account))}" '
                        f'class="u-url mention">@<span>{html.escape(account.username)}</span></a></span>'
                    )
                else:
                    tag = match.group(6)
                    out.append(
                        f'<a href="https://{self.host}/tags/{html.escape(tag.lower())}" '
                        f'class="mention hashtag" rel="tag">#<span>{html.escape(tag)}</span></a>'
                    )
            out.append(html.escape(para[pos:]))
            paragraphs.append("<p>" + "".join(out).replace("\n", "<br />") + "</p>")
        return "".join(paragraphs), mentioned

    def _create_status(
        self,
        account_id: str,
        text: str,
        *,
        visibility: str,
        in_reply_to_id: str | None,
        spoiler_text: str = "",
        language: str | None = "en",
        content: str | None = None,
        media: list[dict[str, Any]] | None = None,
        via_api: bool = False,
        idempotency_key: str | None = None,
    ) -> Status:
        if account_id not in self.accounts:
            raise KeyError(account_id)
        if visibility not in VISIBILITIES:
            raise FakeError(422, "Validation failed: Visibility is not included in the list")
        parent = self.statuses.get(in_reply_to_id) if in_reply_to_id else None
        if in_reply_to_id and (parent is None or not self._visible(parent, account_id)):
            raise FakeError(404, REPLY_NOT_FOUND)
        rendered, mentioned = self._render(text)
        status = Status(
            id=self._next_status_id(),
            account_id=account_id,
            created_at=datetime.now(UTC),
            text=text,
            content=content if content is not None else rendered,
            visibility=visibility,
            in_reply_to_id=parent.id if parent else None,
            in_reply_to_account_id=parent.account_id if parent else None,
            mention_ids=mentioned,
            spoiler_text=spoiler_text,
            language=language,
            media=media or [],
            via_api=via_api,
            idempotency_key=idempotency_key,
            tags=list(dict.fromkeys(t.lower() for t in _HASHTAG.findall(text))),
        )
        self.statuses[status.id] = status
        for recipient in mentioned:
            if recipient != account_id:
                self._notify(recipient, status)
        return status

    def _notify(self, recipient_id: str, status: Status) -> None:
        sender = status.account_id
        policy = self.policies.get(recipient_id, DEFAULT_POLICY)
        follows_sender = (recipient_id, sender) in self.follows
        decisions = []
        if (
            status.visibility == "direct"
            and not follows_sender
            and not self._answers_own_dm(status, recipient_id)
        ):
            decisions.append(policy["for_private_mentions"])
        if not follows_sender:
            decisions.append(policy["for_not_following"])
        if (sender, recipient_id) not in self.follows:
            decisions.append(policy["for_not_followers"])
        if self.accounts[sender].created_at > datetime.now(UTC) - timedelta(days=30):
            decisions.append(policy["for_new_accounts"])
        if "drop" in decisions:
            return
        filtered = "filter" in decisions and (recipient_id, sender) not in self.permissions
        note = Notification(
            id=str(next(self._notification_ids)),
            type="mention",
            created_at=status.created_at,
            recipient_id=recipient_id,
            from_id=sender,
            status_id=status.id,
            filtered=filtered,
        )
        self.notifications[note.id] = note
        if not filtered:
            payload = json.dumps(self._notification_json(note))
            for viewer, loop, queue in list(self._subscribers):
                if viewer == recipient_id:
                    loop.call_soon_threadsafe(queue.put_nowait, payload)
        if filtered:
            request = next(
                (r for r in self.requests.values() if (r.recipient_id, r.from_id) == (recipient_id, sender)),
                None,
            )
            if request is None:
                request = NotificationRequest(
                    id=str(next(self._request_ids)),
                    recipient_id=recipient_id,
                    from_id=sender,
                    created_at=status.created_at,
                    updated_at=status.created_at,
                    last_status_id=status.id,
                )
                self.requests[request.id] = request
            request.count += 1
            request.updated_at = status.created_at
            request.last_status_id = status.id

    def _answers_own_dm(self, status: Status, recipient_id: str) -> bool:
        """A reply to a private mention the recipient started is always let through."""
        parent = self.statuses.get(status.in_reply_to_id or "")
        return (
            parent is not None
            and parent.account_id == recipient_id
            and parent.visibility == "direct"
            and status.account_id in parent.mention_ids
        )

    def _searchable(self, status: Status, viewer: str | None) -> bool:
        """What full-text search finds: public statuses of indexable accounts, and (for a signed-in viewer)
        their own statuses and the ones mentioning them."""
        if status.visibility == "public" and self.accounts[status.account_id].indexable:
            return True
        return viewer is not None and (viewer == status.account_id or viewer in status.mention_ids)

    def _visible(self, status: Status, viewer: str | None) -> bool:
        if status.visibility in ("public", "unlisted"):
            return True
        if viewer is None:
            return False
        if viewer == status.account_id or viewer in status.mention_ids:
            return True
        return status.visibility == "private" and (viewer, status.account_id) in self.follows

    # --- JSON entities -------------------------------------------------------------------------------

    @staticmethod
    def _plain(status: Status) -> str:
        if status.text:
            return status.text
        return html.unescape(re.sub(r"<[^>]+>", " ", status.content))

    def _url(self, account: Account) -> str:
        return f"https://{account.domain or self.host}/@{account.username}"

    def _account_json(self, account: Account) -> dict[str, Any]:
        mine = [s for s in self.statuses.values() if s.account_id == account.id]
        last = max((s.created_at for s in mine), default=None)
        return {
            "id": account.id,
            "username": account.username,
            "acct": account.acct,
            "display_name": account.display_name,
            "locked": False,
            "bot": account.bot,
            "discoverable": True,
            "group": False,
            "created_at": account.created_at.strftime("%Y-%m-%dT00:00:00.000Z"),
            "note": "",
            "url": self._url(account),
            "uri": f"https://{account.domain or self.host}/users/{account.username}",
            "avatar": f"https://{self.host}/avatars/original/missing.png",
            "avatar_static": f"https://{self.host}/avatars/original/missing.png",
            "header": f"https://{self.host}/headers/original/missing.png",
            "header_static": f"https://{self.host}/headers/original/missing.png",
            "followers_count": account.followers_count,
            "following_count": sum(1 for f, _ in self.follows if f == account.id),
            "statuses_count": len(mine),
            "last_status_at": last.strftime("%Y-%m-%d") if last else None,
            "emojis": [],
            "fields": [],
        }

    def _status_json(self, status: Status, viewer: str | None) -> dict[str, Any]:
        account = self.accounts[status.account_id]
        mentions = []
        for mid in status.mention_ids:
            other = self.accounts[mid]
            mentions.append(
                {"id": other.id, "username": other.username, "url": self._url(other), "acct": other.acct}
            )
        return {
            "id": status.id,
            "created_at": _iso(status.created_at),
            "in_reply_to_id": status.in_reply_to_id,
            "in_reply_to_account_id": status.in_reply_to_account_id,
            "sensitive": bool(status.spoiler_text),
            "spoiler_text": status.spoiler_text,
            "visibility": status.visibility,
            "language": status.language,
            "uri": f"https://{account.domain or self.host}/users/{account.username}/statuses/{status.id}",
            "url": f"https://{account.domain or self.host}/@{account.username}/{status.id}",
            "replies_count": sum(1 for s in self.statuses.values() if s.in_reply_to_id == status.id),
            "reblogs_count": 0,
            "favourites_count": 0,
            "edited_at": None,
            "favourited": False,
            "reblogged": False,
            "muted": False,
            "bookmarked": False,
            "pinned": False if viewer == status.account_id else None,
            "content": status.content,
            "filtered": [],
            "reblog": None,
            "application": {"name": "caredesk", "website": None} if status.via_api else None,
            "account": self._account_json(account),
            "media_attachments": status.media,
            "mentions": mentions,
            "tags": [{"name": t, "url": f"https://{self.host}/tags/{t}"} for t in status.tags],
            "emojis": [],
            "card": None,
            "poll": None,
        }

    def _notification_json(self, note: Notification) -> dict[str, Any]:
        status = self.statuses.get(note.status_id or "")
        return {
            "id": note.id,
            "type": note.type,
            "created_at": _iso(note.created_at),
            "group_key": f"ungrouped-{note.id}",
            "account": self._account_json(self.accounts[note.from_id]),
            "status": self._status_json(status, note.recipient_id) if status else None,
        }

    def _request_json(self, request: NotificationRequest) -> dict[str, Any]:
        last = self.statuses.get(request.last_status_id or "")
        return {
            "id": request.id,
            "created_at": _iso(request.created_at),
            "updated_at": _iso(request.updated_at),
            "notifications_count": str(request.count),
            "account": self._account_json(self.accounts[request.from_id]),
            "last_status": self._status_json(last, request.recipient_id) if last else None,
        }

    def _policy_json(self, account_id: str) -> dict[str, Any]:
        policy = self.policies.get(account_id, DEFAULT_POLICY)
        pending = [r for r in self.requests.values() if r.recipient_id == account_id]
        return {
            **policy,
            "summary": {
                "pending_requests_count": len(pending),
                "pending_notifications_count": sum(r.count for r in pending),
            },
        }

    # --- HTTP ----------------------------------------------------------------------------------------

    def _caller(self, request: Request) -> str:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return "token:" + auth[7:].strip()
        return "ip:" + (request.client.host if request.client else "?")

    def _rate_headers(self, caller: str, *, exhausted: bool = False) -> dict[str, str]:
        window = int(time.time() // RATE_WINDOW)
        with self._lock:
            seen_window, used = self._windows.get(caller, (window, 0))
        if seen_window != window:
            used = 0
        reset_at = (window + 1) * RATE_WINDOW
        if self.reset_format == "epoch":
            reset = str(reset_at)
        else:
            reset = datetime.fromtimestamp(reset_at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return {
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remaining": "0" if exhausted else str(max(0, self.rate_limit - used)),
            "X-RateLimit-Reset": reset,
        }

    def _count(self, caller: str) -> bool:
        """Count one request; False when the caller is over the limit for this window."""
        window = int(time.time() // RATE_WINDOW)
        with self._lock:
            seen_window, used = self._windows.get(caller, (window, 0))
            used = used + 1 if seen_window == window else 1
            self._windows[caller] = (window, used)
            return used <= self.rate_limit

    def _viewer(
        self, request: Request, scope: str | None, *, required: bool = True, query_token: bool = False
    ) -> str | None:
        """The account behind the request's token; `scope` like "read:notifications" (None: any)."""
        auth = request.headers.get("authorization", "")
        given = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        if given is None and query_token:
            given = request.query_params.get("access_token")
        if not given:
            if required:
                raise FakeError(401, INVALID_TOKEN)
            return None
        with self._lock:
            token = self.tokens.get(given)
        if token is None:
            raise FakeError(401, INVALID_TOKEN)
        if scope is not None:
            top = scope.split(":", 1)[0]
            if scope not in token.scopes and top not in token.scopes:
                raise FakeError(403, OUT_OF_SCOPE)
        return token.account_id

    async def _params(self, request: Request) -> dict[str, Any]:
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                body = await request.json()
            except ValueError:
                raise FakeError(400, "Error while parsing request body") from None
            if not isinstance(body, dict):
                raise FakeError(422, "Validation failed: Text can't be blank")
            return body
        form = await request.form()
        return {k: v for k, v in form.items() if isinstance(v, str)}

    def _page(
        self, items: list[Any], request: Request, *, default: int, maximum: int, key: Any
    ) -> tuple[list[Any], str | None]:
        """Mastodon's id paging (newest first) and its Link header; items are sorted newest first."""
        q = request.query_params
        try:
            limit = int(q.get("limit") or default)
        except ValueError:
            limit = default
        limit = max(1, min(limit, maximum, self.page_size))
        max_id, since_id, min_id = q.get("max_id"), q.get("since_id"), q.get("min_id")
        selected = [
            i
            for i in items
            if (not max_id or _key(key(i)) < _key(max_id))
            and (not since_id or _key(key(i)) > _key(since_id))
            and (not min_id or _key(key(i)) > _key(min_id))
        ]
        # min_id: the items immediately newer than it (the oldest of the selection), still newest first.
        page = selected[-limit:] if min_id else selected[:limit]
        if not page:
            return page, None
        kept = [(k, v) for k, v in q.multi_items() if k not in ("max_id", "since_id", "min_id")]
        base = f"{request.url.scheme}://{request.url.netloc}{request.url.path}"
        nxt = base + "?" + urlencode([*kept, ("max_id", key(page[-1]))])
        prev = base + "?" + urlencode([*kept, ("min_id", key(page[0]))])
        return page, f'<{nxt}>; rel="next", <{prev}>; rel="prev"'

    def _build(self) -> FastAPI:
        app = FastAPI(title="fake Mastodon")

        @app.exception_handler(FakeError)
        async def fake_error(request: Request, exc: FakeError) -> JSONResponse:
            return JSONResponse({"error": exc.message}, status_code=exc.status)

        @app.middleware("http")
        async def gate(request: Request, call_next: Any) -> Response:
            path = request.url.path
            if not path.startswith("/api/"):
                return await call_next(request)  # type: ignore[no-any-return]
            caller = self._caller(request)
            scope = f"{request.method} {path}"
            with self._lock:
                self.request_log.append(
                    {
                        "method": request.method,
                        "path": path,
                        "query": list(request.query_params.multi_items()),
                        "idempotency_key": request.headers.get("idempotency-key"),
                    }
                )
                if len(self.request_log) > 10_000:  # a long demo run keeps the recent ones
                    del self.request_log[:1_000]
                queue = self.failures.get(scope)
                failure = queue.pop(0) if queue else None
            if failure == "timeout":
                await asyncio.sleep(self.hang_seconds)  # the caller gave up; nothing is recorded
                return JSONResponse({"error": "Gateway timeout"}, status_code=504)
            if failure == "429" or not self._count(caller):
                return JSONResponse(
                    {"error": "Too many requests"},
                    status_code=429,
                    headers=self._rate_headers(caller, exhausted=True),
                )
            if failure is not None:
                code = int(failure)
                message = {500: "Internal Server Error", 503: "Service Unavailable"}.get(code, "Error")
                return JSONResponse({"error": message}, status_code=code, headers=self._rate_headers(caller))
            response: Response = await call_next(request)
            response.headers.update(self._rate_headers(caller))
            return response

        # accounts -----------------------------------------------------------------------------------

        @app.get("/api/v1/accounts/verify_credentials")
        def verify_credentials(request: Request) -> JSONResponse:
            viewer = self._viewer(request, "read:accounts")
            assert viewer is not None
            with self._lock:
                body = self._account_json(self.accounts[viewer])
            body["source"] = {
                "privacy": "public",
                "sensitive": False,
                "language": "en",
                "note": "",
                "fields": [],
            }
            return JSONResponse(body)

        @app.get("/api/v1/accounts/{account_id}/statuses")
        def account_statuses(account_id: str, request: Request) -> JSONResponse:
            viewer = self._viewer(request, "read:statuses", required=False)
            with self._lock:
                if account_id not in self.accounts:
                    raise FakeError(404, NOT_FOUND)
                mine = [
                    s
                    for s in self.statuses.values()
                    if s.account_id == account_id and self._visible(s, viewer)
                ]
                mine.sort(key=lambda s: _key(s.id), reverse=True)
                page, link = self._page(mine, request, default=20, maximum=40, key=lambda s: s.id)
                body = [self._status_json(s, viewer) for s in page]
            return JSONResponse(body, headers={"Link": link} if link else None)

        @app.get("/api/v1/accounts/{account_id}")
        def get_account(account_id: str, request: Request) -> JSONResponse:
            self._viewer(request, None, required=False)
            with self._lock:
                account = self.accounts.get(account_id)
                if account is None:
                    raise FakeError(404, NOT_FOUND)
                return JSONResponse(self._account_json(account))

        # statuses -----------------------------------------------------------------------------------

        @app.post("/api/v1/statuses")
        async def post_status(request: Request) -> JSONResponse:
            viewer = self._viewer(request, "write:statuses")
            assert viewer is not None
            params = await self._params(request)
            key = request.headers.get("idempotency-key")
            with self._lock:
                if key:
                    known = self.idempotency.get((viewer, key))
                    if known and known[1] > time.monotonic() and known[0] in self.statuses:
                        return JSONResponse(self._status_json(self.statuses[known[0]], viewer))
                text = str(params.get("status") or "")
                if not text.strip():
                    raise FakeError(422, "Validation failed: Text can't be blank")
                spoiler = str(params.get("spoiler_text") or "")
                counted = length.count("mastodon", spoiler + text, limit=self.max_characters)
                if counted.length > self.max_characters:
                    raise FakeError(
                        422, f"Validation failed: Text character limit of {self.max_characters} exceeded"
                    )
                visibility = str(params.get("visibility") or "public")
                reply_to = params.get("in_reply_to_id")
                status = self._create_status(
                    viewer,
                    text,
                    visibility=visibility,
                    in_reply_to_id=str(reply_to) if reply_to else None,
                    spoiler_text=spoiler,
                    language=str(params["language"]) if params.get("language") else "en",
                    via_api=True,
                    idempotency_key=key,
                )
                if key:
                    self.idempotency[(viewer, key)] = (status.id, time.monotonic() + self.idempotency_ttl)
                return JSONResponse(self._status_json(status, viewer))

        @app.get("/api/v1/statuses/{status_id}")
        def get_status(status_id: str, request: Request) -> JSONResponse:
            viewer = self._viewer(request, "read:statuses", required=False)
            with self._lock:
                status = self.statuses.get(status_id)
                if status is None or not self._visible(status, viewer):
                    raise FakeError(404, NOT_FOUND)
                return JSONResponse(self._status_json(status, viewer))

        # listening: hashtag timeline and search -----------------------------------------------------

        @app.get("/api/v1/timelines/tag/{hashtag}")
        def tag_timeline(hashtag: str, request: Request) -> JSONResponse:
            viewer = self._viewer(request, "read:statuses", required=False)
            q = request.query_params
            wanted_any = {hashtag.lower(), *(t.lower() for t in q.getlist("any[]"))}
            wanted_all = {t.lower() for t in q.getlist("all[]")}
            unwanted = {t.lower() for t in q.getlist("none[]")}
            local, remote = _flag(q.get("local")), _flag(q.get("remote"))
            only_media = _flag(q.get("only_media"))
            with self._lock:
                tagged = [
                    s
                    for s in self.statuses.values()
                    if s.visibility == "public"
                    and wanted_any & set(s.tags)
                    and wanted_all <= set(s.tags)
                    and not unwanted & set(s.tags)
                    and (not local or self.accounts[s.account_id].domain is None)
                    and (not remote or self.accounts[s.account_id].domain is not None)
                    and (not only_media or s.media)
                ]
                tagged.sort(key=lambda s: _key(s.id), reverse=True)
                page, link = self._page(tagged, request, default=20, maximum=40, key=lambda s: s.id)
                body = [self._status_json(s, viewer) for s in page]
            return JSONResponse(body, headers={"Link": link} if link else None)

        @app.get("/api/v2/search")
        def search(request: Request) -> JSONResponse:
            viewer = self._viewer(request, "read:search")
            q = request.query_params
            query = (q.get("q") or "").strip()
            if not query:
                raise FakeError(400, "Validation failed: q is missing")
            kind = q.get("type")
            if kind not in (None, "", "accounts", "hashtags", "statuses"):
                raise FakeError(400, "Validation failed: type is not included in the list")
            try:
                limit = max(1, min(int(q.get("limit") or 20), 40))
                offset = max(0, int(q.get("offset") or 0))
            except ValueError:
                raise FakeError(400, "Validation failed: limit and offset are numbers") from None
            max_id, min_id, author = q.get("max_id"), q.get("min_id"), q.get("account_id")
            statuses: list[dict[str, Any]] = []
            with self._lock:
                if kind in (None, "", "statuses"):
                    found = [
                        s
                        for s in self.statuses.values()
                        if self._searchable(s, viewer)
                        and _search_matches(query, self._plain(s), s.tags)
                        and (not author or s.account_id == author)
                        and (not max_id or _key(s.id) < _key(max_id))
                        and (not min_id or _key(s.id) > _key(min_id))
                    ]
                    found.sort(key=lambda s: _key(s.id), reverse=True)  # newest first, as Mastodon 4.2+
                    statuses = [self._status_json(s, viewer) for s in found[offset : offset + limit]]
            return JSONResponse({"accounts": [], "statuses": statuses, "hashtags": []})

        # notifications ------------------------------------------------------------------------------

        @app.get("/api/v1/notifications")
        def list_notifications(request: Request) -> JSONResponse:
            viewer = self._viewer(request, "read:notifications")
            q = request.query_params
            types = set(q.getlist("types[]"))
            excluded = set(q.getlist("exclude_types[]"))
            include_filtered = q.get("include_filtered", "").lower() in ("1", "true", "t", "on")
            from_account = q.get("account_id")
            with self._lock:
                mine = [
                    n
                    for n in self.notifications.values()
                    if n.recipient_id == viewer
                    and (not types or n.type in types)
                    and n.type not in excluded
                    and (include_filtered or not n.filtered)
                    and (not from_account or n.from_id == from_account)
                ]
                mine.sort(key=lambda n: _key(n.id), reverse=True)
                page, link = self._page(mine, request, default=40, maximum=80, key=lambda n: n.id)
                body = [self._notification_json(n) for n in page]
            return JSONResponse(body, headers={"Link": link} if link else None)

        @app.get("/api/v2/notifications/policy")
        def get_policy(request: Request) -> JSONResponse:
            viewer = self._viewer(request, "read:notifications")
            assert viewer is not None
            with self._lock:
                return JSONResponse(self._policy_json(viewer))

        @app.patch("/api/v2/notifications/policy")
        async def patch_policy(request: Request) -> JSONResponse:
            viewer = self._viewer(request, "write:notifications")
            assert viewer is not None
            params = await self._params(request)
            values = {k: str(v) for k, v in params.items() if k in DEFAULT_POLICY}
            if any(v not in POLICY_VALUES for v in values.values()):
                raise FakeError(422, "Validation failed: policy values are accept, filter or drop")
            return JSONResponse(self.set_policy(viewer, **values))

        @app.get("/api/v1/notifications/requests")
        def list_requests(request: Request) -> JSONResponse:
            viewer = self._viewer(request, "read:notifications")
            with self._lock:
                mine = [r for r in self.requests.values() if r.recipient_id == viewer]
                mine.sort(key=lambda r: _key(r.id), reverse=True)
                page, link = self._page(mine, request, default=40, maximum=80, key=lambda r: r.id)
                body = [self._request_json(r) for r in page]
            return JSONResponse(body, headers={"Link": link} if link else None)

        @app.get("/api/v1/notifications/requests/merged")
        def requests_merged(request: Request) -> JSONResponse:
            self._viewer(request, "read:notifications")
            return JSONResponse({"merged": True})

        def own_request(request_id: str, viewer: str | None) -> NotificationRequest:
            found = self.requests.get(request_id)
            if found is None or found.recipient_id != viewer:
                raise FakeError(404, NOT_FOUND)
            return found

        @app.get("/api/v1/notifications/requests/{request_id}")
        def get_request(request_id: str, request: Request) -> JSONResponse:
            viewer = self._viewer(request, "read:notifications")
            with self._lock:
                return JSONResponse(self._request_json(own_request(request_id, viewer)))

        @app.post("/api/v1/notifications/requests/{request_id}/accept")
        def accept_request(request_id: str, request: Request) -> JSONResponse:
            viewer = self._viewer(request, "write:notifications")
            with self._lock:
                found = own_request(request_id, viewer)
                self.permissions.add((found.recipient_id, found.from_id))
                for note in self.notifications.values():
                    if (note.recipient_id, note.from_id) == (found.recipient_id, found.from_id):
                        note.filtered = False
                del self.requests[found.id]
            return JSONResponse({})

        @app.post("/api/v1/notifications/requests/{request_id}/dismiss")
        def dismiss_request(request_id: str, request: Request) -> JSONResponse:
            viewer = self._viewer(request, "write:notifications")
            with self._lock:
                found = own_request(request_id, viewer)
                for note_id in [
                    n.id
                    for n in self.notifications.values()
                    if (n.recipient_id, n.from_id) == (found.recipient_id, found.from_id) and n.filtered
                ]:
                    del self.notifications[note_id]
                del self.requests[found.id]
            return JSONResponse({})

        @app.get("/api/v1/notifications/{notification_id}")
        def get_notification(notification_id: str, request: Request) -> JSONResponse:
            viewer = self._viewer(request, "read:notifications")
            with self._lock:
                note = self.notifications.get(notification_id)
                if note is None or note.recipient_id != viewer:
                    raise FakeError(404, NOT_FOUND)
                return JSONResponse(self._notification_json(note))

        # instance -----------------------------------------------------------------------------------

        statuses_config = {
            "max_characters": self.max_characters,
            "max_media_attachments": 4,
            "characters_reserved_per_url": length.MASTODON_URL_LENGTH,
        }

        @app.get("/api/v1/instance")
        def instance_v1(request: Request) -> JSONResponse:
            return JSONResponse(
                {
                    "uri": self.host,
                    "title": "Fake Mastodon",
                    "version": "4.3.2",
                    "urls": {"streaming_api": f"ws://{request.url.netloc}"},
                    "configuration": {"statuses": statuses_config},
                }
            )

        @app.get("/api/v2/instance")
        def instance_v2(request: Request) -> JSONResponse:
            return JSONResponse(
                {
                    "domain": self.host,
                    "title": "Fake Mastodon",
                    "version": "4.3.2",
                    "configuration": {
                        "urls": {"streaming": f"ws://{request.url.netloc}"},
                        "statuses": statuses_config,
                    },
                }
            )

        # streaming --------------------------------------------------------------------------------------

        @app.get("/api/v1/streaming/health")
        def stream_health() -> PlainTextResponse:
            return PlainTextResponse("OK")

        @app.get("/api/v1/streaming/user/notification")
        async def stream_notifications(request: Request) -> StreamingResponse:
            viewer = self._viewer(request, "read:notifications", query_token=True)
            assert viewer is not None
            queue: asyncio.Queue[str] = asyncio.Queue()
            entry = (viewer, asyncio.get_running_loop(), queue)
            with self._lock:
                self._subscribers.append(entry)

            async def frames() -> AsyncIterator[str]:
                try:
                    yield ":)\n"
                    while not self._closing:
                        try:
                            payload = await asyncio.wait_for(queue.get(), timeout=self.heartbeat_seconds)
                        except TimeoutError:
                            yield ":thump\n"
                            continue
                        yield f"event: notification\ndata: {payload}\n\n"
                finally:
                    with self._lock:
                        if entry in self._subscribers:
                            self._subscribers.remove(entry)

            return StreamingResponse(frames(), media_type="text/event-stream")

        # admin --------------------------------------------------------------------------------------

        @app.post("/_fake/accounts")
        async def admin_account(request: Request) -> JSONResponse:
            body = await request.json()
            try:
                account = self.add_account(
                    str(body["username"]),
                    domain=body.get("domain"),
                    display_name=body.get("display_name"),
                    followers_count=int(body.get("followers_count") or 0),
                    indexable=bool(body.get("indexable", True)),
                )
            except (KeyError, ValueError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=422)
            return JSONResponse(account, status_code=201)

        @app.post("/_fake/tokens")
        async def admin_token(request: Request) -> JSONResponse:
            body = await request.json()
            if str(body.get("account_id")) not in self.accounts:
                return JSONResponse({"error": "unknown account"}, status_code=404)
            scopes = body.get("scopes") or list(DEFAULT_SCOPES)
            return JSONResponse({"access_token": self.issue_token(str(body["account_id"]), scopes)})

        @app.post("/_fake/statuses")
        async def admin_post(request: Request) -> JSONResponse:
            body = await request.json()
            try:
                status = self.post(
                    str(body["account_id"]),
                    body.get("text"),
                    content=body.get("content"),
                    visibility=str(body.get("visibility") or "public"),
                    in_reply_to_id=body.get("in_reply_to_id"),
                    spoiler_text=str(body.get("spoiler_text") or ""),
                    language=body.get("language", "en"),
                )
            except KeyError:
                return JSONResponse({"error": "unknown account"}, status_code=404)
            return JSONResponse(status, status_code=201)

        @app.post("/_fake/follows")
        async def admin_follow(request: Request) -> JSONResponse:
            body = await request.json()
            self.follow(str(body["follower_id"]), str(body["followed_id"]))
            return JSONResponse({})

        @app.get("/_fake/published/{account_id}")
        def admin_published(account_id: str) -> JSONResponse:
            return JSONResponse(self.published(account_id))

        @app.post("/_fake/fail")
        async def admin_fail(request: Request) -> JSONResponse:
            body = await request.json()
            try:
                self.fail_next(str(body["on"]), *[str(f) for f in body.get("failures", [])])
            except (KeyError, ValueError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=422)
            return JSONResponse({"pending": {k: list(v) for k, v in self.failures.items()}})

        @app.get("/_fake/requests")
        def admin_log() -> JSONResponse:
            with self._lock:
                return JSONResponse(list(self.request_log))

        @app.get("/", response_class=HTMLResponse)
        def home() -> str:
            with self._lock:
                rows = [
                    f"<li><b>@{html.escape(self.accounts[s.account_id].acct)}</b> · {s.visibility} · "
                    f"{html.escape(s.text)}</li>"
                    for s in sorted(self.statuses.values(), key=lambda s: _key(s.id), reverse=True)[:100]
                ]
            return (
                "<!doctype html><meta charset=utf-8><title>Fake Mastodon</title>"
                f"<h1>Statuses on the fake Mastodon ({html.escape(self.host)})</h1><ul>"
                + "".join(rows)
                + "</ul>"
            )

        return app


def _scope(on: str) -> str:
    return {
        "fetch": "GET /api/v1/notifications",
        "send": "POST /api/v1/statuses",
        "search": "GET /api/v2/search",
    }.get(on, on)


def _flag(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "t", "on")


def _search_matches(query: str, text: str, tags: Sequence[str]) -> bool:
    """A simplified Mastodon full-text query: every bare word and every "quoted phrase" must occur (whole
    words, case-insensitive); a bare #tag must be one of the status's hashtags."""
    folded = text.casefold()
    phrases = re.findall(r'"([^"]+)"', query)
    words = re.sub(r'"[^"]*"', " ", query).split()
    for given in [*phrases, *words]:
        term = given.strip().casefold()
        if term.startswith("#") and len(term) > 1:
            if term[1:] not in tags:
                return False
            continue
        if term and re.search(rf"(?<!\w){re.escape(term)}(?!\w)", folded) is None:
            return False
    return bool(phrases or words)
