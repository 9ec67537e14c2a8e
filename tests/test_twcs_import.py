"""`caredesk import twcs` on the real first 5,000 rows, checked against a computation made here from the CSV
alone (no product code), on SQLite and PostgreSQL.

The rules recomputed here are the documented ones (docs/importing.md, docs/metrics.md):
- a brand's tweet belongs to that brand; a customer's tweet to the nearest brand above it in its reply
  chain, else the first brand below it (breadth first, earliest first), else the first brand it mentions;
  and also to every other brand that answered it;
- replayed in time order, a tweet joins the conversation of the tweet it answers (same brand); otherwise
  the person it is from (customer) or to (brand) joins their most recently active conversation with the
  brand; otherwise it starts one;
- KPIs: a conversation with a customer message counts; its first response is the first brand tweet at or
  after its first customer tweet.
"""

from __future__ import annotations

import csv
import hashlib
import re
import statistics
from collections import defaultdict, deque
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from caredesk.actions.imports import import_twcs
from caredesk.analytics.kpis import kpis
from caredesk.runtime import Runtime
from caredesk.storage import models as m
from caredesk.storage.models import Base
from tests.conftest import shared_file

MENTION = re.compile(r"@(\w+)")


def parse_time(value: str) -> datetime:
    return datetime.strptime(value, "%a %b %d %H:%M:%S %z %Y")


class Expected:
    def __init__(self, path: Path) -> None:
        with path.open(newline="", encoding="utf-8") as fh:
            self.rows = list(csv.DictReader(fh))
        self.by_id = {r["tweet_id"]: r for r in self.rows}
        self.brands = {r["author_id"] for r in self.rows if r["inbound"] == "False"}
        self.kids: dict[str, list[dict[str, str]]] = defaultdict(list)
        for r in self.rows:
            if r["in_response_to_tweet_id"] in self.by_id:
                self.kids[r["in_response_to_tweet_id"]].append(r)
        for lst in self.kids.values():
            lst.sort(key=lambda r: (parse_time(r["created_at"]), r["tweet_id"]))
        self.brand = {r["tweet_id"]: self._brand(r) for r in self.rows}
        # (brand, tweet) for every copy: a customer tweet goes to each brand that answered it as well
        self.entries: list[tuple[str, dict[str, str]]] = []
        for r in self.rows:
            primary = self.brand[r["tweet_id"]]
            assert primary is not None
            self.entries.append((primary, r))
            if r["inbound"] == "True":
                answered_by = {
                    k["author_id"]
                    for k in self.kids.get(r["tweet_id"], [])
                    if k["inbound"] == "False" and k["in_response_to_tweet_id"] == r["tweet_id"]
                }
                self.entries.extend((b, r) for b in sorted(answered_by - {primary}))
        self.conv: dict[tuple[str, str], int] = {}
        self._thread()

    def _brand(self, r: dict[str, str]) -> str | None:
        if r["inbound"] == "False":
            return r["author_id"]
        up = self.by_id.get(r["in_response_to_tweet_id"])
        seen = set()
        while up is not None and up["tweet_id"] not in seen:
            if up["inbound"] == "False":
                return up["author_id"]
            seen.add(up["tweet_id"])
            up = self.by_id.get(up["in_response_to_tweet_id"])
        queue = deque(self.kids.get(r["tweet_id"], []))
        while queue:
            k = queue.popleft()
            if k["inbound"] == "False":
                return k["author_id"]
            queue.extend(self.kids.get(k["tweet_id"], []))
        lower = {b.lower(): b for b in self.brands}
        return next((lower[h.lower()] for h in MENTION.findall(r["text"]) if h.lower() in lower), None)

    def _thread(self) -> None:
        order = sorted(self.entries, key=lambda e: (parse_time(e[1]["created_at"]), int(e[1]["tweet_id"])))
        contact_of: list[str | None] = []
        last_at: list[datetime] = []
        owned: dict[tuple[str, str], list[int]] = defaultdict(list)  # (brand, person) -> conversations
        for brand, r in order:
            tid = r["tweet_id"]
            parent = self.by_id.get(r["in_response_to_tweet_id"])
            inbound = r["inbound"] == "True"
            if inbound:
                person: str | None = r["author_id"]
            elif parent is not None and parent["inbound"] == "True":
                person = parent["author_id"]
            else:
                person = next(
                    (
                        h
                        for h in MENTION.findall(r["text"])
                        if h.lower() not in {b.lower() for b in self.brands}
                    ),
                    None,
                )
            if person == brand:
                person = None
            conv = None
            if parent is not None and (brand, parent["tweet_id"]) in self.conv:
                conv = self.conv[(brand, parent["tweet_id"])]
            elif person is not None and owned[(brand, person)]:
                conv = max(owned[(brand, person)], key=lambda c: (last_at[c], c))
            if conv is None:
                conv = len(contact_of)
                contact_of.append(person)
                last_at.append(parse_time(r["created_at"]))
                if person is not None:
                    owned[(brand, person)].append(conv)
            if inbound and contact_of[conv] is None:
                contact_of[conv] = person
                owned[(brand, r["author_id"])].append(conv)
            last_at[conv] = max(last_at[conv], parse_time(r["created_at"]))
            self.conv[(brand, tid)] = conv

    def kpis(self) -> dict[str, dict[str, Any]]:
        first_in: dict[int, datetime] = {}
        outs: dict[int, list[datetime]] = defaultdict(list)
        brand_of_conv: dict[int, str] = {}
        for brand, r in self.entries:
            c = self.conv[(brand, r["tweet_id"])]
            brand_of_conv[c] = brand
            t = parse_time(r["created_at"])
            if r["inbound"] == "True":
                first_in[c] = min(first_in.get(c, t), t)
            else:
                outs[c].append(t)
        per_brand: dict[str, list[float | None]] = defaultdict(list)
        for c, t_in in first_in.items():
            after = sorted(t for t in outs[c] if t >= t_in)
            per_brand[brand_of_conv[c]].append((after[0] - t_in).total_seconds() / 60 if after else None)
        result = {}
        for brand, values in per_brand.items():
            answered = [v for v in values if v is not None]
            result[brand] = {
                "inbound_conversations": len(values),
                "responded_conversations": len(answered),
                "response_rate": len(answered) / len(values),
                "median": statistics.median(answered) if answered else None,
                "p90": (
                    statistics.quantiles(answered, n=10, method="inclusive")[-1]
                    if len(answered) > 1
                    else (answered[0] if answered else None)
                ),
                "within60": sum(1 for v in answered if v <= 60) / len(values),
            }
        return result


@pytest.fixture(scope="module")
def expected() -> Expected:
    return Expected(shared_file("twcs/first5000.csv"))


def snapshot(rt: Runtime) -> dict[str, tuple[int, str]]:
    out = {}
    with rt.db.read() as s:
        for table in Base.metadata.sorted_tables:
            rows = s.execute(sa.select(table).order_by(*table.primary_key.columns)).all()
            out[table.name] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
    return out


def test_twcs_import_threads_every_tweet_once_and_kpis_match(rt: Runtime, expected: Expected) -> None:
    path = shared_file("twcs/first5000.csv")
    report = import_twcs(rt, path)
    copies = len(expected.entries)
    assert copies == 5008  # 8 customer tweets answered by a second brand
    assert (report.accepted, report.processed, report.dead) == (copies, copies, 0)

    with rt.db.read() as s:
        rows = s.execute(
            sa.select(
                m.Message.external_id, m.Message.conversation_id, m.Message.direction, m.Workspace.name
            ).join(m.Workspace, m.Workspace.id == m.Message.workspace_id)
        ).all()
        ws_names = dict(s.execute(sa.select(m.Workspace.slug, m.Workspace.name)).all())
    # Every tweet lands once in each brand it belongs to, in one conversation there.
    stored = {(r.name, r.external_id): r for r in rows}
    assert len(rows) == len(stored) == copies
    assert set(stored) == {(brand, r["tweet_id"]) for brand, r in expected.entries}
    for (_brand, tweet_id), row in stored.items():
        assert row.direction == ("out" if expected.by_id[tweet_id]["inbound"] == "False" else "in")
    # A tweet and the tweet it answers share a conversation when both are in the brand's workspace.
    cross_brand = 0
    for brand, r in expected.entries:
        parent = r["in_response_to_tweet_id"]
        if (brand, parent) in stored:
            assert stored[(brand, parent)].conversation_id == stored[(brand, r["tweet_id"])].conversation_id
        elif parent in expected.by_id:
            cross_brand += 1
    assert 0 < cross_brand < 100
    # The product's conversations are exactly the independently computed ones (same partition).
    groups: dict[int, set[tuple[str, str]]] = defaultdict(set)
    for key, row in stored.items():
        groups[row.conversation_id].add(key)
    mine: dict[int, set[tuple[str, str]]] = defaultdict(set)
    for key, conv in expected.conv.items():
        mine[conv].add(key)
    assert sorted(map(sorted, groups.values())) == sorted(map(sorted, mine.values()))

    # KPIs per brand match the computation from the CSV.
    want = expected.kpis()
    with rt.db.read() as s:
        got = {ws_names[k.workspace]: k for k in kpis(s)}
    assert set(want) <= set(got)
    assert all(got[b].inbound_conversations == 0 for b in set(got) - set(want))
    for brand, w in want.items():
        k = got[brand]
        assert k.inbound_conversations == w["inbound_conversations"], brand
        assert k.responded_conversations == w["responded_conversations"], brand
        assert k.response_rate == pytest.approx(w["response_rate"], abs=1e-4), brand
        for mine_value, theirs in (
            (k.first_response_median_minutes, w["median"]),
            (k.first_response_p90_minutes, w["p90"]),
        ):
            if theirs is None:
                assert mine_value is None, brand
            else:
                assert mine_value == pytest.approx(theirs, abs=1e-3), brand
        assert k.answered_within_60_minutes == pytest.approx(w["within60"], abs=1e-4), brand


def test_importing_the_same_file_again_changes_no_row(rt: Runtime) -> None:
    path = shared_file("twcs/first5000.csv")
    import_twcs(rt, path)
    before = snapshot(rt)
    again = import_twcs(rt, path)
    assert (again.accepted, again.duplicates, again.processed) == (0, 5008, 0)
    assert snapshot(rt) == before
