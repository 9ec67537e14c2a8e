"""The TWCS reader on a hand-written file: brands, directions, reply links, brand posts."""

from __future__ import annotations

from pathlib import Path

from caredesk.connectors.twcs.parse import plan, read_tweets
from caredesk.domain.types import Direction

FIXTURES = Path(__file__).parent / "fixtures"


def test_sample_plan() -> None:
    planned = plan(read_tweets(FIXTURES / "sample.csv"))
    assert planned.unplaced == []
    by_id = {p.event.external_id: p for p in planned.events}
    assert [p.event.external_id for p in planned.events] == ["10", "11", "12", "20", "21"]  # time order
    assert {p.brand for p in planned.events} == {"ExampleAirCare"}
    assert by_id["11"].event.direction == Direction.OUT and by_id["11"].event.recipient is not None
    assert by_id["11"].event.recipient.id == "900001" and by_id["11"].event.in_reply_to == "10"
    assert by_id["20"].event.recipient is None  # the brand's own post: addressed to no one
    assert by_id["21"].event.in_reply_to == "20" and by_id["21"].event.author.id == "900002"
