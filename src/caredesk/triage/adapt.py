"""Learning from the team: a per-workspace adjustment of a head, fitted on the team's own decisions
(replied or marked "no reply needed", topics corrected), on top of the shipped model.

The adjustment is a logistic regression over the shared features plus the shipped head's own logit, so
with few decisions it stays close to the shipped model and with many it learns the team's habits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from caredesk.triage.model import ModelTriager
from caredesk.triage.simple import TriageInput
from caredesk.triage.text import clean


@dataclass
class Adjustment:
    head: str
    model: LogisticRegression

    def proba(self, x: sp.csr_matrix, base_logit: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(_with_base(x, base_logit))[:, 1]  # type: ignore[no-any-return]


def _with_base(x: sp.csr_matrix, base_logit: np.ndarray) -> sp.csr_matrix:
    return sp.hstack([x, sp.csr_matrix(base_logit.reshape(-1, 1))], format="csr")


def features(triager: ModelTriager, texts: Sequence[str], head: str) -> tuple[sp.csr_matrix, np.ndarray]:
    """The shared features of the texts and the shipped head's logit for each."""
    results = triager.classify([TriageInput(t) for t in texts])
    cleaned = [clean(t) for t in texts]
    f = triager.features
    x = f.full(f.ngrams(cleaned), f.dense(cleaned, [r["language"] for r in results]))
    return x, triager.heads[head].logits(x)[:, 0]


def fit(
    triager: ModelTriager, texts: Sequence[str], labels: Sequence[int], head: str = "needs_reply"
) -> Adjustment:
    x, base = features(triager, texts, head)
    model = LogisticRegression(C=0.3, max_iter=2000, class_weight="balanced")
    model.fit(_with_base(x, base), np.asarray(labels))
    return Adjustment(head, model)


def _f1(y: np.ndarray, pred: np.ndarray) -> float:
    tp = int(((y == 1) & pred).sum())
    fp = int(((y == 0) & pred).sum())
    fn = int(((y == 1) & ~pred).sum())
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def time_split_gain(
    triager: ModelTriager,
    texts: Sequence[str],
    times: Sequence[datetime],
    labels: Sequence[int],
    head: str = "needs_reply",
) -> dict[str, float | int]:
    """Fit on the earlier half of the decisions, measure on the later half: shipped head against adjusted."""
    order = sorted(range(len(texts)), key=lambda i: times[i])
    cut = len(order) // 2
    early, late = order[:cut], order[cut:]
    adj = fit(triager, [texts[i] for i in early], [labels[i] for i in early], head)
    x, base = features(triager, [texts[i] for i in late], head)
    y = np.asarray([labels[i] for i in late])
    shipped = 1 / (1 + np.exp(-base)) >= 0.5
    adjusted = adj.proba(x, base) >= 0.5
    return {
        "fitted_on": len(early),
        "measured_on": len(late),
        "shipped_f1": round(_f1(y, shipped), 4),
        "adjusted_f1": round(_f1(y, adjusted), 4),
        "shipped_accuracy": round(float((shipped == (y == 1)).mean()), 4),
        "adjusted_accuracy": round(float((adjusted == (y == 1)).mean()), 4),
    }
