"""Listening on X: the filtered stream, driven by the workspace's watch rules.

`watch()` first makes the app's stream rules match the watch rules: each watch rule becomes one X rule
(`domain.watch.to_x_rule`), tagged `caredesk:<brand user id>:<sha256 of the value, 16 hex>`, so the rules
of other channels and of other software sharing the X app are never touched. Missing rules are added,
caredesk rules of this channel no longer wanted are deleted (`POST /2/tweets/search/stream/rules`).

Then the stream (`GET /2/tweets/search/stream`) is read for a bounded time (`stream_seconds`) or a bounded
number of posts, and closed. X keeps no position on the stream and, below Enterprise, has no backfill:
what X matched while no one was connected is never delivered. The cursor only remembers the ids of the
newest posts seen, to drop a post X sends again after a reconnect.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from caredesk.connectors.x import parse
from caredesk.connectors.x.api import NETWORK, XApi, error_for, json_object
from caredesk.domain.errors import CaredeskError, ConnectorError, InvalidInput
from caredesk.domain.types import InboundEvent
from caredesk.domain.watch import WatchSpec, to_x_rule

log = logging.getLogger(__name__)

RULES_PATH = "/2/tweets/search/stream/rules"
STREAM_PATH = "/2/tweets/search/stream"
CURSOR_VERSION = 1
SEEN_MAX = 500  # ids of the newest posts kept in the cursor
STREAM_TWEET_FIELDS = parse.TWEET_FIELDS + ",entities"
STREAM_RETRY_AFTER = 60.0  # X: back off from 60 s after a 420/429 on the stream


def tag_prefix(user_id: str) -> str:
    return f"caredesk:{user_id}:"


def rule_tag(user_id: str, value: str) -> str:
    return tag_prefix(user_id) + hashlib.sha256(value.encode()).hexdigest()[:16]


@dataclass
class Heard:
    events: list[InboundEvent] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)
    more: bool = False


def wanted_rules(rules: Sequence[WatchSpec]) -> list[str]:
    """The X rule of every watch rule, each once, in a stable order."""
    values: list[str] = []
    for spec in rules:
        value = to_x_rule(spec)  # InvalidInput (too long for X) names the problem
        if value not in values:
            values.append(value)
    return values


def sync_rules(api: XApi, user_id: str, values: Sequence[str], *, now: datetime) -> set[str]:
    """Make this channel's caredesk rules on the app exactly `values`; return the ids of the rules whose
    matches are ours (ours, plus an identical rule of someone else's X refused to duplicate)."""
    prefix = tag_prefix(user_id)
    current: list[dict[str, Any]] = []
    token: str | None = None
    for _page in range(10):
        params = {"max_results": "1000", **({"pagination_token": token} if token else {})}
        body, _ = api.get_json(
            RULES_PATH, auth="app", what="reading the stream rules", params=params, now=now
        )
        current += [r for r in body.get("data") or [] if isinstance(r, dict)]
        meta = body.get("meta") if isinstance(body.get("meta"), dict) else {}
        assert isinstance(meta, dict)
        token = meta.get("next_token") if isinstance(meta.get("next_token"), str) else None
        if not token:
            break
    wanted = {rule_tag(user_id, v): v for v in values}
    ours: set[str] = set()
    stale: list[str] = []
    for rule in current:
        tag, rule_id = str(rule.get("tag") or ""), str(rule.get("id") or "")
        if not tag.startswith(prefix):
            continue
        if wanted.get(tag) == rule.get("value"):
            ours.add(rule_id)
            del wanted[tag]
        else:
            stale.append(rule_id)
    if stale:
        _update(api, {"delete": {"ids": stale}}, what="deleting old stream rules", now=now)
    if wanted:
        add = [{"value": value, "tag": tag} for tag, value in wanted.items()]
        ours |= _update(api, {"add": add}, what="adding stream rules", now=now)
    return ours


def _update(api: XApi, body: dict[str, Any], *, what: str, now: datetime) -> set[str]:
    response = api.request("POST", RULES_PATH, auth="app", what=what, json_body=body)
    if response.status_code >= 500 or response.status_code in (401, 403, 429):
        raise error_for(response, what=what, auth="app", now=now)
    answer: dict[str, Any] = {}
    try:
        answer = json_object(response, what)
    except ConnectorError:
        if response.status_code == 200:
            raise
    ids = {str(r["id"]) for r in answer.get("data") or [] if isinstance(r, dict) and r.get("id")}
    refused: list[str] = []
    for err in answer.get("errors") or []:
        if not isinstance(err, dict):
            continue
        if "duplicate" in str(err.get("title") or err.get("type") or "").lower() and err.get("id"):
            ids.add(str(err["id"]))  # the same rule exists already (another tag): its matches count
            continue
        details = "; ".join(str(d) for d in err.get("details") or []) or str(
            err.get("detail") or err.get("title") or ""
        )
        refused.append(f"{str(err.get('value') or '')[:120]!r}: {details}")
    if refused or response.status_code != 200:
        if not refused:
            raise error_for(response, what=what, auth="app", now=now)
        raise ConnectorError(
            f"{NETWORK} refused a stream rule made from a watch rule ({'; '.join(refused[:3])}): "
            "edit or disable that watch rule",
            retryable=False,
        )
    return ids


def read_stream(
    api: XApi,
    user_id: str,
    ours: set[str],
    seen: Iterable[str],
    *,
    seconds: float,
    max_posts: int,
    now: datetime,
) -> Heard:
    """Read the stream for about `seconds` (or until `max_posts` posts came), then close it."""
    secret = api.tokens.get("bearer_token")
    if not secret:
        raise ConnectorError(
            "this X channel has no bearer_token (app-only bearer token) configured", retryable=False
        )
    what = "connecting to the filtered stream"
    params = {
        "tweet.fields": STREAM_TWEET_FIELDS,
        "expansions": parse.TWEET_EXPANSIONS,
        "user.fields": parse.USER_FIELDS,
    }
    connect = api.http.timeout.connect
    timeout = httpx.Timeout(connect=connect, read=seconds + 1.0, write=connect, pool=connect)
    out = Heard(seen=list(seen))
    known = set(out.seen)
    posts = 0
    deadline = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {secret}", "Accept": "application/json"}
    try:
        with api.http.stream(
            "GET", api.base_url + STREAM_PATH, params=params, headers=headers, timeout=timeout
        ) as response:
            if response.status_code != 200:
                response.read()
                raise _stream_error(response, what, now)
            try:
                for line in response.iter_lines():
                    if line.strip():
                        posts += 1
                        _take(line, user_id, ours, known, out)
                    if posts >= max_posts:
                        out.more = True
                        break
                    if time.monotonic() >= deadline:
                        break
            except (httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError):
                pass  # the stream went quiet or X closed it: keep what came
    except httpx.TimeoutException:
        raise ConnectorError(f"{NETWORK} timed out while {what}", retryable=True) from None
    except httpx.TransportError as exc:
        raise ConnectorError(
            f"{NETWORK} unreachable while {what}: {type(exc).__name__}", retryable=True
        ) from None
    out.seen = sorted(known, key=parse.id_key)[-SEEN_MAX:]
    return out


def _stream_error(response: httpx.Response, what: str, now: datetime) -> ConnectorError:
    error = error_for(response, what=what, auth="app", now=now)
    if response.status_code in (420, 429):
        wait = error.retry_after if error.retry_after is not None else STREAM_RETRY_AFTER
        return ConnectorError(
            f"{NETWORK} refused the filtered stream connection (HTTP {response.status_code}): too many "
            f"connections (X allows 50 per 15 minutes and one at a time per app); retrying in {wait:.0f} s",
            retryable=True,
            retry_after=wait,
        )
    return error


def _take(line: str, user_id: str, ours: set[str], known: set[str], out: Heard) -> None:
    try:
        item: Any = json.loads(line)
    except json.JSONDecodeError:
        log.warning("skipping a stream line that is not JSON")
        return
    if not isinstance(item, dict):
        return
    post = item.get("data")
    if not isinstance(post, dict):
        if item.get("errors"):  # e.g. an operational disconnect: the stream ends here
            log.info("X stream message: %s", str(item.get("errors"))[:200])
        return
    post_id = str(post.get("id") or "")
    rules = [r for r in item.get("matching_rules") or [] if isinstance(r, dict)]
    if ours and not any(str(r.get("id")) in ours for r in rules):
        return  # matched another channel's rule on the same app
    if post_id in known or parse.is_repost(post) or str(post.get("author_id")) == user_id:
        return
    if _addresses(post, user_id):
        known.add(post_id)
        return  # a mention or reply to the brand: read as a direct message by fetch()
    try:
        event = parse.post_event(post, parse.users_by_id(item.get("includes")), user_id)
    except (InvalidInput, CaredeskError) as exc:
        log.warning("skipping an unreadable streamed X post %s: %s", post_id[:20], exc.message)
        return
    event.listening = True
    known.add(post_id)
    out.events.append(event)


def _addresses(post: dict[str, Any], user_id: str) -> bool:
    if str(post.get("in_reply_to_user_id") or "") == user_id:
        return True
    entities = post.get("entities")
    mentions = entities.get("mentions") if isinstance(entities, dict) else None
    return any(isinstance(m, dict) and str(m.get("id") or "") == user_id for m in mentions or [])
