"""Talking to one Mastodon instance: requests, its Link-header paging, rate-limit headers and error bodies.

Errors become ConnectorError with a message an agent can act on. The access token never appears in one:
messages quote only the server's own `{"error": "..."}` text.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from caredesk.domain.clock import Clock
from caredesk.domain.errors import ConnectorError, NotConfigured

Params = Sequence[tuple[str, str]]

MIN_RETRY_AFTER = 1.0
DEFAULT_RETRY_AFTER = 60.0  # a 429 without usable headers: Mastodon's windows are 5 minutes long


@dataclass(frozen=True, slots=True)
class RateLimit:
    limit: int | None
    remaining: int | None
    reset: datetime | None


def parse_reset(value: str | None) -> datetime | None:
    """`X-RateLimit-Reset`: ISO-8601 on Mastodon; epoch seconds are accepted too (as Mastodon.py does)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            return None
        return datetime.fromtimestamp(seconds, UTC)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def rate_limit(headers: Mapping[str, str]) -> RateLimit:
    return RateLimit(
        limit=_int(headers.get("x-ratelimit-limit")),
        remaining=_int(headers.get("x-ratelimit-remaining")),
        reset=parse_reset(headers.get("x-ratelimit-reset")),
    )


def retry_after(headers: Mapping[str, str], now: datetime) -> float:
    """Seconds until the server lets us in again: the rate-limit reset, else Retry-After, else a default."""
    reset = parse_reset(headers.get("x-ratelimit-reset"))
    if reset is not None:
        return max(MIN_RETRY_AFTER, (reset - now).total_seconds())
    header = headers.get("retry-after")
    if header:
        try:
            return max(MIN_RETRY_AFTER, float(header))
        except ValueError:
            pass
    return DEFAULT_RETRY_AFTER


def link_param(response: httpx.Response, rel: str, name: str) -> str | None:
    """A query parameter of a Link header URL (`rel="next"` -> `max_id`), as Mastodon.py reads it."""
    link = response.links.get(rel)
    if not link or not link.get("url"):
        return None
    values = parse_qs(urlsplit(link["url"]).query).get(name)
    return values[0] if values else None


def id_key(value: str) -> tuple[int, str]:
    """Order of Mastodon ids: strings of digits, so a longer one is newer ("1000" > "999")."""
    return (len(value), value)


def newest(ids: Sequence[str]) -> str | None:
    return max(ids, key=id_key) if ids else None


def server_message(response: httpx.Response) -> str:
    """The `{"error": "..."}` text Mastodon answers with (plus `error_description` on OAuth errors)."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if isinstance(body, Mapping):
        parts = [str(body[k]) for k in ("error", "error_description") if body.get(k)]
        if parts:
            return ": ".join(parts)[:300]
    text = response.text.strip()
    if text and not text.startswith("<"):  # an HTML error page tells an agent nothing
        return text[:300]
    return response.reason_phrase or f"HTTP {response.status_code}"


def error_for(response: httpx.Response, now: datetime, *, doing: str) -> ConnectorError:
    """A Mastodon error answer as a classified ConnectorError; `doing` says what was asked."""
    status = response.status_code
    said = server_message(response)
    if status == 429:
        wait = retry_after(response.headers, now)
        return ConnectorError(
            f"Mastodon rate limit reached (HTTP 429) while {doing}: {said}; next try in {wait:.0f} s",
            retryable=True,
            retry_after=wait,
        )
    if status >= 500:
        return ConnectorError(f"Mastodon is failing (HTTP {status}) while {doing}: {said}", retryable=True)
    if status == 401:
        return ConnectorError(
            f"Mastodon refused the access token (HTTP 401: {said}) while {doing}: create a new access token "
            "for the brand account and update the channel's credentials",
            retryable=False,
        )
    if status == 403:
        return ConnectorError(
            f"Mastodon refused the request (HTTP 403: {said}) while {doing}: the access token needs "
            "the scopes read:accounts, read:notifications, read:statuses, write:statuses (and read:search "
            "for word listening), and the account must not be suspended or disabled",
            retryable=False,
        )
    if status == 404:
        return ConnectorError(f"Mastodon found nothing (HTTP 404: {said}) while {doing}", retryable=False)
    if status == 410:
        return ConnectorError(f"Mastodon says it is gone (HTTP 410: {said}) while {doing}", retryable=False)
    if status == 422:
        return ConnectorError(f"Mastodon refused it (HTTP 422: {said}) while {doing}", retryable=False)
    return ConnectorError(
        f"Mastodon refused the request (HTTP {status}: {said}) while {doing}", retryable=False
    )


class MastodonApi:
    """One instance, one token: every request of the connector goes through `call`."""

    def __init__(self, http: httpx.Client, clock: Clock, base_url: str, token: str) -> None:
        self.http = http
        self.clock = clock
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.host = urlsplit(self.base_url).netloc

    @classmethod
    def from_config(
        cls, http: httpx.Client, clock: Clock, config: Mapping[str, Any], credentials: Mapping[str, Any]
    ) -> MastodonApi:
        base_url = str(config.get("base_url") or "").strip()
        parts = urlsplit(base_url)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise NotConfigured(
                "this Mastodon channel has no valid base_url (the instance's address, e.g. https://mastodon.social)"
            )
        token = credentials.get("access_token")
        if not isinstance(token, str) or not token.strip():
            raise NotConfigured("this Mastodon channel has no access_token in its credentials")
        return cls(http, clock, base_url, token.strip())

    def call(
        self,
        method: str,
        path: str,
        *,
        doing: str,
        params: Params | None = None,
        json: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        accept: Sequence[int] = (),
    ) -> httpx.Response:
        """Send one request; error answers raise ConnectorError, except the status codes in `accept`."""
        sent_headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        sent_headers.update(headers or {})
        try:
            response = self.http.request(
                method, self.base_url + path, params=list(params or []), json=json, headers=sent_headers
            )
        except httpx.TimeoutException:
            raise ConnectorError(f"Mastodon ({self.host}) timed out while {doing}", retryable=True) from None
        except httpx.TransportError as exc:
            raise ConnectorError(
                f"Mastodon ({self.host}) is unreachable while {doing}: {type(exc).__name__}", retryable=True
            ) from None
        if response.status_code >= 400 and response.status_code not in accept:
            raise error_for(response, self.clock.now(), doing=doing)
        return response

    def json(self, response: httpx.Response, *, doing: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise ConnectorError(
                f"Mastodon ({self.host}) answered {doing} with something that is not JSON", retryable=True
            ) from None
