"""Meta Graph API plumbing shared by the `facebook` and `instagram` connectors.

- Channel settings (`GraphSettings`): base URL and version from the channel config, the Page access token.
- `GraphClient`: one request helper over the injected httpx client. The token goes in the
  `Authorization: Bearer` header, never in a URL, so no error or log line can carry it.
- Webhooks: the `hub.challenge` handshake and the `X-Hub-Signature-256` check over the raw body.
- `graph_error`: Graph error answers (`{"error":{"message","type","code","error_subcode","fbtrace_id"}}`)
  turned into ConnectorErrors an agent understands, retryable or not.
- `prepare_reply`: the messaging windows (24 h, HUMAN_AGENT up to 7 days, one private reply per comment
  within 7 days), enforced before a reply is queued.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import httpx

from caredesk.connectors.base import ChallengeAnswer, ChannelContext
from caredesk.domain.clock import as_utc
from caredesk.domain.errors import (
    ConnectorError,
    Forbidden,
    InvalidInput,
    NotConfigured,
    SignatureError,
    TooLarge,
)
from caredesk.domain.types import OutboundReply, ReplyContext

DEFAULT_GRAPH_URL: Final = "https://graph.facebook.com"
DEFAULT_API_VERSION: Final = "v25.0"
SIGNATURE_HEADER: Final = "X-Hub-Signature-256"
MAX_BODY: Final = 2_000_000  # Meta batches at most 1,000 events per POST; far below this

STANDARD_WINDOW: Final = timedelta(hours=24)
HUMAN_AGENT_WINDOW: Final = timedelta(days=7)
PRIVATE_REPLY_WINDOW: Final = timedelta(days=7)
HUMAN_AGENT_TAG: Final = "HUMAN_AGENT"
PRIVATE_REPLY_OPTION: Final = "private_reply_to"  # OutboundReply.options key: the comment answered privately

# Graph error codes (messenger-platform/error-codes, graph-api/overview/rate-limiting).
WINDOW_CODE: Final = 10
WINDOW_SUBCODE: Final = 2018278
UNAVAILABLE_CODE: Final = 551
NO_MATCHING_USER_SUBCODE: Final = 2018001
ALREADY_REPLIED_CODE: Final = 10900  # "Activity already replied to" (a second private reply)
CANNOT_REPLY_CODE: Final = 10903  # "This activity can't be replied to" (private reply too late)
IG_ALREADY_REPLIED_SUBCODE: Final = 2534014
TOKEN_CODE: Final = 190
# 4 app, 17 user, 32 Page, 613 per-API limits; 80001-80014 the Business Use Case limits (Pages, Instagram,
# Messenger...) that Page tokens are subject to.
RATE_LIMIT_CODES: Final = frozenset({4, 17, 32, 613, *range(80001, 80015)})
TRANSIENT_CODES: Final = frozenset({1, 2})  # "unknown error" / "service temporarily unavailable"
PERMISSION_CODES: Final = frozenset({3, 10, 200, 230, 299})


# --- settings ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GraphSettings:
    base_url: str  # graph_url + "/" + api_version, no trailing slash
    page_id: str
    token: str

    @classmethod
    def of(cls, channel: ChannelContext, network: str, *, page_id_fallback: str | None) -> GraphSettings:
        config = channel.config
        graph_url = str(config.get("graph_url") or DEFAULT_GRAPH_URL).rstrip("/")
        version = str(config.get("api_version") or DEFAULT_API_VERSION).strip("/")
        page_id = str(config.get("page_id") or page_id_fallback or "").strip()
        if not page_id:
            raise NotConfigured(f"this {network} channel has no page_id configured")
        token = channel.credentials.get("page_access_token")
        if not isinstance(token, str) or not token:
            raise NotConfigured(f"this {network} channel has no page_access_token credential")
        return cls(base_url=f"{graph_url}/{version}", page_id=page_id, token=token)


def app_secret(channel: ChannelContext, network: str) -> str:
    secret = channel.credentials.get("app_secret")
    if not isinstance(secret, str) or not secret:
        raise NotConfigured(
            f"this {network} channel has no app_secret credential to check webhook signatures"
        )
    return secret


# --- webhooks ------------------------------------------------------------------------------------------


def sign(secret: str, body: bytes) -> str:
    """The X-Hub-Signature-256 value Meta sends: `sha256=<lowercase hex HMAC-SHA256(app secret, body)>`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, header: str | None, body: bytes) -> None:
    """Constant-time check of X-Hub-Signature-256 over the raw bytes (never re-serialised JSON)."""
    if not header:
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    scheme, _, given = header.strip().partition("=")
    if scheme.lower() != "sha256" or not given:
        raise SignatureError(f"{SIGNATURE_HEADER} is not of the form sha256=<hex>")
    if not hmac.compare_digest(sign(secret, body).encode(), f"sha256={given.lower()}".encode()):
        raise SignatureError("signature does not match the body (wrong app_secret, or a forged request)")


def answer_challenge(params: Mapping[str, str], verify_token: object) -> ChallengeAnswer:
    """The subscription handshake: `GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`.
    Answers the raw challenge as text/plain; refuses (403) a wrong mode or token."""
    if not isinstance(verify_token, str) or not verify_token:
        raise NotConfigured(
            "this channel has no verify_token configured; set one and enter the same value as the "
            "Verify Token in the Meta app's webhook settings"
        )
    if params.get("hub.mode") != "subscribe":
        raise Forbidden("not a webhook subscription check (hub.mode must be 'subscribe')")
    given = params.get("hub.verify_token") or ""
    if not hmac.compare_digest(given.encode(), verify_token.encode()):
        raise Forbidden("hub.verify_token does not match this channel's verify_token")
    challenge = params.get("hub.challenge") or ""
    if not challenge or len(challenge) > 256:
        raise InvalidInput("hub.challenge is missing or too long")
    return ChallengeAnswer(body=challenge, media_type="text/plain")


def load_body(body: bytes, expected_object: str, channel_name: str) -> list[dict[str, Any]]:
    """The `entry` list of a webhook body whose `object` is the one this channel serves."""
    if len(body) > MAX_BODY:
        raise TooLarge(f"body larger than {MAX_BODY} bytes")
    try:
        data: Any = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidInput("body is not valid UTF-8") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"body is not valid JSON: {exc.msg} at position {exc.pos}") from None
    if not isinstance(data, dict):
        raise InvalidInput("webhook body is not a JSON object")
    obj = data.get("object")
    if obj != expected_object:
        raise InvalidInput(
            f"webhook object {obj!r} is not handled by {channel_name} channels (expected {expected_object!r})"
        )
    entries = data.get("entry")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise InvalidInput("webhook body has no list of entry objects")
    return entries


# --- values --------------------------------------------------------------------------------------------


def from_epoch(value: object) -> datetime:
    """Meta webhook times: unix seconds (feed, comments) or milliseconds (messaging)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidInput(f"not a timestamp: {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise InvalidInput(f"not a timestamp: {value!r}") from None
    if number > 1e11:  # milliseconds: 1e11 s is the year 5138
        number /= 1000.0
    return datetime.fromtimestamp(number, tz=UTC)


def from_graph_time(value: object) -> datetime:
    """Graph read times: `2026-11-20T09:00:00+0000`."""
    if not isinstance(value, str):
        raise InvalidInput(f"not a Graph time: {value!r}")
    try:
        return as_utc(datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z"))
    except ValueError:
        try:
            return as_utc(datetime.fromisoformat(value))
        except ValueError:
            raise InvalidInput(f"not a Graph time: {value!r}") from None


def to_graph_time(value: datetime) -> str:
    return as_utc(value).strftime("%Y-%m-%dT%H:%M:%S+0000")


def str_id(value: object, what: str) -> str:
    """A Graph id: Meta sends strings; numbers are accepted, anything else is a malformed payload."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise InvalidInput(f"{what} is missing or not an id")


def optional_id(value: object) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def next_after(edge: object) -> str | None:
    """The `after` cursor when the edge has a `next` page (its absence, not a short page, is the end)."""
    if not isinstance(edge, dict):
        return None
    paging = edge.get("paging")
    if not isinstance(paging, dict) or not paging.get("next"):
        return None
    cursors = paging.get("cursors")
    after = cursors.get("after") if isinstance(cursors, dict) else None
    return after if isinstance(after, str) and after else None


# --- errors --------------------------------------------------------------------------------------------


def regain_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds until access returns, from X-Business-Use-Case-Usage's `estimated_time_to_regain_access`
    (minutes, per business object and limit type; the largest wins). None when absent or zero."""
    raw = headers.get("x-business-use-case-usage")
    if not raw:
        return None
    try:
        usage: Any = json.loads(raw)
    except json.JSONDecodeError:
        return None
    minutes: list[float] = []
    if isinstance(usage, dict):
        for entries in usage.values():
            for item in entries if isinstance(entries, list) else [entries]:
                value = item.get("estimated_time_to_regain_access") if isinstance(item, dict) else None
                if isinstance(value, int | float) and not isinstance(value, bool):
                    minutes.append(float(value))
    longest = max(minutes, default=0.0)
    return longest * 60.0 if longest > 0 else None


def _retry_after_header(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def graph_error(network: str, window_name: str, response: httpx.Response) -> ConnectorError:
    """Classify a Graph error answer. `window_name` is "Messenger" or "Instagram" (for window messages)."""
    status = response.status_code
    error: dict[str, Any] = {}
    try:
        body: Any = response.json()
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            error = body["error"]
    except ValueError:
        pass
    code = error.get("code")
    subcode = error.get("error_subcode")
    message = str(error.get("message") or response.text[:200] or f"HTTP {status}").strip()[:300]
    trace = error.get("fbtrace_id")
    ref = f" (code {code}" + (f", subcode {subcode}" if subcode else "")
    ref += f", fbtrace_id {trace})" if trace else ")"
    if code == WINDOW_CODE and subcode == WINDOW_SUBCODE:
        return ConnectorError(
            f"outside {window_name}'s 24-hour window: use a HUMAN_AGENT reply (within 7 days) or ask the "
            "customer to write again",
            retryable=False,
        )
    if code == ALREADY_REPLIED_CODE or subcode == IG_ALREADY_REPLIED_SUBCODE:
        return ConnectorError(
            "this comment already had its one private reply: answer publicly, or wait for the customer to "
            f"write in {window_name}",
            retryable=False,
        )
    if code == CANNOT_REPLY_CODE:
        return ConnectorError(
            "this comment can no longer be answered privately (private replies are allowed within 7 days "
            "of the comment, and not if it was deleted): answer publicly instead",
            retryable=False,
        )
    if code == UNAVAILABLE_CODE:
        return ConnectorError(
            f"this person isn't available on {window_name} right now (they may have blocked the account or "
            f"deleted theirs){ref}",
            retryable=False,
        )
    if subcode == NO_MATCHING_USER_SUBCODE:
        return ConnectorError(
            f"{window_name} knows no such recipient for this account: the customer cannot be messaged{ref}",
            retryable=False,
        )
    if code in RATE_LIMIT_CODES or status == 429:
        wait = regain_seconds(response.headers) or _retry_after_header(response.headers)
        return ConnectorError(
            f"{network} rate limit reached: {message}{ref}", retryable=True, retry_after=wait
        )
    if code == TOKEN_CODE:
        return ConnectorError(
            f"the Page access token was refused: {message}{ref}; generate a new Page token and update the "
            "channel's credentials",
            retryable=False,
        )
    if status >= 500 or code in TRANSIENT_CODES or error.get("is_transient") is True:
        return ConnectorError(f"{network} is failing (HTTP {status}): {message}{ref}", retryable=True)
    if code in PERMISSION_CODES:
        return ConnectorError(
            f"{network} refused: {message}{ref}; check the app's permissions and the Page's tasks",
            retryable=False,
        )
    return ConnectorError(f"{network} refused the request (HTTP {status}): {message}{ref}", retryable=False)


# --- client --------------------------------------------------------------------------------------------


class GraphClient:
    def __init__(self, http: httpx.Client, settings: GraphSettings, network: str, window_name: str) -> None:
        self.http = http
        self.settings = settings
        self.network = network
        self.window_name = window_name

    def get(self, path: str, params: Mapping[str, str | int] | None = None) -> dict[str, Any]:
        return self._request("GET", path, params=params)

    def post_form(self, path: str, data: Mapping[str, str]) -> dict[str, Any]:
        return self._request("POST", path, data=data)

    def post_json(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._request("POST", path, json_body=body)

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        data: Mapping[str, str] | None = None,
        json_body: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        url = f"{self.settings.base_url}/{path.lstrip('/')}"
        headers = {"Authorization": f"Bearer {self.settings.token}"}
        try:
            response = self.http.request(
                method, url, params=dict(params or {}), data=data, json=json_body, headers=headers
            )
        except httpx.TimeoutException:
            raise ConnectorError(f"{self.network} Graph API timed out", retryable=True) from None
        except httpx.TransportError as exc:
            raise ConnectorError(
                f"{self.network} Graph API unreachable: {type(exc).__name__}", retryable=True
            ) from None
        if response.status_code >= 300:
            raise graph_error(self.network, self.window_name, response)
        try:
            payload: Any = response.json()
        except ValueError:
            raise ConnectorError(
                f"{self.network} Graph API answered HTTP {response.status_code} without JSON", retryable=True
            ) from None
        if not isinstance(payload, dict):
            raise ConnectorError(f"{self.network} Graph API answered an unexpected shape", retryable=False)
        if isinstance(payload.get("error"), dict):  # some batch-style answers carry 200 with an error
            raise graph_error(self.network, self.window_name, response)
        return payload


# --- windows -------------------------------------------------------------------------------------------


def prepare_reply(reply: OutboundReply, context: ReplyContext, *, window_name: str) -> OutboundReply:
    """Refuse, before queueing, what Meta would refuse; set the options `send()` needs.

    - public: needs the comment (or post) it answers;
    - private about a public comment ("private reply"): once per comment, within 7 days of the comment;
    - private in a DM thread: within 24 h of the customer's last message; up to 7 days only as a human
      agent's reply (HUMAN_AGENT tag); never later.
    """
    now = as_utc(context.now)
    if reply.public:
        if not reply.in_reply_to:
            raise InvalidInput(
                "a public reply answers a customer's comment or post, and this conversation has none: "
                "reply privately instead"
            )
        return reply
    if context.target_public and reply.in_reply_to:
        if context.private_replies_to_target > 0:
            raise InvalidInput(
                "this comment already had its one private reply: answer publicly, or wait for the customer "
                f"to write in {window_name}"
            )
        created = context.target_created_at
        if created is not None and now - as_utc(created) > PRIVATE_REPLY_WINDOW:
            raise InvalidInput(
                "this comment is more than 7 days old, too old for a private reply: answer it publicly, "
                f"or ask the customer to write in {window_name}"
            )
        return replace(reply, options={**reply.options, PRIVATE_REPLY_OPTION: reply.in_reply_to})
    if not (reply.thread or reply.recipient):
        raise InvalidInput(
            f"no {window_name} conversation to reply in: this customer has not written privately"
        )
    last = context.last_inbound_at
    if last is None:
        raise InvalidInput(
            f"{window_name} lets the account message a person only after they wrote to it, and this customer "
            "has not: reply publicly, or privately to one of their comments"
        )
    age = now - as_utc(last)
    if age <= STANDARD_WINDOW:
        return reply
    if age <= HUMAN_AGENT_WINDOW:
        if context.human_agent:
            return replace(reply, options={**reply.options, "tag": HUMAN_AGENT_TAG})
        raise InvalidInput(
            f"outside {window_name}'s 24-hour window: use a HUMAN_AGENT reply (within 7 days) or ask the "
            "customer to write again"
        )
    raise InvalidInput(
        f"more than 7 days since the customer's last message: {window_name} allows no reply now, not even a "
        "HUMAN_AGENT one; ask the customer to write again (e.g. publicly, or by email)"
    )
