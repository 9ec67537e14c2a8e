"""`caredesk triage eval`: accuracy, macro-F1 and a confusion matrix for one task on one data set."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from caredesk.triage import adapt
from caredesk.triage import datasets as ds
from caredesk.triage.base import TriageInput, Triager
from caredesk.triage.model import ModelTriager

TASKS = ("sentiment", "language", "needs_reply", "complaint", "topic")


@dataclass
class Report:
    task: str
    data: str
    n: int
    accuracy: float
    macro_f1: float
    labels: list[str]
    confusion: list[list[int]]  # rows gold, columns predicted
    per_class_f1: dict[str, float]
    extra: dict[str, Any]

    def positive_f1(self, label: str = "1") -> float:
        return self.per_class_f1.get(label, 0.0)

    def render(self) -> str:
        head = f"task {self.task} on {self.data}: n={self.n}"
        lines = [f"{head} accuracy={self.accuracy:.4f} macro-F1={self.macro_f1:.4f}"]
        lines += [f"  {k}: {v}" for k, v in self.extra.items()]
        width = max(6, *(len(x) for x in self.labels))
        lines.append(
            "  gold \\ predicted".ljust(width + 4) + " ".join(x.rjust(width) for x in self.labels) + "     F1"
        )
        for label, row in zip(self.labels, self.confusion, strict=True):
            cells = " ".join(str(v).rjust(width) for v in row)
            lines.append(f"  {label.ljust(width + 2)}{cells}  {self.per_class_f1[label]:.3f}")
        return "\n".join(lines)


def score(task: str, data: str, gold: Sequence[str], pred: Sequence[str], **extra: Any) -> Report:
    labels = sorted(set(gold) | set(pred))
    index = {x: i for i, x in enumerate(labels)}
    confusion = [[0] * len(labels) for _ in labels]
    for g, p in zip(gold, pred, strict=True):
        confusion[index[g]][index[p]] += 1
    f1 = {}
    for x, i in index.items():
        tp = confusion[i][i]
        fp = sum(confusion[r][i] for r in range(len(labels))) - tp
        fn = sum(confusion[i]) - tp
        f1[x] = round(2 * tp / (2 * tp + fp + fn), 4) if tp else 0.0
    gold_labels = sorted(set(gold))
    macro = sum(f1[x] for x in gold_labels) / len(gold_labels)
    acc = sum(1 for g, p in zip(gold, pred, strict=True) if g == p) / max(1, len(gold))
    return Report(task, data, len(gold), round(acc, 4), round(macro, 4), labels, confusion, f1, extra)


def _run(
    triager: Triager, texts: Sequence[str], hints: Sequence[str | None] | None = None
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    hints = hints or [None] * len(texts)
    for start in range(0, len(texts), 500):
        batch = [
            TriageInput(t, h)
            for t, h in zip(texts[start : start + 500], hints[start : start + 500], strict=True)
        ]
        out.extend(triager.classify(batch))
    return out


def evaluate(task: str, triager: Triager, root: Path) -> list[Report]:
    """The published figures: each task on its documented `val` or evaluation set (see docs/triage.md)."""
    if task == "sentiment":
        rows = list(ds.xlmt(root, "val"))
        res = _run(triager, [e.text for e in rows])
        reports = [
            score(
                "sentiment",
                "xlm-t val, 8 languages",
                [str(e.label) for e in rows],
                [r["sentiment"] for r in res],
            )
        ]
        for code in ds.XLMT_LANGS.values():
            idx = [i for i, e in enumerate(rows) if e.language == code]
            reports.append(
                score(
                    "sentiment",
                    f"xlm-t val {code}",
                    [str(rows[i].label) for i in idx],
                    [res[i]["sentiment"] for i in idx],
                )
            )
        return reports
    if task == "language":
        sets: list[tuple[str, list[str], list[str]]] = []
        val = list(ds.xlmt(root, "val"))
        seven = [e for e in val if e.language != "hi"]
        sets.append(("xlm-t val, 7 languages", [e.text for e in seven], [str(e.language) for e in seven]))
        he = [e.text for e in ds.hebrew(root, "dev")]
        sets.append(("hebrew dev", he, ["he"] * len(he)))
        zh = ds.chinese_sample(root)
        sets.append(("chinese reviews (500)", zh, ["zh"] * len(zh)))
        da = ds.danish_sample(root)
        sets.append(("danish sentences (500, mixed)", da, ["da"] * len(da)))
        hi = [e.text for e in val if e.language == "hi"]
        texts = [t for _, ts, _ in sets for t in ts]
        gold = [g for _, _, gs in sets for g in gs]
        res = _run(triager, texts)
        pred = [str(r["language"]) for r in res]
        reports = [score("language", "all four sets", gold, pred)]
        pos = 0
        for name, ts, gs in sets:
            reports.append(score("language", name, gs, pred[pos : pos + len(ts)]))
            pos += len(ts)
        hres = _run(triager, hi)
        reports.append(
            score(
                "language",
                "xlm-t val hi (mostly romanised; reported apart)",
                ["hi"] * len(hi),
                [str(r["language"]) for r in hres],
            )
        )
        return reports
    if task == "complaint":
        rows_c = list(ds.complaints(root))
        res = _run(triager, [t for t, _ in rows_c])
        pred = ["1" if r["complaint"] >= 0.5 else "0" for r in res]
        return [score("complaint", "complaints final labels (eval only)", [str(y) for _, y in rows_c], pred)]
    if task == "needs_reply":
        rows_t = list(ds.twcs_inbound(root))
        res = _run(triager, [r["text"] for r in rows_t])
        pred = ["1" if r["needs_reply"] >= 0.5 else "0" for r in res]
        gold = ["1" if r["answered"] == "True" else "0" for r in rows_t]
        extra: dict[str, Any] = {}
        if isinstance(triager, ModelTriager):
            times = [datetime.strptime(r["created_at"], "%a %b %d %H:%M:%S %z %Y") for r in rows_t]
            extra["learning from the team (time split)"] = adapt.time_split_gain(
                triager, [r["text"] for r in rows_t], times, [int(g) for g in gold]
            )
        return [score("needs_reply", "twcs pool inbound (label: the brand replied)", gold, pred, **extra)]
    if task == "topic":
        rows_h = [r for r in ds.care_corpus() if ds.held_out(str(r["id"]))]
        res = _run(triager, [str(r["text"]) for r in rows_h])
        return [
            score(
                "topic",
                "care corpus, held-out fifth",
                [str(r["topic"]) for r in rows_h],
                [r["topic"] for r in res],
            )
        ]
    raise ValueError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
