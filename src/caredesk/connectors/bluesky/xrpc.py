"""XRPC over plain httpx: app-password sessions, the chat proxy header, rate limits and error bodies.

Sessions. `com.atproto.server.createSession` is rate-limited per account (30 per 5 minutes, 300 a day, and
lower through the bsky.social entryway), so a session is made once and reused: it lives in `SESSIONS`, a
process-wide cache keyed by (service, identifier, digest of the app password), shared by every connector
instance of the process (the poller and the sender build a new instance per call). The access JWT is
decoded without verifying its signature to read `exp` (and `iat`), and the session is refreshed with
`com.atproto.server.refreshSession` before it expires (15 minutes early, or a quarter of its lifetime if
that is shorter), timed on caredesk's clock from the token's lifetime so clock skew does not matter.
Sessions are per process: each worker process logs in once.

Rate limits. Bluesky answers with the IETF draft `RateLimit-Limit`, `RateLimit-Remaining`,
`RateLimit-Reset` and `RateLimit-Policy` headers. The draft defines `RateLimit-Reset` as seconds until the
window resets, while Bluesky's PDS sends an epoch timestamp (seconds since 1970): a value of at least
1,000,000,000 is read as an epoch, anything smaller as a delay. `Retry-After` is honoured when present.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import threading
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from caredesk.domain.clock import Clock
from caredesk.domain.errors import ConnectorError

NETWORK = "Bluesky"
CHAT_PROXY = "did:web:api.bsky.chat#bsky_chat"
EPOCH_THRESHOLD = 1_000_000_000  # RateLimit-Reset values this large are Unix times, not delays
MAX_WAIT = 86_400.0
REFRESH_MARGIN = 900.0  # refresh this many seconds before the access token expires (as the SDK does)

# Errors a person can act on, said in words an agent understands (the network's names in parentheses).
EXPLAINED: dict[str, str] = {
    "ConvoLocked": (
        "the direct-message conversation is locked (the customer left it, a block was added, or moderation "
        "locked it), so nothing can be sent there: reply publicly instead, or wait for the customer to write "
        "again"
    ),
    "MessagesDisabled": (
        "the customer does not accept direct messages (their chat setting is 'No one'): reply publicly "
        "instead"
    ),
    "NotFollowedBySender": (
        "the customer only accepts direct messages from accounts they follow, and they do not follow the "
        "brand: reply publicly and ask them to follow the brand account or to message it first"
    ),
    "InvalidConvo": (
        "the direct-message conversation no longer exists or the brand is no longer in it: send the reply "
        "again as a new private message, or reply publicly"
    ),
    "RecipientNotFound": "the customer's account no longer exists or cannot receive direct messages",
    "BlockedActor": "a block between the brand and the customer prevents direct messages",
    "BlockedSubject": "a block between the brand and the customer prevents direct messages",
    "AccountSuspended": "the account is suspended from Bluesky chat and cannot send direct messages",
    "AccountTakedown": "the brand account was taken down by Bluesky moderation: contact Bluesky support",
    "AuthFactorTokenRequired": (
        "the account asks for an email sign-in code: use an app password (Settings > Privacy and security "
        "> App passwords), which does not need one"
    ),
    "AuthenticationRequired": (
        "Bluesky rejected the handle or app password: check the channel's handle/did and its app_password "
        "(an app password looks like xxxx-xxxx-xxxx-xxxx; the account's main password is not accepted)"
    ),
}
NO_DM_SCOPE = (
    "the app password has no access to direct messages: create a new app password with 'Allow access to "
    "your direct messages' ticked and store it on the channel, or turn direct messages off for this channel "
    "(config dms=false)"
)


@dataclass(frozen=True, slots=True)
class Session:
    access_jwt: str
    refresh_jwt: str
    did: str
    handle: str
    service: str  # where XRPC calls go: the PDS named in the DID document, else the configured base URL
    expires_at: float  # when the access token expires, on our clock (Unix time)
    refresh_after: float


class SessionCache:
    """Sessions of this process, by account. Logging in or refreshing holds the account's lock, so two
    threads never spend two createSession calls on one account."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._seen: dict[str, str] = {}  # last seenAt sent with updateSeen, per account

    def lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(key, threading.Lock())

    def get(self, key: str) -> Session | None:
        with self._lock:
            return self._sessions.get(key)

    def put(self, key: str, session: Session) -> None:
        with self._lock:
            self._sessions[key] = session

    def drop(self, key: str, session: Session | None = None) -> None:
        with self._lock:
            if session is None or self._sessions.get(key) is session:
                self._sessions.pop(key, None)

    def seen(self, key: str) -> str | None:
        with self._lock:
            return self._seen.get(key)

    def mark_seen(self, key: str, value: str) -> None:
        with self._lock:
            self._seen[key] = value

    def clear(self) -> None:
        with self._lock:
            self._sessions.clear()
            self._seen.clear()


SESSIONS = SessionCache()


def jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, decoded without checking its signature (the PDS checks it; we only need
    `exp`). Raises ValueError for anything that is not JWT-shaped."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a JWT")
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    if not isinstance(claims, dict):
        raise ValueError("JWT payload is not an object")
    return claims


def rate_limit_wait(headers: httpx.Headers, now: float) -> float | None:
    """Seconds to wait before the next request, from Retry-After or RateLimit-Reset (delay or epoch)."""
    waits: list[float] = []
    retry_after = headers.get("retry-after")
    if retry_after:
        try:
            waits.append(float(retry_after))
        except ValueError:
            with contextlib.suppress(TypeError, ValueError):
                waits.append(parsedate_to_datetime(retry_after).timestamp() - now)
    reset = headers.get("ratelimit-reset")
    if reset is None:  # the later draft's single header: `RateLimit: limit=30, remaining=0, reset=120`
        for part in headers.get("ratelimit", "").split(","):
            key, _, value = part.strip().partition("=")
            if key == "reset":
                reset = value
    if reset:
        try:
            value = float(reset)
        except ValueError:
            value = None
        if value is not None:
            waits.append(value - now if value >= EPOCH_THRESHOLD else value)
    if not waits:
        return None
    return min(MAX_WAIT, max(1.0, *waits))


def error_of(response: httpx.Response) -> tuple[str, str]:
    """The XRPC error body `{"error", "message"}`, as far as the response has one."""
    try:
        body = response.json()
    except ValueError:
        return "", response.text[:200].strip()
    if not isinstance(body, dict):
        return "", ""
    return str(body.get("error") or ""), str(body.get("message") or "")[:300]


def xrpc_error(nsid: str, response: httpx.Response, now: float) -> ConnectorError:
    """Sort an XRPC failure: 429 and 5xx retryable (with the reset time), the rest final and explained."""
    status = response.status_code
    error, message = error_of(response)
    named = f"{error}: {message}" if error and message else error or message
    if status == 429:
        wait = rate_limit_wait(response.headers, now)
        policy = response.headers.get("ratelimit-policy")
        detail = f" (policy {policy})" if policy else ""
        when = f"; retrying in {wait:.0f} s" if wait is not None else ""
        return ConnectorError(
            f"{NETWORK} rate limit reached on {nsid} (HTTP 429){detail}{when}",
            retryable=True,
            retry_after=wait,
        )
    if status >= 500:
        return ConnectorError(
            f"{NETWORK} is failing on {nsid} (HTTP {status}{': ' + named if named else ''})", retryable=True
        )
    if error == "InvalidToken" and "scope" in message.lower():
        return ConnectorError(f"{NETWORK}: {NO_DM_SCOPE}", retryable=False)
    if error in EXPLAINED:
        return ConnectorError(f"{NETWORK}: {EXPLAINED[error]} ({error})", retryable=False)
    return ConnectorError(
        f"{NETWORK} refused {nsid} (HTTP {status}{': ' + named if named else ''})", retryable=False
    )


def _expired(response: httpx.Response) -> bool:
    if response.status_code not in (400, 401):
        return False
    error, message = error_of(response)
    return error == "ExpiredToken" or (error == "InvalidToken" and "scope" not in message.lower())


class Xrpc:
    """XRPC calls on behalf of one account, with its session taken from (and kept in) `SESSIONS`."""

    def __init__(
        self, http: httpx.Client, clock: Clock, *, base_url: str, identifier: str, password: str
    ) -> None:
        self.http = http
        self.clock = clock
        self.base_url = base_url.rstrip("/")
        self.identifier = identifier
        self._password = password
        digest = hashlib.sha256(password.encode()).hexdigest()[:16]
        self.key = f"{self.base_url}|{identifier.lower()}|{digest}"

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def _post(self, url: str, nsid: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.http.post(url, **kwargs)
        except httpx.TimeoutException:
            raise ConnectorError(f"{NETWORK} timed out on {nsid}", retryable=True) from None
        except httpx.TransportError as exc:
            raise ConnectorError(
                f"{NETWORK} unreachable on {nsid}: {type(exc).__name__}", retryable=True
            ) from None

    def _get(self, url: str, nsid: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.http.get(url, **kwargs)
        except httpx.TimeoutException:
            raise ConnectorError(f"{NETWORK} timed out on {nsid}", retryable=True) from None
        except httpx.TransportError as exc:
            raise ConnectorError(
                f"{NETWORK} unreachable on {nsid}: {type(exc).__name__}", retryable=True
            ) from None

    # --- sessions --------------------------------------------------------------------------------------

    def _session_from(self, data: Any, nsid: str) -> Session:
        try:
            access, refresh = str(data["accessJwt"]), str(data["refreshJwt"])
            did, handle = str(data["did"]), str(data.get("handle") or "")
        except (KeyError, TypeError):
            raise ConnectorError(f"{NETWORK} answered {nsid} without a session", retryable=True) from None
        try:
            claims = jwt_claims(access)
            exp = float(claims["exp"])
        except (ValueError, KeyError, TypeError):
            raise ConnectorError(
                f"{NETWORK} returned an access token without a readable expiry ({nsid}): cannot keep a "
                "session",
                retryable=False,
            ) from None
        # Timed on our own clock from the token's lifetime (exp - iat), so a clock that runs ahead of the
        # PDS's does not make every call look due for a refresh.
        now = self._now()
        issued = claims.get("iat")
        lifetime = exp - float(issued) if isinstance(issued, int | float) else exp - now
        margin = min(REFRESH_MARGIN, max(0.0, lifetime) / 4)
        return Session(
            access_jwt=access,
            refresh_jwt=refresh,
            did=did,
            handle=handle,
            service=_pds_endpoint(data.get("didDoc")) or self.base_url,
            expires_at=now + lifetime,
            refresh_after=now + lifetime - margin,
        )

    def login(self) -> Session:
        """A new session (createSession), replacing any cached one (verify() uses it: a real sign-in)."""
        with SESSIONS.lock(self.key):
            return self._login()

    def _login(self) -> Session:
        nsid = "com.atproto.server.createSession"
        response = self._post(
            f"{self.base_url}/xrpc/{nsid}",
            nsid,
            json={"identifier": self.identifier, "password": self._password},
        )
        if response.status_code != 200:
            raise xrpc_error(nsid, response, self._now())
        session = self._session_from(response.json(), nsid)
        SESSIONS.put(self.key, session)
        return session

    def _refresh(self, old: Session) -> Session:
        nsid = "com.atproto.server.refreshSession"
        response = self._post(
            f"{old.service}/xrpc/{nsid}", nsid, headers={"Authorization": f"Bearer {old.refresh_jwt}"}
        )
        if response.status_code != 200:
            raise xrpc_error(nsid, response, self._now())
        session = self._session_from(response.json(), nsid)
        SESSIONS.put(self.key, session)
        return session

    def session(self) -> Session:
        """A usable session: the cached one, refreshed when due, or a new login."""
        with SESSIONS.lock(self.key):
            current = SESSIONS.get(self.key)
            now = self._now()
            if current is not None and now < current.refresh_after:
                return current
            if current is not None:
                try:
                    return self._refresh(current)
                except ConnectorError as exc:
                    if exc.retryable and now < current.expires_at:
                        return current  # refreshing early failed for now; the token is still good
                    if exc.retryable:
                        raise
                    SESSIONS.drop(self.key, current)  # the refresh token is dead: log in again
            return self._login()

    def _renew(self, stale: Session) -> Session:
        with SESSIONS.lock(self.key):
            current = SESSIONS.get(self.key)
            if current is not None and current is not stale:
                return current  # another thread renewed it already
            SESSIONS.drop(self.key, stale)
            try:
                return self._refresh(stale)
            except ConnectorError as exc:
                if exc.retryable:
                    raise
            return self._login()

    # --- calls -----------------------------------------------------------------------------------------

    def call(
        self,
        nsid: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        chat: bool = False,
    ) -> dict[str, Any]:
        """A query (GET with params) or, with `body`, a procedure (POST JSON). Returns the JSON object
        answered (empty for procedures without output). `chat` adds the chat service proxy header."""
        session = self.session()
        for attempt in range(2):
            headers = {"Authorization": f"Bearer {session.access_jwt}"}
            if chat:
                headers["atproto-proxy"] = CHAT_PROXY
            url = f"{session.service}/xrpc/{nsid}"
            if body is None:
                response = self._get(url, nsid, params=params, headers=headers)
            else:
                response = self._post(url, nsid, json=body, headers=headers)
            if attempt == 0 and _expired(response):
                session = self._renew(session)
                continue
            if response.status_code != 200:
                raise xrpc_error(nsid, response, self._now())
            if not response.content:
                return {}
            try:
                data = response.json()
            except ValueError:
                raise ConnectorError(f"{NETWORK} answered {nsid} with invalid JSON", retryable=True) from None
            if not isinstance(data, dict):
                raise ConnectorError(f"{NETWORK} answered {nsid} with unexpected JSON", retryable=True)
            return data
        raise ConnectorError(f"{NETWORK} kept refusing the session on {nsid}", retryable=True)


def _pds_endpoint(did_doc: Any) -> str | None:
    """The account's PDS from its DID document (`#atproto_pds` service), as the official SDK uses it."""
    if not isinstance(did_doc, dict):
        return None
    for service in did_doc.get("service") or []:
        if not isinstance(service, dict):
            continue
        if str(service.get("id", "")).endswith("#atproto_pds"):
            endpoint = service.get("serviceEndpoint")
            if isinstance(endpoint, str) and endpoint.startswith("https://"):
                return endpoint.rstrip("/")
    return None
