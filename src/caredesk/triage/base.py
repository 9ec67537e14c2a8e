"""The seam between the pipeline and whatever classifies text: what goes in, and the protocol."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class TriageInput:
    text: str
    language_hint: str | None = None
    workspace_id: int | None = None  # whose own topics and learnt adjustment apply (ModelTriager)


class Triager(Protocol):
    def classify(self, items: list[TriageInput]) -> list[dict[str, Any]]: ...
