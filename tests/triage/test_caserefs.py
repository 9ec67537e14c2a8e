"""Case references: defaults in several languages, a workspace pattern, invalid patterns."""

from __future__ import annotations

import pytest

from caredesk.triage.caserefs import DEFAULT_PATTERNS, CasePattern, find_case_refs


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("Where is order #12345?", "order", "12345"),
        ("order no. NM-48213 is late", "order", "NM-48213"),
        ("Min ordre nr. 4411 mangler", "order", "4411"),
        ("Bestellnummer 123-456 fehlt", "order", "123-456"),
        ("Mi pedido 7788 no llegó", "order", "7788"),
        ("Ma commande n° 5566", "order", "5566"),
        ("About case 00123456", "case", "00123456"),
        ("Ticket #a-1234 closed", "ticket", "A-1234"),
        ("Sag 1234 er åben", "case", "1234"),
        ("Write to Ola.Nordmann@Example.no", "email", "ola.nordmann@example.no"),
    ],
)
def test_defaults(text: str, kind: str, value: str) -> None:
    refs = find_case_refs(text)
    assert [(r.kind, r.value) for r in refs] == [(kind, value)]
    assert text[refs[0].start : refs[0].end].replace(" ", "").upper() == value.upper()


def test_no_reference() -> None:
    assert find_case_refs("Thanks, all good now! Delivered 12/03.") == []


def test_workspace_pattern() -> None:
    patterns = (CasePattern("order", r"\b(SHOP-\d{6})\b"), *DEFAULT_PATTERNS)
    refs = find_case_refs("Hi, shop-123456 never came", patterns)
    assert [(r.kind, r.value) for r in refs] == [("order", "SHOP-123456")]


@pytest.mark.parametrize("regex", [r"(unclosed", r"\d*", r"(?:x)?"])
def test_invalid_pattern_rejected(regex: str) -> None:
    with pytest.raises(ValueError, match="case pattern"):
        CasePattern("order", regex)


def test_unknown_kind_rejected() -> None:
    with pytest.raises(ValueError, match="kind"):
        CasePattern("invoice", r"INV-\d+")
