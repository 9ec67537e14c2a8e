"""Mastodon: mentions and private mentions (DMs) in, public replies and DMs out, on one instance.

In (`fetch`, polled): `GET /api/v1/notifications?types[]=mention&include_filtered=true` since the last
notification id, walked back through the Link header's `rel="next"` (`max_id`) and handed over oldest
first. `include_filtered=true` (Mastodon 4.3+) brings the mentions the account's notification policy filters
into "notification requests" (by default, DMs from people the brand does not follow), so none is lost.
Then the brand's own replies and DMs, from `GET /api/v1/accounts/:id/statuses`: Mastodon never notifies an
account of its own statuses, so this is where replies written outside caredesk (or ours, coming back) show
up; they are marked as the brand's (direction "out").
Out (`send`): `POST /api/v1/statuses` with `in_reply_to_id`, `visibility` and the `Idempotency-Key` header
(the reply's key; Mastodon answers a repeat within an hour with the first status, so an in-doubt send is
simply retried). Every reply starts with the customer's @acct unless it already mentions them: Mastodon
notifies only mentioned accounts, and delivers a direct status only to them.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any
from urllib.parse import quote

import httpx

from caredesk.connectors import length, registry
from caredesk.connectors.base import Connector, ConnectorSpec, FetchResult
from caredesk.connectors.mastodon.api import MastodonApi, Params, id_key, link_param, newest
from caredesk.connectors.mastodon.events import mention_event, own_status_event, thread_people
from caredesk.connectors.mastodon.listen import hashtag_of, listen_event, queries_of
from caredesk.connectors.mastodon.stream import Streamer
from caredesk.domain.errors import ConnectorError, InvalidInput, NotConfigured
from caredesk.domain.types import (
    Capability,
    InboundEvent,
    LengthRule,
    OutboundReply,
    ReplyContext,
    SendResult,
)
from caredesk.domain.watch import WatchSpec

log = logging.getLogger(__name__)

NOTIFICATIONS = "/api/v1/notifications"
STATUSES = "/api/v1/statuses"
SEARCH = "/api/v2/search"
# Visibilities a public reply keeps from the customer's status (never wider than what they chose).
_KEPT_VISIBILITY = frozenset({"unlisted", "private"})
# Policy fields whose "drop" makes Mastodon discard mentions from customers before anyone can read them.
_DROPPING_POLICIES = ("for_not_following", "for_not_followers", "for_new_accounts", "for_private_mentions")


@registry.register
class MastodonConnector(Connector):
    spec = ConnectorSpec(
        key="mastodon",
        display_name="Mastodon",
        network="mastodon",
        capabilities=frozenset(
            {
                Capability.POLL,
                Capability.STREAM,
                Capability.LISTEN,
                Capability.PUBLIC_REPLY,
                Capability.PRIVATE_REPLY,
            }
        ),
        length_rule=LengthRule(public="mastodon", private="mastodon"),
        config_fields=("base_url", "account_id", "acct", "max_characters"),
        credential_fields=("access_token",),
        idempotent_send=True,
        # Account ids are only unique within one instance: id 1234 on two instances is two people.
        identities_per_channel=True,
        poll_seconds=60,
        docs="docs/connectors.md",
    )

    page_limit = 80  # the most Mastodon returns per page (since 4.1)
    own_page_limit = 40  # the most GET /api/v1/accounts/:id/statuses returns
    max_pages = 10  # per feed and fetch; a longer backlog is read forward over several fetches
    listen_page_limit = 40  # the most the hashtag timeline and statuses search return per page
    search_max_pages = 5  # per search query and watch (search has no forward paging: see _search)

    # --- configuration -----------------------------------------------------------------------------

    @property
    def account_id(self) -> str:
        value = self.channel.config.get("account_id") or self.channel.own_account_id
        value = str(value).strip() if value is not None else ""
        if not value:
            raise NotConfigured("this Mastodon channel has no account_id (the brand account's id) configured")
        return value

    def _api(self) -> MastodonApi:
        return MastodonApi.from_config(self.http, self.clock, self.channel.config, self.channel.credentials)

    def _max_characters(self) -> int | None:
        value = self.channel.config.get("max_characters")
        try:
            return int(value) if value not in (None, "") else None
        except (TypeError, ValueError):
            return None

    # --- verify ------------------------------------------------------------------------------------

    def verify(self) -> None:
        api = self._api()
        doing = "checking the access token"
        me = api.json(api.call("GET", "/api/v1/accounts/verify_credentials", doing=doing), doing=doing)
        if not isinstance(me, Mapping) or "id" not in me:
            raise ConnectorError("Mastodon answered verify_credentials without an account", retryable=True)
        if str(me["id"]) != self.account_id:
            raise ConnectorError(
                f"the access token belongs to @{me.get('acct')} (account id {me['id']}), not to the "
                f"configured account_id {self.account_id}: use a token of the brand account or correct "
                "account_id",
                retryable=False,
            )
        acct = str(self.channel.config.get("acct") or "").lstrip("@")
        if acct and acct.split("@", 1)[0].lower() != str(me.get("username") or "").lower():
            raise ConnectorError(
                f"the configured acct @{acct} is not the token's account @{me.get('acct')}", retryable=False
            )
        self._check_policy(api)

    def _check_policy(self, api: MastodonApi) -> None:
        doing = "reading the notification policy"
        response = api.call("GET", "/api/v2/notifications/policy", doing=doing, accept=(404,))
        if response.status_code == 404:
            return  # before Mastodon 4.3 nothing is filtered
        policy = api.json(response, doing=doing)
        if not isinstance(policy, Mapping):
            return
        dropping = [k for k in _DROPPING_POLICIES if policy.get(k) == "drop"]
        if dropping:
            raise ConnectorError(
                "the brand account's notification policy drops some mentions before caredesk can read them ("
                + ", ".join(f"{k}=drop" for k in dropping)
                + "): in Mastodon's notification settings, set them to filter or accept "
                "(caredesk reads filtered ones)",
                retryable=False,
            )

    # --- fetch -------------------------------------------------------------------------------------

    def fetch(self, cursor: dict[str, Any]) -> FetchResult:
        api = self._api()
        own = self.account_id
        since = cursor.get("since_id")
        base: Params = [("types[]", "mention"), ("include_filtered", "true")]
        notes, notes_since, notes_more = self._read(
            api, NOTIFICATIONS, base, str(since) if since else None, self.page_limit, "reading mentions"
        )
        events: list[InboundEvent] = []
        for note in notes:
            if note.get("type") == "mention":
                self._keep(events, partial(mention_event, note, own), f"notification {note['id']}")
        own_since = cursor.get("own_since_id")
        own_path = f"/api/v1/accounts/{own}/statuses"
        if own_since is None:
            # First fetch: the brand's history is not care work; start from its newest status.
            latest = self._page(api, own_path, [("limit", "1")], "reading the brand's statuses")[0]
            own_since_next: str | None = newest([str(s["id"]) for s in latest]) or "0"
            own_more = False
        else:
            statuses, own_since_next, own_more = self._read(
                api,
                own_path,
                [("exclude_reblogs", "true")],
                str(own_since),
                self.own_page_limit,
                "reading the brand's statuses",
            )
            for status in statuses:
                self._keep(events, partial(own_status_event, status, own), f"status {status['id']}")
        events.sort(key=lambda e: (e.created_at, id_key(e.external_id)))
        # "0" after an empty first fetch: the next one must read everything new, not start over as a first.
        next_cursor: dict[str, Any] = {
            **cursor,
            "since_id": notes_since or "0",
            "own_since_id": own_since_next,
        }
        return FetchResult(events=events, cursor=next_cursor, more=notes_more or own_more)

    @staticmethod
    def _keep(events: list[InboundEvent], parse: Callable[[], InboundEvent | None], what: str) -> None:
        """Parse one item; a malformed one is logged and skipped, so it cannot block the channel forever."""
        try:
            event = parse()
        except InvalidInput as exc:
            log.warning("Mastodon %s skipped: %s", what, exc.message)
            return
        if event is not None:
            events.append(event)

    def _page(
        self, api: MastodonApi, path: str, params: Params, doing: str
    ) -> tuple[list[dict[str, Any]], httpx.Response]:
        response = api.call("GET", path, params=params, doing=doing)
        body = api.json(response, doing=doing)
        if not isinstance(body, list):
            raise ConnectorError(
                f"Mastodon answered {doing} with something that is not a list", retryable=True
            )
        return [item for item in body if isinstance(item, dict) and item.get("id") is not None], response

    def _read(
        self, api: MastodonApi, path: str, base: Params, since: str | None, limit: int, doing: str
    ) -> tuple[list[dict[str, Any]], str | None, bool]:
        """Everything after `since`, oldest first; the newest id seen; whether more is left for next time.

        Mastodon answers newest first. Usually one walk back from the newest item through `rel="next"`
        (`max_id`) down to `since` covers everything. When that walk would exceed `max_pages`, the backlog is
        read forward instead (`min_id`, pages of the items immediately newer than it), `max_pages` pages per
        fetch, so the stored cursor never skips what was not read. Without `since` (the first fetch) only the
        newest `max_pages` pages are read.
        """
        fixed = [*base, ("limit", str(limit))]
        items: dict[str, dict[str, Any]] = {}
        max_id: str | None = None
        for _ in range(self.max_pages):
            params = [
                *fixed,
                *([("since_id", since)] if since else []),
                *([("max_id", max_id)] if max_id else []),
            ]
            page, response = self._page(api, path, params, doing)
            for item in page:
                items.setdefault(str(item["id"]), item)
            max_id = link_param(response, "next", "max_id")
            if not page or max_id is None:
                break
        else:
            if since is not None:
                return self._read_forward(api, path, fixed, since, doing)
            log.info("first Mastodon fetch: older history than %s items is not imported", len(items))
        ordered = sorted(items, key=id_key)
        if since is not None:  # a server that ignores since_id must not bring old items back
            ordered = [i for i in ordered if id_key(i) > id_key(since)]
        return [items[i] for i in ordered], (ordered[-1] if ordered else since), False

    def _read_forward(
        self, api: MastodonApi, path: str, fixed: Params, since: str, doing: str
    ) -> tuple[list[dict[str, Any]], str, bool]:
        items: dict[str, dict[str, Any]] = {}
        cursor = since
        for _ in range(self.max_pages):
            page, _response = self._page(api, path, [*fixed, ("min_id", cursor)], doing)
            fresh = [i for i in page if id_key(str(i["id"])) > id_key(cursor)]
            if not fresh:
                return [items[i] for i in sorted(items, key=id_key)], cursor, False
            for item in fresh:
                items.setdefault(str(item["id"]), item)
            cursor = max((str(i["id"]) for i in fresh), key=id_key)
        return [items[i] for i in sorted(items, key=id_key)], cursor, True

    # --- watch (listening) ----------------------------------------------------------------------------

    def watch(self, rules: Sequence[WatchSpec], cursor: dict[str, Any]) -> FetchResult:
        """Statuses for the workspace's watch rules: one hashtag timeline or statuses search per query.

        The cursor keeps, per query, the newest status id read (`{"queries": {key: since_id}}`); a query
        seen for the first time reads only its newest page (history is not imported). Queries of rules
        that are gone are dropped from the cursor. The brand's own statuses, boosts and statuses that are
        not public are left out; the pipeline then keeps only what a rule really matches.
        """
        api = self._api()
        own = self.account_id
        known = cursor.get("queries")
        previous: Mapping[str, Any] = known if isinstance(known, Mapping) else {}
        next_since: dict[str, str] = {}
        statuses: dict[str, dict[str, Any]] = {}
        more = False
        for key, query in queries_of(rules).items():
            since = previous.get(key)
            since = str(since) if since is not None else None
            tag = hashtag_of(query)
            if tag is not None:
                found, newest_id, left = self._tag_timeline(api, tag, since)
            else:
                found, newest_id, left = self._search(api, query, since)
            next_since[key] = newest_id
            more = more or left
            for status in found:
                statuses.setdefault(str(status["id"]), status)
        events: list[InboundEvent] = []
        for status_id, status in statuses.items():
            self._keep(events, partial(listen_event, status, own), f"status {status_id} (listening)")
        events.sort(key=lambda e: (e.created_at, id_key(e.external_id)))
        return FetchResult(events=events, cursor={"queries": next_since}, more=more)

    def _tag_timeline(
        self, api: MastodonApi, tag: str, since: str | None
    ) -> tuple[list[dict[str, Any]], str, bool]:
        path = f"/api/v1/timelines/tag/{quote(tag, safe='')}"
        doing = f"reading the #{tag} timeline"
        if since is None:
            page, _response = self._page(api, path, [("limit", str(self.listen_page_limit))], doing)
            return [], newest([str(s["id"]) for s in page]) or "0", False
        found, newest_id, left = self._read(api, path, [], since, self.listen_page_limit, doing)
        return found, newest_id or since, left

    def _search(
        self, api: MastodonApi, query: str, since: str | None
    ) -> tuple[list[dict[str, Any]], str, bool]:
        """Statuses search, newest first, walked back through `max_id` down to `since`.

        Search answers have no Link header and `min_id` there is a bound, not "the items immediately
        newer" (results come newest first), so a backlog cannot be read forward: past `search_max_pages`
        pages in one watch the older part of a burst is skipped (logged).
        """
        doing = f"searching statuses for {query[:60]!r}"
        base: Params = [
            ("q", query),
            ("type", "statuses"),
            ("resolve", "false"),
            ("limit", str(self.listen_page_limit)),
        ]
        found: dict[str, dict[str, Any]] = {}
        max_id: str | None = None
        pages = 1 if since is None else self.search_max_pages
        for number in range(pages):
            params = [*base, *([("max_id", max_id)] if max_id else [])]
            page = self._search_page(api, params, doing)
            for status in page:
                found.setdefault(str(status["id"]), status)
            ids = [str(s["id"]) for s in page]
            reached = since is None or any(id_key(i) <= id_key(since) for i in ids)
            if len(page) < self.listen_page_limit or reached:
                break
            max_id = min(ids, key=id_key)
            if number == pages - 1:
                log.warning(
                    "Mastodon search %r: more than %s new statuses, older ones skipped",
                    query,
                    pages * len(page),
                )
        newest_id = newest(list(found)) or since or "0"
        if since is None:
            return [], newest_id, False
        fresh = sorted((i for i in found if id_key(i) > id_key(since)), key=id_key)
        return [found[i] for i in fresh], max(newest_id, since, key=id_key), False

    def _search_page(self, api: MastodonApi, params: Params, doing: str) -> list[dict[str, Any]]:
        body = api.json(api.call("GET", SEARCH, params=params, doing=doing), doing=doing)
        statuses = body.get("statuses") if isinstance(body, Mapping) else None
        if not isinstance(statuses, list):
            raise ConnectorError(f"Mastodon answered {doing} without a list of statuses", retryable=True)
        return [s for s in statuses if isinstance(s, dict) and s.get("id") is not None]

    # --- stream ----------------------------------------------------------------------------------------

    def stream(
        self,
        cursor: dict[str, Any],
        deliver: Callable[[FetchResult], None],
        stop: threading.Event,
        *,
        poll_seconds: float | None = None,
        read_timeout: float = 90.0,
    ) -> dict[str, Any]:
        """Listen to the notification stream until `stop` is set; returns the last cursor.

        Each `deliver(result)` gets a FetchResult exactly like the poller's: store its events and cursor in
        one transaction (then `acknowledge`), and the next result continues from that cursor. Raises
        ConnectorError for what retrying cannot fix (a refused token); everything else falls back to
        polling every `poll_seconds` and reconnects. Not yet driven by the core (no stream runner).
        """
        streamer = Streamer(
            self._api(),
            self.fetch,
            deliver,
            stop,
            poll_seconds=poll_seconds if poll_seconds is not None else self.spec.poll_seconds,
            read_timeout=read_timeout,
        )
        return streamer.run(cursor)

    # --- replies -----------------------------------------------------------------------------------

    def prepare(self, reply: OutboundReply, context: ReplyContext) -> OutboundReply:
        if reply.public:
            if context.target_public is False:
                raise InvalidInput(
                    "the customer wrote a private mention (a Mastodon DM): a public reply would expose the "
                    "conversation; reply privately instead"
                )
            if not reply.in_reply_to:
                raise InvalidInput(
                    "a public Mastodon reply answers one of the customer's statuses and this conversation "
                    "has none; reply privately instead"
                )
        elif not reply.recipient:
            raise InvalidInput(
                "this conversation has no Mastodon account to write to privately; reply publicly instead"
            )
        return reply

    def send(self, reply: OutboundReply) -> SendResult:
        api = self._api()
        own = self.account_id
        body: dict[str, Any]
        if reply.public:
            if not reply.in_reply_to:
                raise ConnectorError("a public Mastodon reply needs the status it answers", retryable=False)
            target = self._status(api, reply.in_reply_to)
            visibility = str(target.get("visibility") or "public")
            if visibility == "direct":
                raise ConnectorError(
                    "the status answered is a private mention: reply privately instead", retryable=False
                )
            author = target.get("account") or {}
            accts = [str(author["acct"])] if author.get("acct") and str(author.get("id")) != own else []
            body = {
                "status": with_mentions(reply.text, accts),
                "in_reply_to_id": reply.in_reply_to,
                "visibility": visibility if visibility in _KEPT_VISIBILITY else "public",
            }
        else:
            people = [p for p in thread_people(reply.thread) if p != own]
            if reply.recipient and reply.recipient not in people:
                people.insert(0, reply.recipient)
            if not people:
                raise ConnectorError(
                    "a Mastodon DM must mention its recipient, and this reply names none", retryable=False
                )
            accts = [self._acct(api, person) for person in people]
            body = {"status": with_mentions(reply.text, accts), "visibility": "direct"}
            # In a DM thread, answer the customer's DM (same Mastodon conversation); about a public status,
            # start a new DM rather than hang a private status under the public thread.
            if reply.thread and reply.in_reply_to:
                body["in_reply_to_id"] = reply.in_reply_to
        counted = length.count("mastodon", body["status"], limit=self._max_characters())
        if not counted.valid:
            raise ConnectorError(
                f"with the @-mention Mastodon needs, the reply is {counted.length} characters long and this "
                f"instance allows {counted.limit}: shorten it by {counted.length - counted.limit}",
                retryable=False,
            )
        doing = "publishing the reply"
        response = api.call(
            "POST", STATUSES, json=body, headers={"Idempotency-Key": reply.idempotency_key}, doing=doing
        )
        status = api.json(response, doing=doing)
        if not isinstance(status, Mapping) or status.get("id") is None:
            raise ConnectorError("Mastodon accepted the reply but returned no status id", retryable=False)
        return SendResult(
            external_id=str(status["id"]),
            raw={
                "id": str(status["id"]),
                "url": status.get("url"),
                "visibility": status.get("visibility"),
                "in_reply_to_id": status.get("in_reply_to_id"),
            },
        )

    def _status(self, api: MastodonApi, status_id: str) -> Mapping[str, Any]:
        doing = "reading the status answered"
        response = api.call("GET", f"{STATUSES}/{status_id}", doing=doing, accept=(404,))
        if response.status_code == 404:
            raise ConnectorError(
                f"the customer's status {status_id} no longer exists on Mastodon (deleted, or its author "
                "blocked the brand): reply privately or open a new conversation",
                retryable=False,
            )
        status = api.json(response, doing=doing)
        if not isinstance(status, Mapping):
            raise ConnectorError(
                "Mastodon answered a status lookup with something unexpected", retryable=True
            )
        return status

    def _acct(self, api: MastodonApi, account_id: str) -> str:
        doing = "looking up the customer's account"
        response = api.call("GET", f"/api/v1/accounts/{account_id}", doing=doing, accept=(404, 410))
        if response.status_code in (404, 410):
            raise ConnectorError(
                f"the customer's Mastodon account {account_id} no longer exists (deleted or suspended)",
                retryable=False,
            )
        account = api.json(response, doing=doing)
        if not isinstance(account, Mapping) or not account.get("acct"):
            raise ConnectorError("Mastodon answered an account lookup without an acct", retryable=True)
        return str(account["acct"])


def mentions(text: str, acct: str) -> bool:
    """Whether `text` already @-mentions `acct` (`jane` or `jane@social.example`), case-insensitively."""
    user, _, domain = acct.partition("@")
    pattern = rf"(?<![\w/=@])@{re.escape(user)}"
    pattern += rf"@{re.escape(domain)}(?![\w-]|\.\w)" if domain else r"(?![\w@-]|\.\w)"
    return re.search(pattern, text, flags=re.IGNORECASE) is not None


def with_mentions(text: str, accts: list[str]) -> str:
    """`text` starting with an @-mention of each acct it does not already mention."""
    missing = []
    for acct in accts:
        if not mentions(text, acct) and acct not in missing:
            missing.append(acct)
    return " ".join([*(f"@{a}" for a in missing), text]) if missing else text
