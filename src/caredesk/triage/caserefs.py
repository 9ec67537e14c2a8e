"""Case references in customer messages (order, case and ticket numbers, email addresses).

They link a new conversation to an existing case. Each workspace can add its own patterns, for
example its order-number format; a pattern's first group (or whole match) is the reference.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

CASE_KINDS = frozenset({"order", "case", "ticket", "email"})


@dataclass(frozen=True, slots=True)
class CaseRef:
    kind: str
    value: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class CasePattern:
    """A reference pattern; `regex` is compiled case-insensitively and validated on creation."""

    kind: str
    regex: str
    compiled: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in CASE_KINDS:
            raise ValueError(f"case pattern kind must be one of {sorted(CASE_KINDS)}, got {self.kind!r}")
        try:
            compiled = re.compile(self.regex, re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"case pattern {self.regex!r} does not compile: {exc}") from exc
        if compiled.fullmatch("") is not None or compiled.search("") is not None:
            raise ValueError(f"case pattern {self.regex!r} can match the empty string")
        object.__setattr__(self, "compiled", compiled)


_NO = r"(?:\s*(?:no\.?|nr\.?|n[°º]\.?|number|nummer|número|numéro|numero|#|:))*\s*"
_ID = r"#?\s*([A-Z]{0,4}-?\d[\d-]{2,}\d)\b"

DEFAULT_PATTERNS: tuple[CasePattern, ...] = (
    CasePattern(
        "order",
        r"(?<!\w)(?:order|ordre|ordrenummer|bestilling|bestellnummer|bestellung|pedido|commande|encomenda"
        r"|ordine|bestelling|beställning|订单号?|הזמנה)" + _NO + _ID,
    ),
    CasePattern("case", r"(?<!\w)(?:case|sag|sagsnummer|fall|caso|dossier|zaak|ärende)" + _NO + _ID),
    CasePattern("ticket", r"(?<!\w)(?:ticket|billet|incidencia|chamado|tiquete)" + _NO + _ID),
    CasePattern(
        "email",
        r"(?<![\w.+%-])([A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,24})(?![\w-])",
    ),
)


def _normalise(kind: str, value: str) -> str:
    if kind == "email":
        return value.lower()
    return re.sub(r"[\s#]", "", value).upper()


def find_case_refs(text: str, patterns: Sequence[CasePattern] = DEFAULT_PATTERNS) -> list[CaseRef]:
    """References in `text`, sorted by start; when two overlap the one found by an earlier pattern wins."""
    refs: list[CaseRef] = []
    for pattern in patterns:
        for m in pattern.compiled.finditer(text):
            group = 1 if pattern.compiled.groups >= 1 and m.group(1) is not None else 0
            start, end = m.span(group)
            if start == end or any(start < r.end and end > r.start for r in refs):
                continue
            refs.append(CaseRef(pattern.kind, _normalise(pattern.kind, m.group(group)), start, end))
    refs.sort(key=lambda r: r.start)
    return refs
