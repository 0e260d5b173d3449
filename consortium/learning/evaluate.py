"""Evaluation on held-out rows: AUROC, accuracy and Brier score, with what they stand on.

Per-hospital test sets are small (Switzerland's 20 % holds a handful of negatives), so a metric
is always returned with the number of rows and positives behind it; AUROC is ``None`` when one
class is absent (it is undefined, not 0.5). Metrics are also given in basis points, the unit the
ledger uses (``metric_bp``), rounded half-up, so the number a verifier signs is an integer.
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import BaseModel
from sklearn.metrics import roc_auc_score
from torch import nn

__all__ = ["Metrics", "evaluate", "metrics_from_scores", "predict_proba"]


class Metrics(BaseModel):
    """Held-out metrics and the sample they stand on."""

    n: int
    positives: int
    auroc: float | None
    accuracy: float
    brier: float

    @property
    def auroc_bp(self) -> int | None:
        """AUROC in basis points (what `Endorse.metric_bp` carries), None if undefined."""
        return None if self.auroc is None else int(np.floor(self.auroc * 10000 + 0.5))

    def summary(self) -> str:
        """One human line, e.g. ``AUROC 0.871 accuracy 0.810 Brier 0.140 (n=184, 101 positive)``."""
        auroc = "n/a" if self.auroc is None else f"{self.auroc:.3f}"
        return (
            f"AUROC {auroc}  accuracy {self.accuracy:.3f}  Brier {self.brier:.3f}  "
            f"(n={self.n}, {self.positives} positive)"
        )


def predict_proba(model: nn.Module, X: np.ndarray) -> np.ndarray:
    """Probabilities of the positive class for the rows of ``X`` (eval mode, no gradients)."""
    model.eval()
    with torch.no_grad():
        logits = model(torch.as_tensor(X, dtype=torch.float32))
    return torch.sigmoid(logits).reshape(-1).numpy().astype(np.float64)


def metrics_from_scores(y: np.ndarray, p: np.ndarray) -> Metrics:
    """Metrics of probabilities ``p`` against 0/1 labels ``y`` (threshold 0.5 for accuracy)."""
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    p = np.asarray(p, dtype=np.float64).reshape(-1)
    if len(y) == 0:
        raise ValueError("no rows to evaluate on")
    positives = int(y.sum())
    auroc = None if positives in (0, len(y)) else float(roc_auc_score(y, p))
    return Metrics(
        n=len(y),
        positives=positives,
        auroc=auroc,
        accuracy=float(((p >= 0.5) == (y == 1)).mean()),
        brier=float(((p - y) ** 2).mean()),
    )


def evaluate(model: nn.Module, X: np.ndarray, y: np.ndarray) -> Metrics:
    """Evaluate ``model`` on held-out rows ``X``, ``y``."""
    return metrics_from_scores(y, predict_proba(model, X))
