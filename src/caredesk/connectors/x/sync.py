"""Incremental reading of mentions and DMs: the cursor and the two sweeps.

Mentions: `GET /2/users/:id/mentions` comes newest first and takes `since_id`. One "sweep" pages from the
newest down to the stored `since_id`; when it ends, `meta.newest_id` of its first page becomes the next
`since_id`. A sweep cut short by the page budget is resumed with `until_id` = the oldest id already read
(stable across restarts, unlike a pagination token).

DMs: `GET /2/dm_events` has no `since_id`. A sweep pages by `next_token` from the newest event down to the
last event id seen (ids are snowflakes, so "seen" is numeric <=); then the sweep's newest id becomes the
mark. A sweep cut short keeps its `next_token`; if X no longer accepts it, the sweep starts again from the
top (the spool drops what it already has).

First sync: no history flood. With no mark yet, both go back FIRST_SYNC_HOURS only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from caredesk.connectors.x import parse
from caredesk.connectors.x.api import RateLimit, XApi
from caredesk.domain.errors import ConnectorError, InvalidInput
from caredesk.domain.types import InboundEvent

log = logging.getLogger(__name__)

FIRST_SYNC_HOURS = 24
CURSOR_VERSION = 1


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass
class Sweep:
    events: list[InboundEvent] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    more: bool = False  # stopped early with more waiting


def _spent(limit: RateLimit) -> bool:
    return limit.remaining is not None and limit.remaining <= 0


def mentions(
    api: XApi, user_id: str, state: dict[str, Any], *, now: datetime, max_pages: int, page_size: int
) -> Sweep:
    since_id = state.get("since_id") if parse.is_id(state.get("since_id")) else None
    sweep = state.get("sweep") if isinstance(state.get("sweep"), dict) else None
    base: dict[str, str] = {
        "max_results": str(page_size),
        "tweet.fields": parse.TWEET_FIELDS,
        "expansions": parse.TWEET_EXPANSIONS,
        "user.fields": parse.USER_FIELDS,
    }
    if since_id:
        base["since_id"] = since_id
    newest: str | None = None
    if sweep:
        newest = sweep.get("newest")
        if parse.is_id(sweep.get("until_id")):
            base["until_id"] = str(sweep["until_id"])
        if sweep.get("start_time"):
            base["start_time"] = str(sweep["start_time"])
    elif not since_id:
        base["start_time"] = iso(now - timedelta(hours=FIRST_SYNC_HOURS))
    out = Sweep()
    token: str | None = None
    oldest: str | None = None
    limit = RateLimit(None, None, None)
    for _page in range(max_pages):
        params = dict(base, pagination_token=token) if token else base
        body, limit = api.get_json(
            f"/2/users/{user_id}/mentions",
            auth="app",
            what="reading mentions",
            params=params,
            now=now,
        )
        users = parse.users_by_id(body.get("includes"))
        for post in body.get("data") or []:
            if isinstance(post, dict) and not parse.is_repost(post):
                try:
                    out.events.append(parse.post_event(post, users, user_id))
                except InvalidInput as exc:  # one unreadable post must not block the channel
                    log.warning("skipping an unreadable X post %s: %s", str(post.get("id"))[:20], exc.message)
        meta = body.get("meta") if isinstance(body.get("meta"), dict) else {}
        assert isinstance(meta, dict)
        if newest is None and parse.is_id(meta.get("newest_id")):
            newest = str(meta["newest_id"])
        if parse.is_id(meta.get("oldest_id")):
            oldest = str(meta["oldest_id"])
        token = meta.get("next_token") if isinstance(meta.get("next_token"), str) else None
        if not token:
            break
        if _spent(limit):
            break
    if token:  # cut short: resume below the oldest read, same lower bound
        out.more = not _spent(limit)
        resume: dict[str, Any] = {"newest": newest, "until_id": oldest or base.get("until_id")}
        if "start_time" in base:
            resume["start_time"] = base["start_time"]
        out.state = {"since_id": since_id, "sweep": resume}
    else:
        out.state = {"since_id": newest or since_id, "sweep": None}
    return out


def dms(
    api: XApi, user_id: str, state: dict[str, Any], *, now: datetime, max_pages: int, page_size: int
) -> Sweep:
    last_id = state.get("last_id") if parse.is_id(state.get("last_id")) else None
    sweep = state.get("sweep") if isinstance(state.get("sweep"), dict) else None
    token: str | None = str(sweep["token"]) if sweep and sweep.get("token") else None
    newest: str | None = str(sweep["newest"]) if sweep and parse.is_id(sweep.get("newest")) else None
    floor = None if last_id else now - timedelta(hours=FIRST_SYNC_HOURS)
    base = {
        "max_results": str(page_size),
        "event_types": "MessageCreate",
        "dm_event.fields": parse.DM_FIELDS,
        "expansions": parse.DM_EXPANSIONS,
        "user.fields": "username,name",
    }
    out = Sweep()
    reached = False
    limit = RateLimit(None, None, None)
    pages = 0
    while pages < max_pages:
        params = dict(base, pagination_token=token) if token else base
        try:
            body, limit = api.get_json(
                "/2/dm_events", auth="user", what="reading direct messages", params=params, now=now
            )
        except ConnectorError as exc:
            if token and sweep and not exc.retryable:  # a stored token X no longer takes: start over
                token, newest, sweep = None, None, None
                continue
            raise
        pages += 1
        sweep = None
        users = parse.users_by_id(body.get("includes"))
        data = [e for e in body.get("data") or [] if isinstance(e, dict)]
        for item in data:
            event_id = str(item.get("id") or "")
            if last_id and parse.is_id(event_id) and parse.id_key(event_id) <= parse.id_key(last_id):
                reached = True
                break
            if item.get("event_type", "MessageCreate") != "MessageCreate":
                continue
            try:
                event = parse.dm_event(item, users, user_id)
            except InvalidInput as exc:
                log.warning("skipping an unreadable X DM event %s: %s", event_id[:20], exc.message)
                continue
            if floor is not None and event.created_at < floor:
                reached = True
                break
            if newest is None or parse.id_key(event.external_id) > parse.id_key(newest):
                newest = event.external_id
            out.events.append(event)
        meta = body.get("meta") if isinstance(body.get("meta"), dict) else {}
        assert isinstance(meta, dict)
        token = meta.get("next_token") if isinstance(meta.get("next_token"), str) else None
        if reached or not token or _spent(limit):
            break
    if token and not reached:
        out.more = not _spent(limit)
        out.state = {"last_id": last_id, "sweep": {"newest": newest, "token": token}}
    else:
        out.state = {"last_id": newest or last_id, "sweep": None}
    return out
