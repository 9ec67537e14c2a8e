"""Reading a newest-first list (notifications, an author feed) down to what was already processed.

Bluesky has no "since" parameter: a list is read from the top, page by page (`cursor`), until it reaches
items processed before. The stored mark is the newest `indexedAt` processed plus the URIs processed in the
last `GRACE` before it. The list is ordered by a sort time that can differ a little from `indexedAt` (the
AppView sorts by the earlier of `createdAt` and `indexedAt`), so the walk does not stop at the first
processed item: it skips processed URIs and stops only below `newest - GRACE`. A walk longer than
`max_pages` stops part-way and keeps its page cursor (`resume`); the mark moves only when a walk has
reached the old mark, so a restart in the middle of a long backlog loses nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from caredesk.connectors.bluesky.parse import parse_time

GRACE = timedelta(minutes=10)

Page = Callable[[str | None], tuple[list[dict[str, Any]], str | None]]
Key = Callable[[dict[str, Any]], tuple[str, str] | None]  # (sort time as sent, uri)


@dataclass(slots=True)
class Walked:
    items: list[dict[str, Any]] = field(default_factory=list)  # new items, newest first
    state: dict[str, Any] = field(default_factory=dict)
    complete: bool = True  # False: stopped at max_pages; fetch again to continue


def _pairs(value: Any) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for pair in value if isinstance(value, list) else []:
        if isinstance(pair, list | tuple) and len(pair) == 2 and all(isinstance(p, str) for p in pair):
            out.append((pair[0], pair[1]))
    return out


def _within_grace(pairs: list[tuple[str, str]]) -> tuple[str | None, list[tuple[str, str]]]:
    """The newest time of `pairs`, and the pairs no older than GRACE before it (deduplicated)."""
    timed = [(t, at, uri) for at, uri in pairs if (t := parse_time(at)) is not None]
    if not timed:
        return None, []
    newest_t, newest_at, _ = max(timed, key=lambda x: x[0])
    kept: dict[str, tuple[str, str]] = {}
    for t, at, uri in timed:
        if t >= newest_t - GRACE:
            kept[uri] = (at, uri)
    return newest_at, sorted(kept.values(), key=lambda p: (parse_time(p[0]) or newest_t, p[1]))


def walk(page: Page, key: Key, state: Mapping[str, Any], *, floor: datetime | None, max_pages: int) -> Walked:
    """Read new items from the top of the list. `floor`: on a first walk (no mark yet), how far back to
    go; None means the whole list."""
    old_pairs = _pairs(state.get("recent"))
    newest_at = state.get("newest") if isinstance(state.get("newest"), str) else None
    newest = parse_time(newest_at)
    stop_below = newest - GRACE if newest is not None else floor
    processed = {uri for _, uri in old_pairs}
    resume = state.get("resume") if isinstance(state.get("resume"), dict) else None
    cursor: str | None = None
    found: list[tuple[str, str]] = []
    if resume is not None:
        cursor = resume.get("cursor") if isinstance(resume.get("cursor"), str) else None
        found = _pairs(resume.get("found"))
    processed.update(uri for _, uri in found)
    items: list[dict[str, Any]] = []
    done = False
    for _ in range(max_pages):
        page_items, next_cursor = page(cursor)
        for item in page_items:
            k = key(item)
            t = parse_time(k[0]) if k else None
            if k is None or t is None:
                continue
            if stop_below is not None and t < stop_below:
                done = True
                break
            if k[1] in processed:
                continue
            processed.add(k[1])
            items.append(item)
            found.append(k)
        if done or not page_items or not next_cursor or next_cursor == cursor:
            done = True
            break
        cursor = next_cursor
    if done:
        top, recent = _within_grace(old_pairs + found)
        top_t = parse_time(top)
        if newest is not None and (top_t is None or top_t < newest):
            top = newest_at
        new_state: dict[str, Any] = {"newest": top, "recent": [list(p) for p in recent]} if top else {}
        return Walked(items=items, state=new_state, complete=True)
    _, kept = _within_grace(found)
    partial: dict[str, Any] = {k: v for k, v in state.items() if k in ("newest", "recent")}
    partial["resume"] = {"cursor": cursor, "found": [list(p) for p in kept]}
    return Walked(items=items, state=partial, complete=False)
