"""Priority from triage and waiting signals, with weights a supervisor can read (and later change).

A conversation's priority is 0..100; the reasons that moved it are stored beside it and shown with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_WEIGHTS: dict[str, int] = {
    "base": 50,
    "private": 10,  # a DM or email was written to us directly and privately
    "listening": -20,  # found by a watch rule, not addressed to the brand
    "negative": 15,  # negative sentiment in the newest customer message
    "bump": 10,  # each further message while unanswered (at most 3 counted)
}


@dataclass(frozen=True, slots=True)
class PriorityInput:
    is_public: bool
    is_direct: bool
    sentiment: str | None
    waiting_count: int  # customer messages since the last reply


def score(signals: PriorityInput, weights: dict[str, int] | None = None) -> tuple[int, list[dict[str, Any]]]:
    w = {**DEFAULT_WEIGHTS, **(weights or {})}
    total = w["base"]
    reasons: list[dict[str, Any]] = []

    def add(key: str, text: str, times: int = 1) -> None:
        nonlocal total
        total += w[key] * times
        reasons.append({"signal": key, "points": w[key] * times, "why": text})

    if not signals.is_public:
        add("private", "private message")
    if not signals.is_direct:
        add("listening", "found by listening, not addressed to us")
    if signals.sentiment == "negative":
        add("negative", "negative sentiment")
    bumps = min(3, max(0, signals.waiting_count - 1))
    if bumps:
        add("bump", f"wrote again while waiting ({bumps}x)", bumps)
    return max(0, min(100, total)), reasons
