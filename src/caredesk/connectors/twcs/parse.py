"""Reads a TWCS-format CSV (tweet_id, author_id, inbound, created_at, text, response_tweet_id,
in_response_to_tweet_id) into events, one brand per event.

Which brand a tweet belongs to: a brand's own tweet belongs to that brand. A customer tweet belongs to
the brand nearest to it in its reply chain: the closest brand tweet above it (the one it answers, or
that one's parent...), else the first brand tweet below it (breadth first, earliest first), else the
first brand it @mentions. A chain that several brands joined is thus split at brand boundaries, since
each brand is its own workspace. A customer tweet that other brands answered too also goes to each of
them (they received it: their answer shows it), so every brand's reply has the tweet it answers.
"""

from __future__ import annotations

import csv
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from caredesk.domain.errors import InvalidInput
from caredesk.domain.types import Author, Direction, InboundEvent

COLUMNS = (
    "tweet_id",
    "author_id",
    "inbound",
    "created_at",
    "text",
    "response_tweet_id",
    "in_response_to_tweet_id",
)
_MENTION = re.compile(r"@(\w+)")


@dataclass(frozen=True, slots=True)
class Tweet:
    id: str
    author: str
    inbound: bool
    created_at: datetime
    text: str
    responses: tuple[str, ...]
    parent: str | None


@dataclass(frozen=True, slots=True)
class Planned:
    brand: str
    event: InboundEvent


@dataclass(slots=True)
class Plan:
    events: list[Planned]
    unplaced: list[str]  # tweet ids with no brand anywhere near them


def read_tweets(path: Path) -> list[Tweet]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = set(COLUMNS) - set(reader.fieldnames or [])
            if missing:
                raise InvalidInput(
                    f"{path.name} is not a TWCS file: missing columns {', '.join(sorted(missing))}"
                )
            return [_tweet(row, n) for n, row in enumerate(reader, start=2)]
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path.name} is not UTF-8: {exc.reason} at byte {exc.start}") from None


def _tweet(row: dict[str, str], line: int) -> Tweet:
    try:
        created = datetime.strptime(row["created_at"], "%a %b %d %H:%M:%S %z %Y").astimezone(UTC)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"line {line}: created_at {row.get('created_at')!r} is not like 'Tue Oct 31 22:10:47 +0000 2017'"
        ) from None
    tweet_id = (row["tweet_id"] or "").strip()
    if not tweet_id:
        raise InvalidInput(f"line {line}: empty tweet_id")
    inbound = (row["inbound"] or "").strip()
    if inbound not in ("True", "False"):
        raise InvalidInput(f"line {line}: inbound must be True or False")
    return Tweet(
        id=tweet_id,
        author=row["author_id"].strip(),
        inbound=inbound == "True",
        created_at=created,
        text=row["text"] or "",
        responses=tuple(r.strip() for r in (row["response_tweet_id"] or "").split(",") if r.strip()),
        parent=(row["in_response_to_tweet_id"] or "").strip() or None,
    )


def plan(tweets: list[Tweet]) -> Plan:
    by_id = {t.id: t for t in tweets}
    brands = {t.author for t in tweets if not t.inbound}
    brand_lower = {b.lower(): b for b in brands}
    children: dict[str, list[Tweet]] = {}
    for t in tweets:
        if t.parent and t.parent in by_id:
            children.setdefault(t.parent, []).append(t)
    for kids in children.values():
        kids.sort(key=lambda t: (t.created_at, t.id))

    def brand_above(t: Tweet) -> str | None:
        seen = {t.id}
        cur = by_id.get(t.parent) if t.parent else None
        while cur is not None and cur.id not in seen:
            if not cur.inbound:
                return cur.author
            seen.add(cur.id)
            cur = by_id.get(cur.parent) if cur.parent else None
        return None

    def brand_below(t: Tweet) -> str | None:
        queue = deque(children.get(t.id, []))
        seen = {t.id}
        while queue:
            cur = queue.popleft()
            if cur.id in seen:
                continue
            seen.add(cur.id)
            if not cur.inbound:
                return cur.author
            queue.extend(children.get(cur.id, []))
        return None

    def brand_mentioned(t: Tweet) -> str | None:
        return next(
            (brand_lower[h.lower()] for h in _MENTION.findall(t.text) if h.lower() in brand_lower), None
        )

    def repliers(t: Tweet) -> list[str]:
        """Brands that answered this customer tweet: each of them received it."""
        answers = [*children.get(t.id, []), *(by_id[r] for r in t.responses if r in by_id)]
        return sorted({k.author for k in answers if not k.inbound and k.parent == t.id})

    events: list[Planned] = []
    unplaced: list[str] = []
    for t in sorted(tweets, key=lambda t: (t.created_at, _numeric(t.id))):
        brand = t.author if not t.inbound else (brand_above(t) or brand_below(t) or brand_mentioned(t))
        if brand is None:
            unplaced.append(t.id)
            continue
        also = [b for b in repliers(t) if b != brand] if t.inbound else []
        parent = by_id.get(t.parent) if t.parent else None
        recipient = None
        if not t.inbound:
            if parent is not None and parent.inbound:
                handle: str | None = parent.author
            else:  # a brand post, or the brand continuing its own thread: whoever it @mentions first
                handle = next((h for h in _MENTION.findall(t.text) if h.lower() not in brand_lower), None)
            recipient = Author(id=handle, handle=handle) if handle else None
        events.append(
            Planned(
                brand=brand,
                event=InboundEvent(
                    external_id=t.id,
                    created_at=t.created_at,
                    text=t.text,
                    author=Author(id=t.author, handle=t.author),
                    direction=Direction.IN if t.inbound else Direction.OUT,
                    public=True,
                    in_reply_to=t.parent,
                    recipient=recipient,
                    raw={"source": "twcs", "response_tweet_id": ",".join(t.responses)},
                ),
            )
        )
        events.extend(Planned(brand=other, event=events[-1].event) for other in also)
    return Plan(events=events, unplaced=unplaced)


def _numeric(tweet_id: str) -> tuple[int, str]:
    return (int(tweet_id), "") if tweet_id.isdigit() else (0, tweet_id)


def iter_brands(p: Plan) -> Iterator[str]:
    seen: set[str] = set()
    for planned in p.events:
        if planned.brand not in seen:
            seen.add(planned.brand)
            yield planned.brand
