"""Small linear heads over the shared features, stored without code: int8 weights with a scale per class,
float32 biases, in `.npz` files read with `allow_pickle=False`, and their card in JSON beside them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp


@dataclass
class LinearHead:
    name: str
    classes: list[str]
    weights: np.ndarray  # int8, (n_inputs, n_outputs); n_outputs is 1 for a binary head
    scale: np.ndarray  # float32, (n_outputs,)
    bias: np.ndarray  # float32, (n_outputs,)
    card: dict[str, Any] = field(default_factory=dict)
    _float: np.ndarray | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_float(
        cls, name: str, classes: list[str], coef: np.ndarray, intercept: np.ndarray, card: dict[str, Any]
    ) -> LinearHead:
        """coef as scikit-learn gives it: (n_outputs, n_inputs)."""
        w = np.asarray(coef, dtype=np.float64).T
        scale = np.maximum(np.abs(w).max(axis=0), 1e-12) / 127.0
        q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
        return cls(name, classes, q, scale.astype(np.float32), np.asarray(intercept, dtype=np.float32), card)

    @property
    def n_inputs(self) -> int:
        return int(self.weights.shape[0])

    def logits(self, x: sp.csr_matrix) -> np.ndarray:
        if x.shape[1] != self.n_inputs:
            x = x[:, : self.n_inputs]
        if self._float is None:  # dequantised once: int8 on disk, float32 for the sparse product
            self._float = self.weights.astype(np.float32) * self.scale
        return np.asarray(x @ self._float) + self.bias  # type: ignore[no-any-return]

    def proba(self, x: sp.csr_matrix) -> np.ndarray:
        """Rows of class probabilities, columns in `classes` order."""
        z = self.logits(x)
        if z.shape[1] == 1:
            p1 = 1.0 / (1.0 + np.exp(-z[:, 0]))
            return np.stack([1.0 - p1, p1], axis=1)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)  # type: ignore[no-any-return]

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            folder / f"{self.name}.npz", weights=self.weights, scale=self.scale, bias=self.bias
        )
        meta = {"name": self.name, "classes": self.classes, "card": self.card}
        (folder / f"{self.name}.json").write_text(
            json.dumps(meta, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8"
        )

    @classmethod
    def load(cls, folder: Path, name: str) -> LinearHead:
        meta = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
        with np.load(folder / f"{name}.npz", allow_pickle=False) as z:
            head = cls(name, list(meta["classes"]), z["weights"], z["scale"], z["bias"], meta["card"])
        if head.weights.dtype != np.int8 or head.weights.shape[1] != head.bias.shape[0]:
            raise ValueError(f"model file {name}.npz is not a caredesk linear head")
        return head
