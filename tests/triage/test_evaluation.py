"""The published triage figures (docs/triage.md), recomputed from the public data sets beside the project.

Each threshold is the figure measured when the models were built, rounded down: a change that makes a
model worse fails here. Skipped with a message where ../shared/data is absent.
"""

from __future__ import annotations

from pathlib import Path

from caredesk.triage.evaluate import Report, evaluate
from caredesk.triage.model import default_triager
from tests.conftest import shared_file


def _reports(task: str) -> dict[str, Report]:
    root = shared_file("xlm-t").parent
    return {r.data: r for r in evaluate(task, default_triager(), Path(root))}


def test_language() -> None:
    shared_file("chinese/waimai_10k.csv")
    r = _reports("language")
    assert r["xlm-t val, 7 languages"].accuracy >= 0.98  # the issue asks 0.97
    assert r["hebrew dev"].accuracy >= 0.99
    assert r["chinese reviews (500)"].accuracy >= 0.99
    assert r["danish sentences (500, mixed)"].accuracy >= 0.99
    assert r["all four sets"].accuracy >= 0.98
    hindi = r["xlm-t val hi (mostly romanised; reported apart)"]
    assert hindi.accuracy >= 0.88  # romanised Hindi is labelled hi


def test_sentiment() -> None:
    r = _reports("sentiment")
    overall = r["xlm-t val, 8 languages"]
    assert overall.macro_f1 >= 0.58  # below the 0.60 asked for: see docs/triage.md
    assert overall.n == 8 * 324
    for code in ("ar", "en", "fr", "de", "it", "pt", "es"):
        assert r[f"xlm-t val {code}"].macro_f1 >= 0.60, code


def test_complaint() -> None:
    shared_file("complaints/labels/3_final_labels")
    (report,) = _reports("complaint").values()
    assert report.n == 6000
    assert report.positive_f1("1") >= 0.68  # below the 0.70 asked for: see docs/triage.md


def test_needs_reply_and_learning_from_the_team() -> None:
    shared_file("twcs/pool.csv")
    (report,) = _reports("needs_reply").values()
    gain = report.extra["learning from the team (time split)"]
    assert gain["fitted_on"] > 5000
    assert gain["adjusted_accuracy"] > gain["shipped_accuracy"] + 0.05
    assert gain["adjusted_f1"] > gain["shipped_f1"]


def test_topic_on_the_held_out_corpus() -> None:
    (report,) = _reports("topic").values()
    assert report.n > 150
    assert report.accuracy >= 0.70
