"""Held-out mean log loss (binary cross-entropy) of a model: the verifier's continuous signal.

AUROC moves in steps of one pair of rows on a held-out split of 20–60 rows, and near convergence
an update changes it by less than one step; the mean log loss changes continuously with the
weights, so ``L(θ+Δ) − L(θ−Δ) ≈ 2·∇L·Δ`` (the curvature terms cancel) measures whether Δ descends
on the verifier's rows even when the update is small (docs/decisions/0007-bafl.md).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["log_loss"]


def log_loss(model: nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    """Mean binary cross-entropy (nats) of ``model``'s logits on rows ``X``, 0/1 labels ``y``."""
    model.eval()
    with torch.no_grad():
        logits = model(torch.as_tensor(X, dtype=torch.float32)).reshape(-1).double()
        target = torch.as_tensor(np.asarray(y, dtype=np.float64).reshape(-1))
        loss = nn.functional.binary_cross_entropy_with_logits(logits, target)
    return float(loss)
