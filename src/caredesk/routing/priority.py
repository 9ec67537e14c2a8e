"""Priority from triage and waiting signals, with weights a supervisor can read and change.

A conversation's priority is 0..100; the reasons that moved it are stored beside it and shown with it.
A workspace overrides any weight in `settings["priority_weights"]`; unknown keys are refused there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

DEFAULT_WEIGHTS: dict[str, int] = {
    "base": 40,
    "private": 10,  # a DM or email was written to us directly and privately
    "listening": -20,  # found by a watch rule, not addressed to the brand
    "negative": 10,  # negative sentiment in the newest customer message
    "anger": 10,  # at full anger; scaled by the anger intensity (0..1)
    "complaint": 8,  # the customer reports a failure or is dissatisfied (probability ≥ 0.5)
    "no_reply_needed": -15,  # praise, chit-chat or noise (needs-a-reply probability < 0.3)
    "churn": 15,  # threatens to leave
    "outage": 10,
    "safety": 30,
    "legal": 15,
    "abuse": 5,  # seen sooner so a supervisor can decide, not to reward it
    "bump": 8,  # each further message while unanswered (at most 3 counted)
    "wait": 2,  # each started hour the newest unanswered message has waited (at most 12 counted)
    "reach": 4,  # per order of magnitude of followers beyond 1,000 (at most 4 counted)
}
URGENCY_KEYS = ("churn", "outage", "safety", "legal", "abuse")


@dataclass(frozen=True, slots=True)
class PriorityInput:
    is_public: bool
    is_direct: bool
    sentiment: str | None
    waiting_count: int  # customer messages since the last reply
    anger: float = 0.0
    complaint: float | None = None
    needs_reply: float | None = None
    urgency: tuple[str, ...] = field(default=())
    waited_hours: float = 0.0
    followers: int | None = None


def validate_weights(weights: dict[str, Any]) -> dict[str, int]:
    unknown = set(weights) - set(DEFAULT_WEIGHTS)
    if unknown:
        raise ValueError(f"unknown priority weights: {', '.join(sorted(unknown))}")
    out = {}
    for key, value in weights.items():
        if not isinstance(value, int) or isinstance(value, bool) or not -100 <= value <= 100:
            raise ValueError(f"priority weight {key!r} must be a whole number from -100 to 100")
        out[key] = value
    return out


def score(signals: PriorityInput, weights: dict[str, int] | None = None) -> tuple[int, list[dict[str, Any]]]:
    w = {**DEFAULT_WEIGHTS, **(weights or {})}
    total = float(w["base"])
    reasons: list[dict[str, Any]] = []

    def add(key: str, text: str, times: float = 1.0) -> None:
        nonlocal total
        points = round(w[key] * times)
        if points == 0:
            return
        total += points
        reasons.append({"signal": key, "points": points, "why": text})

    if not signals.is_public:
        add("private", "private message")
    if not signals.is_direct:
        add("listening", "found by listening, not addressed to us")
    if signals.sentiment == "negative":
        add("negative", "negative sentiment")
    if signals.anger >= 0.3:
        add("anger", f"anger {signals.anger:.2f}", signals.anger)
    if signals.complaint is not None and signals.complaint >= 0.5:
        add("complaint", "reports a failure or dissatisfaction")
    if signals.needs_reply is not None and signals.needs_reply < 0.3:
        add("no_reply_needed", "reads as praise, chit-chat or noise")
    for kind in URGENCY_KEYS:
        if kind in signals.urgency:
            add(kind, {"churn": "threatens to leave", "outage": "reports an outage", "safety": "safety risk",
                       "legal": "legal or regulator threat", "abuse": "abusive language"}[kind])  # fmt: skip
    bumps = min(3, max(0, signals.waiting_count - 1))
    if bumps:
        add("bump", f"wrote again while waiting ({bumps}x)", bumps)
    hours = min(12, math.ceil(signals.waited_hours)) if signals.waited_hours > 0 else 0
    if hours:
        add("wait", f"waiting {hours} h", hours)
    if signals.followers and signals.followers > 1000:
        magnitude = min(4.0, math.log10(signals.followers / 1000) + 1)
        add("reach", f"{signals.followers:,} followers", magnitude)
    return max(0, min(100, round(total))), reasons
