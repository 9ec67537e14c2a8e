"""Personal-data detection: unit cases per type and the evaluation on the labelled set."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from pathlib import Path

import pytest

from caredesk.triage.pii import PII_TYPES, PiiSpan, find_pii

DATA = Path(__file__).parent / "data" / "pii_labelled.jsonl"


def _found(text: str, region_hint: str | None = None) -> list[tuple[str, str]]:
    return [(s.type, s.text) for s in find_pii(text, region_hint=region_hint)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Call me on +44 7911 123456 please", ("phone", "+44 7911 123456")),
        ("Ring gerne på +45 31 22 45 67 i dag", ("phone", "+45 31 22 45 67")),
        ("Llámame al +34 612 345 678.", ("phone", "+34 612 345 678")),
        ("Mail: anna.berg+x@example.se.", ("email", "anna.berg+x@example.se")),
        ("Card 4111 1111 1111 1111 declined", ("card", "4111 1111 1111 1111")),
        ("Amex 3782-822463-10005 please", ("card", "3782-822463-10005")),
        ("Refund to DE89 3704 0044 0532 0130 00 thanks", ("iban", "DE89 3704 0044 0532 0130 00")),
        ("IBAN: dk5000400440116243", ("iban", "dk5000400440116243")),
        ("my password is Hunter2!", ("password", "Hunter2!")),
        ("Kodeordet er Sommer2024.", ("password", "Sommer2024")),
        ("Mein Passwort ist Kaffee!22", ("password", "Kaffee!22")),
        ("mi contraseña es Gato77", ("password", "Gato77")),
        ("mon mot de passe est chaton99", ("password", "chaton99")),
        ("The answer to my security question is Rover", ("security_answer", "Rover")),
        ("Min mors pigenavn er Jensen", ("security_answer", "Jensen")),
        ("Mi número de cliente es 300145221", ("account_number", "300145221")),
        ("Kundennummer: 100234567", ("account_number", "100234567")),
        ("Send to 221B Baker Street please", ("address", "221B Baker Street")),
        ("Vesterbrogade 12, 1620 København V", ("address", "Vesterbrogade 12, 1620 København V")),
        ("Envíenlo a Calle Mayor 5", ("address", "Calle Mayor 5")),
        ("au 12 rue de la Paix, 75002 Paris", ("address", "12 rue de la Paix, 75002 Paris")),
        ("an Hauptstraße 5, 10115 Berlin", ("address", "Hauptstraße 5, 10115 Berlin")),
    ],
)
def test_positive(text: str, expected: tuple[str, str]) -> None:
    assert expected in _found(text)


@pytest.mark.parametrize(
    "text",
    [
        "My order #45881233 has not arrived",
        "Delivery on 12/03/2024 at 14:30",
        "It cost €1,299.00 and broke",
        "Card 4111 1111 1111 1112 was declined",
        "IBAN GB00 NWBK 6016 1331 9268 19 is rejected",
        "I need a password reset, my password is not working",
        "Jeg vil nulstille min adgangskode",
        "Version 10.0.19045 crashes",
        "I live on Baker Street",
        "Tracking 1Z999AA10123456784 is stuck",
        "Ich bin seit 2015 Kunde",
        "thanks a lot, great help",
    ],
)
def test_negative(text: str) -> None:
    assert find_pii(text) == []


def test_national_phone_with_region_hint() -> None:
    assert ("phone", "20 30 40 50") in _found("Ring til 20 30 40 50", region_hint="DK")


def test_spans_are_exact_and_disjoint() -> None:
    text = "Mail a@b.dk, card 5555 5555 5555 4444, IBAN NL91 ABNA 0417 1643 00"
    spans = find_pii(text)
    assert {s.type for s in spans} == {"email", "card", "iban"}
    for s in spans:
        assert isinstance(s, PiiSpan)
        assert text[s.start : s.end] == s.text
        assert 0 < s.confidence <= 1
    for a, b in itertools.pairwise(spans):
        assert a.end <= b.start


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def evaluate() -> tuple[Counter[str], Counter[str], Counter[str], Counter[str]]:
    """Per-type gold, recalled gold, predicted and correct predicted counts over the labelled set."""
    gold_n: Counter[str] = Counter()
    recalled: Counter[str] = Counter()
    pred_n: Counter[str] = Counter()
    correct: Counter[str] = Counter()
    for line in DATA.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        gold = [(g["type"], g["start"], g["end"]) for g in row["pii"]]
        preds = [(p.type, p.start, p.end) for p in find_pii(row["text"])]

        def hit(p: tuple[str, int, int], g: tuple[str, int, int]) -> bool:
            return p[0] == g[0] and _overlap(p[1:], g[1:]) >= 0.5 * (g[2] - g[1])

        for g in gold:
            gold_n[g[0]] += 1
            recalled[g[0]] += any(hit(p, g) for p in preds)
        for p in preds:
            pred_n[p[0]] += 1
            correct[p[0]] += any(hit(p, g) for g in gold)
    return gold_n, recalled, pred_n, correct


def test_labelled_set_is_well_formed() -> None:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 300
    assert {"en", "da", "de", "es", "fr", "pt", "it", "nl", "sv", "zh", "he"} <= {r["lang"] for r in rows}
    counts = Counter(g["type"] for r in rows for g in r["pii"])
    assert set(counts) == PII_TYPES
    assert min(counts.values()) >= 25
    for r in rows:
        for g in r["pii"]:
            assert 0 <= g["start"] < g["end"] <= len(r["text"])


def test_evaluation_recall_and_precision() -> None:
    gold_n, recalled, pred_n, correct = evaluate()
    assert sum(recalled.values()) / sum(gold_n.values()) >= 0.95
    assert sum(correct.values()) / max(1, sum(pred_n.values())) >= 0.90
    for kind in PII_TYPES:
        assert recalled[kind] / gold_n[kind] >= 0.8, kind
