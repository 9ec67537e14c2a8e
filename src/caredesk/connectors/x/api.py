"""Calls to the X API v2 and the mapping of its answers to caredesk errors.

X reports limits in `x-rate-limit-limit`, `x-rate-limit-remaining` and `x-rate-limit-reset` (epoch
seconds) and sends no Retry-After: a 429 becomes a retryable ConnectorError whose `retry_after` is the time
left until the reset. Error bodies are problem+json (`title`, `detail`, `type`, sometimes `errors[]`);
they become one readable sentence. Tokens are sent in headers only and never appear in a message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import httpx

from caredesk.domain.errors import ConnectorError

NETWORK = "X"
Auth = Literal["app", "user"]
# Which channel credential each kind of call uses, and how to name it to a person.
CREDENTIAL: dict[str, str] = {"app": "bearer_token", "user": "user_token"}
CREDENTIAL_NAME: dict[str, str] = {
    "app": "app-only bearer token",
    "user": "OAuth 2.0 user token",
}
_SECRETISH = re.compile(r"(?i)bearer\s+\S+")


@dataclass(frozen=True, slots=True)
class RateLimit:
    limit: int | None
    remaining: int | None
    reset: float | None  # epoch seconds

    @classmethod
    def of(cls, response: httpx.Response) -> RateLimit:
        return cls(
            _number(response.headers.get("x-rate-limit-limit")),
            _number(response.headers.get("x-rate-limit-remaining")),
            _float(response.headers.get("x-rate-limit-reset")),
        )

    def seconds_left(self, now: datetime) -> float | None:
        if self.reset is None:
            return None
        # tweepy waits until reset + 1; never less than a second, so the poller always waits.
        return max(1.0, self.reset - now.timestamp() + 1.0)


def _number(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Problem:
    """What an X error body says, flattened."""

    title: str
    detail: str
    type: str
    messages: tuple[str, ...]

    @classmethod
    def of(cls, response: httpx.Response) -> Problem:
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            text = _SECRETISH.sub("Bearer ***", response.text[:200].strip())
            return cls(response.reason_phrase or "", text, "", ())
        messages: list[str] = []
        for err in body.get("errors") or []:
            if isinstance(err, dict):
                message = err.get("message") or err.get("detail")
                if isinstance(message, str) and message:
                    messages.append(message)
        return cls(
            str(body.get("title") or response.reason_phrase or ""),
            str(body.get("detail") or ""),
            str(body.get("type") or ""),
            tuple(messages),
        )

    def sentence(self) -> str:
        parts = [self.detail] if self.detail else []
        parts += [m for m in self.messages if m != self.detail]
        text = "; ".join(p.rstrip(".") for p in parts[:-1]) + ("; " if len(parts) > 1 else "")
        text = (text + parts[-1]) if parts else (self.title or "no details given")
        return _SECRETISH.sub("Bearer ***", text)[:400]

    @property
    def duplicate_content(self) -> bool:
        return "duplicate content" in (self.detail + " " + " ".join(self.messages)).lower()


def error_for(response: httpx.Response, *, what: str, auth: Auth, now: datetime) -> ConnectorError:
    """A clear, classified error for a failed call. `what` names the call for the agent ("posting the
    reply"), `auth` the kind of token it used."""
    token = CREDENTIAL_NAME[auth]
    status = response.status_code
    problem = Problem.of(response)
    head = f"{NETWORK} refused {what} (HTTP {status}{' ' + problem.title if problem.title else ''})"
    if status == 429:
        wait = RateLimit.of(response).seconds_left(now)
        when = f"; the limit resets in {wait:.0f} s" if wait is not None else ""
        return ConnectorError(
            f"{NETWORK} rate limit reached (HTTP 429) while {what}{when}", retryable=True, retry_after=wait
        )
    if status >= 500:
        return ConnectorError(
            f"{NETWORK} is failing (HTTP {status}) while {what}: {problem.sentence()}", retryable=True
        )
    if status == 401:
        return ConnectorError(
            f"{head}: the channel's {token} is invalid, expired or revoked; reconnect the X account "
            "and save new credentials on the channel",
            retryable=False,
        )
    if status == 403 and "authentication" in (problem.title + problem.type).lower():
        return ConnectorError(
            f"{head}: {problem.sentence()} (the channel's {token} is of the wrong kind for this call)",
            retryable=False,
        )
    return ConnectorError(f"{head}: {problem.sentence()}", retryable=False)


class XApi:
    """A thin client: base URL from the channel, the right token per call, errors mapped."""

    def __init__(self, http: httpx.Client, base_url: str, tokens: Mapping[str, str]) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens

    def request(
        self,
        method: str,
        path: str,
        *,
        auth: Auth,
        what: str,
        params: Mapping[str, str] | None = None,
        json_body: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """Send one request; return the response whatever its status. Network trouble becomes a
        retryable ConnectorError (the caller decides what a non-2xx answer means)."""
        secret = self.tokens.get(CREDENTIAL[auth])
        if not secret:
            raise ConnectorError(
                f"this X channel has no {CREDENTIAL[auth]} ({CREDENTIAL_NAME[auth]}) configured",
                retryable=False,
            )
        headers = {"Authorization": f"Bearer {secret}", "Accept": "application/json"}
        try:
            return self.http.request(
                method, self.base_url + path, params=params, json=json_body, headers=headers
            )
        except httpx.TimeoutException:
            raise ConnectorError(f"{NETWORK} timed out while {what}", retryable=True) from None
        except httpx.TransportError as exc:
            raise ConnectorError(
                f"{NETWORK} unreachable while {what}: {type(exc).__name__}", retryable=True
            ) from None

    def get_json(
        self, path: str, *, auth: Auth, what: str, params: Mapping[str, str], now: datetime
    ) -> tuple[dict[str, Any], RateLimit]:
        response = self.request("GET", path, auth=auth, what=what, params=params)
        if response.status_code != 200:
            raise error_for(response, what=what, auth=auth, now=now)
        return json_object(response, what), RateLimit.of(response)


def json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ConnectorError(
            f"{NETWORK} answered {what} with something that is not a JSON object", retryable=True
        )
    return body
