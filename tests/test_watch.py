"""Watch rules: the product's own matching, and the rule as each network's listening query."""

from __future__ import annotations

import pytest

from caredesk.actions import admin
from caredesk.actions.base import Actor
from caredesk.domain.errors import Conflict, InvalidInput
from caredesk.domain.watch import WatchSpec, matches, to_search_queries, to_x_rule
from caredesk.runtime import Runtime
from tests.conftest import World

SPEC = WatchSpec(
    keywords=("nordlys", "#nordlysdown"),
    phrases=("nordlys mobile",),
    exclusions=("aurora", "hiring"),
    languages=("en", "da"),
)


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("Nordlys has been down all morning", "en", True),
        ("nordlysmobile.example is slow", "en", False),  # whole words only
        ("Is #NordlysDown for anyone else?", "en", True),
        ("Beautiful aurora, nordlys tonight", "en", False),  # excluded
        ("Nordlys Mobile er nede igen", "da", True),
        ("Nordlys est en panne", "fr", False),  # language not watched
        ("NORDLYS!!!", "en", True),
        ("Nordlys is hiring", "en", False),
    ],
)
def test_matches(text: str, language: str, expected: bool) -> None:
    assert matches(SPEC, text, language) is expected


def test_cjk_terms_match_without_word_boundaries() -> None:
    spec = WatchSpec(keywords=("北极光",))
    assert matches(spec, "北极光的网络又断了", "zh")
    assert not matches(spec, "今天天气很好", "zh")


def test_x_rule_and_search_queries() -> None:
    assert (
        to_x_rule(SPEC)
        == '(nordlys OR #nordlysdown OR "nordlys mobile") -aurora -hiring (lang:en OR lang:da) -is:retweet'
    )
    assert to_x_rule(WatchSpec(keywords=("acme",))) == "acme -is:retweet"
    assert to_search_queries(SPEC) == ["nordlys", "#nordlysdown", '"nordlys mobile"']
    with pytest.raises(InvalidInput, match="X allows 1024"):
        to_x_rule(WatchSpec(keywords=tuple(f"word{i}" for i in range(200))))


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"phrases": ("one",)}, {"keywords": ("ok",), "languages": ("english",)}, {"keywords": ("",)}],
)
def test_invalid_rules_are_refused(kwargs: dict[str, tuple[str, ...]]) -> None:
    with pytest.raises(InvalidInput):
        WatchSpec(**kwargs)


def test_watch_rule_action_needs_an_admin_and_a_unique_name(rt: Runtime, world: World) -> None:
    rule = admin.create_watch_rule(
        rt, world.actor("admin"), workspace_id=world.ws.id, name="Brand", keywords=["acme"], languages=["EN"]
    )
    assert (rule.keywords, rule.languages) == (["acme"], ["en"])
    with pytest.raises(Conflict):
        admin.create_watch_rule(rt, Actor.system(), workspace_id=world.ws.id, name="Brand", keywords=["x"])
    from caredesk.domain.errors import Forbidden

    with pytest.raises(Forbidden):
        admin.create_watch_rule(
            rt, world.actor("agent"), workspace_id=world.ws.id, name="Other", keywords=["x"]
        )
