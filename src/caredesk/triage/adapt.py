"""Learning from the team: a per-workspace adjustment of a head, fitted on the team's own decisions
(replied or marked "no reply needed", topics corrected), on top of the shipped model.

The adjustment is a logistic regression over the shared features plus the shipped head's own logit, so
with few decisions it stays close to the shipped model and with many it learns the team's habits.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import scipy.sparse as sp
import sqlalchemy as sa
from sklearn.linear_model import LogisticRegression
from sqlalchemy.orm import Session

from caredesk.runtime import Runtime
from caredesk.storage import models as m
from caredesk.triage.base import TriageInput
from caredesk.triage.features import FEATURE_SPEC
from caredesk.triage.model import ModelTriager


@dataclass
class Adjustment:
    """Weights over the shared features, then one for the shipped head's logit, and an intercept; fitted
    on the features of one `FEATURE_SPEC` version, and meaningless over any other."""

    head: str
    coef: np.ndarray  # float32, (n_features + 1,)
    intercept: float
    feature_version: int = FEATURE_SPEC["version"]

    @classmethod
    def from_model(cls, head: str, model: LogisticRegression) -> Adjustment:
        return cls(head, model.coef_[0].astype(np.float32), float(model.intercept_[0]))

    def fits(self, triager: ModelTriager) -> bool:
        """Whether the adjustment was fitted on the features this triager computes."""
        width = self.coef.shape[0] - 1
        same_version = self.feature_version == FEATURE_SPEC["version"]
        return bool(same_version and width == triager.heads[self.head].n_inputs)

    def proba(self, x: sp.csr_matrix, base_logit: np.ndarray) -> np.ndarray:
        z = np.asarray(x @ self.coef[:-1]).ravel() + base_logit * self.coef[-1] + self.intercept
        return 1.0 / (1.0 + np.exp(-z))  # type: ignore[no-any-return]

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            coef=self.coef,
            intercept=np.array([self.intercept], dtype=np.float32),
            feature_version=np.array([self.feature_version], dtype=np.int32),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, head: str, data: bytes) -> Adjustment:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            # adjustments stored before the version was recorded were fitted on version 1
            version = int(z["feature_version"][0]) if "feature_version" in z.files else 1
            return cls(head, z["coef"].astype(np.float32), float(z["intercept"][0]), version)


def _with_base(x: sp.csr_matrix, base_logit: np.ndarray) -> sp.csr_matrix:
    return sp.hstack([x, sp.csr_matrix(base_logit.reshape(-1, 1))], format="csr")


def features(triager: ModelTriager, texts: Sequence[str], head: str) -> tuple[sp.csr_matrix, np.ndarray]:
    """The shared features of the texts and the shipped head's logit for each."""
    x = triager.featurize([TriageInput(t) for t in texts]).x
    return x, triager.heads[head].logits(x)[:, 0]


def fit(
    triager: ModelTriager, texts: Sequence[str], labels: Sequence[int], head: str = "needs_reply"
) -> Adjustment:
    x, base = features(triager, texts, head)
    model = LogisticRegression(C=2.0, max_iter=2000, class_weight="balanced")
    model.fit(_with_base(x, base), np.asarray(labels))
    return Adjustment.from_model(head, model)


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


MIN_DECISIONS = 50
UNANSWERED_AFTER = timedelta(hours=24)  # a message left this long without a reply was left on purpose


def team_decisions(session: Session, workspace_id: int, now: datetime) -> list[tuple[str, datetime, int]]:
    """(text, time, label) for the workspace's customer messages the team has decided on: 1 when an agent
    reply followed it in its conversation, 0 when its conversation was resolved without one or it was
    left unanswered for a day. Messages still waiting in open conversations are not decided yet."""
    msgs = session.execute(
        sa.select(
            m.Message.conversation_id,
            m.Message.direction,
            m.Message.is_automatic,
            m.Message.delivery,
            m.Message.created_at,
            m.Message.text,
            m.Conversation.status,
        )
        .join(m.Conversation, m.Conversation.id == m.Message.conversation_id)
        .where(m.Message.workspace_id == workspace_id)
        .order_by(m.Message.conversation_id, m.Message.created_at)
    ).all()
    last_reply: dict[int, datetime] = {}
    for row in msgs:
        if row.direction == "out" and not row.is_automatic and row.delivery in (None, "sent"):
            last_reply[row.conversation_id] = row.created_at
    out: list[tuple[str, datetime, int]] = []
    for row in msgs:
        if row.direction != "in":
            continue
        replied = last_reply.get(row.conversation_id)
        if replied is not None and replied > row.created_at:
            out.append((row.text, row.created_at, 1))
        elif row.status == "resolved" or now - row.created_at > UNANSWERED_AFTER:
            out.append((row.text, row.created_at, 0))
    return out


def adapt_workspace(rt: Runtime, triager: ModelTriager, workspace_id: int) -> dict[str, Any] | None:
    """Fit and store the workspace's needs-reply adjustment; None when it has too few decisions (or only
    one kind). The stored metrics are the time-split gain, measured before fitting on everything."""
    now = rt.clock.now()
    with rt.db.read() as session:
        decided = team_decisions(session, workspace_id, now)
    labels = [d[2] for d in decided]
    if len(decided) < MIN_DECISIONS or len(set(labels)) < 2:
        return None
    texts, times = [d[0] for d in decided], [d[1] for d in decided]
    early_labels = [labels[i] for i in sorted(range(len(times)), key=lambda i: times[i])[: len(times) // 2]]
    metrics: dict[str, Any] = {"decisions": len(decided), "replied": sum(labels)}
    if len(set(early_labels)) == 2:
        metrics["time_split"] = time_split_gain(triager, texts, times, labels)
    adjustment = fit(triager, texts, labels)
    with rt.db.write() as session:
        row = session.scalar(
            sa.select(m.TriageAdjustment).where(
                m.TriageAdjustment.workspace_id == workspace_id, m.TriageAdjustment.head == adjustment.head
            )
        )
        if row is None:
            row = m.TriageAdjustment(workspace_id=workspace_id, head=adjustment.head)
            session.add(row)
        row.decisions, row.metrics, row.weights, row.fitted_at = (
            len(decided),
            metrics,
            adjustment.to_bytes(),
            now,
        )
    return metrics


def adapt_due(rt: Runtime, triager: ModelTriager, every: timedelta = timedelta(days=1)) -> int:
    """The scheduled job: refit every workspace whose adjustment is older than `every`, missing, or fitted
    on features this release no longer computes (a new `FEATURE_SPEC`)."""
    now = rt.clock.now()
    with rt.db.read() as session:
        rows = session.execute(
            sa.select(
                m.TriageAdjustment.workspace_id, m.TriageAdjustment.fitted_at, m.TriageAdjustment.weights
            ).where(m.TriageAdjustment.head == "needs_reply")
        ).all()
        fitted: dict[int, datetime] = {
            r.workspace_id: r.fitted_at
            for r in rows
            if Adjustment.from_bytes("needs_reply", r.weights).fits(triager)
        }
        workspaces = list(session.scalars(sa.select(m.Workspace.id)))
    done = 0
    for ws in workspaces:
        if ws not in fitted or now - fitted[ws] >= every:
            done += adapt_workspace(rt, triager, ws) is not None
    return done


def load_adjustments(session: Session, workspace_ids: set[int]) -> dict[int, tuple[datetime, bytes]]:
    rows = session.execute(
        sa.select(
            m.TriageAdjustment.workspace_id, m.TriageAdjustment.fitted_at, m.TriageAdjustment.weights
        ).where(m.TriageAdjustment.workspace_id.in_(workspace_ids), m.TriageAdjustment.head == "needs_reply")
    ).all()
    return {r.workspace_id: (r.fitted_at, r.weights) for r in rows}
