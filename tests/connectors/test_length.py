"""Per-network length rules and thread splitting (caredesk.connectors.length).

The X counter is checked against the official twitter-text conformance cases, kept beside the repository
in shared/reference (skipped, with a message, where that folder is absent).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from caredesk.connectors.length import RULES, allows_threads, count, count_x, graphemes, split

VALIDATE_YML = (
    Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "twitter-text-validate.yml"
)

# Which twitter-text config each section runs with (rb/test/conformance_test.rb upstream).
CONFORMANCE_SECTIONS = {
    "WeightedTweetsCounterTest": 2,
    "WeightedTweetsWithDiscountedEmojiCounterTest": 3,
    "UnicodeDirectionalMarkerCounterTest": 3,
}

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # man, woman, girl, boy joined by ZWJ
SUFFIX = re.compile(r" (\d+)/(\d+)\Z")


def _conformance_cases() -> list[Any]:
    if not VALIDATE_YML.is_file():
        reason = (
            f"twitter-text conformance file not found at {VALIDATE_YML} (no shared/reference beside the repo)"
        )
        return [pytest.param("", 3, {}, marks=pytest.mark.skip(reason=reason), id="conformance-file-missing")]
    tests = yaml.safe_load(VALIDATE_YML.read_text(encoding="utf-8"))["tests"]
    cases = []
    for section, version in CONFORMANCE_SECTIONS.items():
        for case in tests[section]:
            cases.append(
                pytest.param(case["text"], version, case["expected"], id=f"{section}: {case['description']}")
            )
    return cases


@pytest.mark.parametrize(("text", "version", "expected"), _conformance_cases())
def test_x_conformance(text: str, version: int, expected: dict[str, Any]) -> None:
    result = count_x(text, config_version=version)
    assert result.length == expected["weightedLength"]
    assert result.valid is expected["valid"]
    assert result.valid_range_end == expected["validRangeEnd"]
    assert expected["validRangeStart"] == 0  # the counter always reports 0; nothing to carry
    assert math.floor(result.length / result.limit * 1000) == expected["permillage"]
    assert result.limit == 280
    assert result.unit == "weighted"


def test_conformance_sections_complete() -> None:
    if not VALIDATE_YML.is_file():
        pytest.skip(f"twitter-text conformance file not found at {VALIDATE_YML}")
    tests = yaml.safe_load(VALIDATE_YML.read_text(encoding="utf-8"))["tests"]
    assert sum(len(tests[section]) for section in CONFORMANCE_SECTIONS) == 44


# --- X ---------------------------------------------------------------------------------------------------


def test_x_rule_is_v3() -> None:
    assert count("x", "Hi http://test.co").length == 26
    assert count("x", FAMILY).length == 2  # one emoji grapheme under v3
    assert count_x(FAMILY, config_version=2).length == 7 * 2 - 3  # code points: 4 emoji x 2, 3 ZWJ x 1
    assert count("x", "\u6f22" * 140).valid
    over = count("x", "\u6f22" * 141)
    assert (over.length, over.valid, over.valid_range_end) == (282, False, 139)
    assert not count("x", "").valid
    assert count("x", "a" * 1000, limit=25_000).valid


def test_x_dm_characters() -> None:
    assert count("x_dm", "a" * 10_000).valid
    assert not count("x_dm", "a" * 10_001).valid
    assert count("x_dm", "x").unit == "characters"


# --- Mastodon --------------------------------------------------------------------------------------------


def test_mastodon_url_counts_23() -> None:
    url = "https://support.example.com/orders/" + "a" * 200
    assert count("mastodon", f"Try {url}").length == 4 + 23
    assert count("mastodon", "http://x.co").length == 23  # shorter URLs count 23 as well
    assert count("mastodon", f"See {url}.").length == 4 + 23 + 1  # the sentence's dot is not the URL's


def test_mastodon_remote_mention_counts_local_part() -> None:
    assert count("mastodon", "@alice@mastodon.example.org hi").length == len("@alice hi")
    assert count("mastodon", "@alice hi").length == len("@alice hi")
    assert count("mastodon", "cc @bob@social.example.").length == len("cc @bob.")
    assert count("mastodon", "mail help@example.com").length == len("mail help@example.com")  # not a mention


def test_mastodon_graphemes() -> None:
    text = (
        "\u65e5\u672c\u8a9e\U0001f44d\U0001f3fd" + FAMILY + "\U0001f1ef\U0001f1f5"
    )  # 3 CJK, thumbs+tone, family, flag
    result = count("mastodon", text)
    assert (result.length, result.unit) == (6, "graphemes")
    assert count("mastodon", "e\u0301").length == 1  # e + combining acute


def test_mastodon_500_boundary() -> None:
    assert count("mastodon", "a" * 500) == count("mastodon", "a" * 500)
    assert count("mastodon", "a" * 500).valid
    assert not count("mastodon", "a" * 501).valid
    assert count("mastodon", "\u6f22" * 500).valid
    assert not count("mastodon", "\U0001f600" * 501).valid
    assert count("mastodon", "a" * 477 + " https://example.com/" + "b" * 300).length == 501
    assert count("mastodon", "a" * 501, limit=1000).valid  # instances differ


# --- Bluesky ---------------------------------------------------------------------------------------------


def test_bluesky_300_graphemes() -> None:
    assert count("bluesky", "a" * 300).valid
    assert not count("bluesky", "a" * 301).valid
    assert count("bluesky", "\u00e9" * 300).valid  # 600 bytes


def test_bluesky_bytes_limit() -> None:
    text = FAMILY * 250  # 250 graphemes, 25 bytes each
    result = count("bluesky", text)
    assert (result.length, result.byte_length, result.byte_limit) == (250, 6250, 3000)
    assert not result.valid


def test_bluesky_family_emoji_is_one_grapheme() -> None:
    assert graphemes(FAMILY) == 1
    assert count("bluesky", FAMILY).length == 1
    assert count("bluesky", FAMILY * 300).length == 300


def test_bluesky_dm() -> None:
    assert count("bluesky_dm", "a" * 1000).valid
    assert not count("bluesky_dm", "a" * 1001).valid
    assert not count("bluesky_dm", "\U0001f600" * 999 + "a" * 7000).valid  # 999 + 7000 graphemes
    result = count("bluesky_dm", FAMILY * 401)  # 401 graphemes, 10,025 bytes
    assert (result.length, result.valid) == (401, False)


# --- the character rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "limit"),
    [
        ("messenger", 2000),
        ("instagram", 1000),
        ("facebook_comment", 8000),
        ("email", 100_000),
        ("webhook", 20_000),
    ],
)
def test_character_rules(rule: str, limit: int) -> None:
    assert count(rule, "a" * limit) == count(rule, "a" * limit)
    fits = count(rule, "a" * limit)
    assert (fits.length, fits.limit, fits.valid, fits.unit) == (limit, limit, True, "characters")
    assert not count(rule, "a" * (limit + 1)).valid
    assert not count(rule, "").valid


def test_unknown_rule() -> None:
    with pytest.raises(ValueError, match="unknown length rule"):
        count("myspace", "hi")
    with pytest.raises(ValueError, match="unknown length rule"):
        allows_threads("myspace")


def test_allows_threads() -> None:
    assert {rule for rule in RULES if allows_threads(rule)} == {"x", "mastodon", "bluesky"}


# --- split -----------------------------------------------------------------------------------------------

WORDS = [
    *("order", "refund", "shipping", "delivery", "tracking", "parcel", "courier", "warehouse", "invoice"),
    *("account", "password", "customer", "support", "agent", "replacement", "warranty", "battery"),
    *("charger", "screen", "keyboard", "receipt"),
]


def _english(length: int, seed: int = 7) -> str:
    """Deterministic text of about `length` characters, words only (no sentence punctuation)."""
    words: list[str] = []
    i = seed
    while len(" ".join(words)) < length:
        words.append(WORDS[i % len(WORDS)])
        i = i * 31 + 11
    return " ".join(words)[:length].rsplit(" ", 1)[0]


def _strip_numbering(parts: list[str]) -> list[str]:
    stripped = []
    for i, part in enumerate(parts, start=1):
        match = SUFFIX.search(part)
        assert match is not None, part
        assert (int(match[1]), int(match[2])) == (i, len(parts))
        stripped.append(part[: match.start()])
    return stripped


def _check_thread(rule: str, text: str, parts: list[str]) -> list[str]:
    assert len(parts) > 1
    for part in parts:
        assert count(rule, part).valid, (part, count(rule, part))
    bodies = _strip_numbering(parts)
    for body in bodies:
        assert body and body == body.strip()
    return bodies


def test_split_fitting_text_is_returned_as_is() -> None:
    assert split("x", "  Sorry about that!  ") == ["  Sorry about that!  "]
    assert split("mastodon", "a" * 500) == ["a" * 500]


def test_split_english_for_x() -> None:
    text = _english(1000)
    assert 990 <= len(text) <= 1000
    parts = split("x", text)
    bodies = _check_thread("x", text, parts)
    # Rejoined without numbering, the words come back in order; a mid-word cut would split a word in two.
    assert " ".join(bodies).split() == text.split()
    original = set(text.split())
    for body in bodies:
        assert body.split()[0] in original and body.split()[-1] in original
    assert len(parts) == 4  # ~1000 characters at up to 276 per part (280 less " i/4")
    assert all(count("x", part).length >= 250 for part in parts[:-1])  # parts are filled


def test_split_prefers_sentence_boundary() -> None:
    first = "We are sorry your parcel is late. " + _english(160, seed=3) + "."
    text = first + " " + _english(600, seed=5)
    parts = split("x", text)
    bodies = _check_thread("x", text, parts)
    # The window of part 1 reaches well past the sentence end, and the cut is at it.
    assert 150 < len(first) < 250
    assert bodies[0] == first
    assert " ".join(bodies).split() == text.split()


def test_split_ignores_a_sentence_end_too_early_in_the_part() -> None:
    text = "Hi. " + _english(900, seed=9)
    bodies = _check_thread("x", text, split("x", text))
    assert bodies[0] != "Hi."
    assert len(bodies[0]) > 200
    assert " ".join(bodies).split() == text.split()


def test_split_cjk_for_x() -> None:
    base = "お客様のご注文について確認いたしました"  # 19 characters, kana and kanji
    text = (base * 40)[:600]  # no spaces, no sentence ends: cuts fall between characters
    assert count("x", text).length == 1200
    parts = split("x", text)
    bodies = _check_thread("x", text, parts)
    assert "".join(bodies) == text
    assert len(parts) == 5
    for body in bodies[:-1]:
        assert 130 <= len(body) <= 138  # each CJK character weighs 2: (280 - len(" 1/5")) / 2 = 138


def test_split_cjk_sentences_cut_after_full_stop() -> None:
    sentence = "\u6771\u4eac\u306e\u5929\u6c17\u306f\u6674\u308c\u3067\u3059\u3002"  # ends with U+3002
    text = sentence * 40
    bodies = _check_thread("x", text, split("x", text))
    assert "".join(bodies) == text
    assert all(body.endswith("\u3002") for body in bodies)


def test_split_never_cuts_a_url() -> None:
    urls = [f"https://help.example.com/articles/{n}/" + "x" * 60 + f"?ref=care{n}" for n in range(6)]
    text = " ".join(f"{_english(70, seed=n)} {url}" for n, url in enumerate(urls))
    for rule in ("x", "mastodon", "bluesky"):
        limit = 120 if rule == "mastodon" else None
        parts = split(rule, text, limit=limit) if limit else split(rule, text)
        bodies = _strip_numbering(parts)
        assert len(parts) > 1
        for part in parts:
            assert count(rule, part, limit=limit).valid
        for url in urls:
            assert sum(url in body for body in bodies) == 1, (rule, url)
        assert " ".join(bodies).split() == text.split()


def test_split_url_glued_to_cjk_is_not_cut() -> None:
    url = "https://help.example.com/ja/" + "a" * 40
    text = ("\u8a73\u3057\u304f\u306f" + url + "\u3092\u3054\u89a7\u304f\u3060\u3055\u3044\u3002") * 12
    bodies = _check_thread("x", text, split("x", text))
    assert "".join(bodies) == text
    assert sum(body.count(url) for body in bodies) == 12


def test_split_hard_splits_an_overlong_word_as_last_resort() -> None:
    token = "A" + "b" * 399  # a 400-character token with no URL in it
    text = f"Your code is {token} thanks"
    parts = split("x", text)
    bodies = _check_thread("x", text, parts)
    assert bodies[0] == "Your code is"  # the break before the long word is still a word boundary
    assert count("x", parts[1]).length == 280  # the hard-split piece fills its part
    assert "".join(bodies[1:-1]) + bodies[-1].split(" ")[0] == token
    assert bodies[-1].endswith(" thanks")


def test_split_numbering_with_two_digits() -> None:
    text = _english(3500, seed=1)
    parts = split("x", text)
    bodies = _check_thread("x", text, parts)
    assert len(parts) >= 10
    assert parts[-1].endswith(f" {len(parts)}/{len(parts)}")
    assert " ".join(bodies).split() == text.split()


def test_split_unnumbered() -> None:
    text = _english(1000)
    parts = split("bluesky", text, numbered=False)
    assert len(parts) == 4
    assert all(count("bluesky", part).valid for part in parts)
    assert not any(SUFFIX.search(part) for part in parts)
    assert " ".join(parts) == text


def test_split_bluesky_counts_bytes_and_graphemes() -> None:
    text = " ".join([FAMILY * 20] * 20)  # 400 graphemes + spaces; 20 x 25 bytes per word
    parts = split("bluesky", text)
    bodies = _check_thread("bluesky", text, parts)
    assert " ".join(bodies) == text
    assert all(len(part.encode()) <= 3000 for part in parts)


def test_split_mastodon_with_instance_limit() -> None:
    text = _english(1200)
    parts = split("mastodon", text, limit=300)
    assert len(parts) == 5
    assert all(count("mastodon", part, limit=300).valid for part in parts)


@pytest.mark.parametrize(
    "rule", ["messenger", "instagram", "facebook_comment", "email", "webhook", "x_dm", "bluesky_dm"]
)
def test_split_refuses_rules_without_threads(rule: str) -> None:
    with pytest.raises(ValueError, match="does not allow threads"):
        split(rule, "a" * 200_000)


def test_split_refuses_text_that_no_split_can_fix() -> None:
    with pytest.raises(ValueError, match="empty"):
        split("x", "")
    with pytest.raises(ValueError, match="empty"):
        split("bluesky", " \n" * 400)
    with pytest.raises(ValueError, match="cannot be split"):
        split("x", "a" * 300 + "\ufffe")


MIXED_PIECES = [
    *("order", "refund", "Hi.", "Thanks!", "really?", "(see)", "\n\n", "\n", "1/2", "a.b.c", "naïve"),
    *("https://example.com/a/b?c=d", "example.com/help", "http://t.co/xyz", "@bob@mastodon.social"),
    *(
        "東京",
        "天気は晴れです。",
        "お客様",
        "「引用」",
        "ーー",
        "、",
        FAMILY,
        "\U0001f44d\U0001f3fd",
        "e\u0301",
    ),
    *("x" * 50, "https://help.example.com/" + "p" * 120),
]


@pytest.mark.parametrize("seed", range(6))
def test_split_mixed_content_invariants(seed: int) -> None:
    """Words, URLs glued to CJK, emoji sequences, line breaks, overlong tokens: every part is valid, is
    numbered, has no whitespace at its edges, and together the parts give back the text's content."""
    pick = (seed * 7919 + 13) % 104729
    pieces = []
    for _ in range(60 + seed * 20):
        pick = (pick * 1103515245 + 12345) % 2**31
        pieces.append(MIXED_PIECES[pick % len(MIXED_PIECES)] + ["", " ", "  ", ""][pick // 7 % 4])
    text = "".join(pieces)
    for rule, limit in (("x", None), ("mastodon", 150), ("bluesky", None)):
        parts = split(rule, text, limit=limit)
        assert len(parts) > 1
        bodies = _strip_numbering(parts)
        for part, body in zip(parts, bodies, strict=True):
            assert count(rule, part, limit=limit).valid
            assert body and body == body.strip()
        assert "".join("".join(bodies).split()) == "".join(text.split())
