"""Comparing two models on the same held-out rows: is a difference in AUROC more than noise?

A hospital's held-out rows are few (21 to 57 in the UCI heart demo, Switzerland with one
negative), so the difference between two models' AUROCs there moves by hundreds of basis points
with a patient or two. `auroc_difference` gives it with a 95 % paired, stratified bootstrap
interval (Efron & Tibshirani, "An Introduction to the Bootstrap", 1993, ch. 13 for percentile
intervals; resampling within each class as is usual for AUROC, so every resample has one): both
models are scored on the same resampled patients, so what they rank alike cancels out.
No torch here: the demo calls it on the probabilities it already computed.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel
from sklearn.metrics import roc_auc_score

__all__ = ["AUROC_TIE", "AurocDifference", "auroc_difference", "beats"]

AUROC_TIE = 1e-9
"""Two AUROCs closer than this are equal: an AUROC is a count of ordered pairs over a count of
pairs, so two models that rank the same pairs alike get the same fraction, computed in floats
that may differ in the last bit (seen in a demo: 0.7088122605363986 and …985). A real difference
on the demo's held-out sets is at least one pair in 810 (12 bp)."""


def beats(a: float | None, b: float | None) -> bool:
    """Whether AUROC ``a`` is above ``b`` by more than float error (None: undefined, never)."""
    return a is not None and b is not None and a - b > AUROC_TIE


class AurocDifference(BaseModel):
    """AUROC of model a minus model b on the same rows, with a paired bootstrap interval."""

    difference: float
    low: float  # 2.5th percentile of the resampled differences
    high: float  # 97.5th percentile
    resamples: int

    def summary(self) -> str:
        """E.g. ``+0.019 [-0.031, +0.072]``."""
        return f"{self.difference:+.3f} [{self.low:+.3f}, {self.high:+.3f}]"


def _aurocs(y: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """AUROC of each row of ``scores`` (resamples × rows) against the 0/1 labels ``y`` (the
    Mann-Whitney U statistic over n_pos·n_neg; tied scores count one half, as in sklearn)."""
    from scipy.stats import rankdata

    ranks = rankdata(scores, axis=1)  # average ranks: ties count one half
    pos = y == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    u = ranks[:, pos].sum(axis=1) - n_pos * (n_pos + 1) / 2
    return np.asarray(u / (n_pos * n_neg), dtype=np.float64)


def auroc_difference(
    y: np.ndarray,
    p_a: np.ndarray,
    p_b: np.ndarray,
    resamples: int = 2000,
    seed: int = 0,
    min_class_rows: int = 2,
) -> AurocDifference | None:
    """AUROC(a) − AUROC(b) on rows ``y`` with a 95 % paired, stratified bootstrap interval.

    Each resample draws the positives and the negatives with replacement, separately, and scores
    both models on the same draw. None when a class has fewer than ``min_class_rows`` rows: a
    class of one row is the same patient in every resample, so the interval would leave out the
    largest part of the uncertainty (at least 2; the demo asks for the verifiers' 8). The seed is
    fixed so that the same rows and models always print the same interval.
    """
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    p_a = np.asarray(p_a, dtype=np.float64).reshape(-1)
    p_b = np.asarray(p_b, dtype=np.float64).reshape(-1)
    if min_class_rows < 2:
        raise ValueError("min_class_rows must be at least 2: one row of a class never varies")
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    if min(len(pos), len(neg)) < min_class_rows:
        return None
    rng = np.random.default_rng(seed)
    rows = np.concatenate(
        [
            rng.choice(pos, size=(resamples, len(pos))),
            rng.choice(neg, size=(resamples, len(neg))),
        ],
        axis=1,
    )
    labels = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    diffs = _aurocs(labels, p_a[rows]) - _aurocs(labels, p_b[rows])
    low, high = np.percentile(diffs, [2.5, 97.5])
    difference = float(roc_auc_score(y, p_a) - roc_auc_score(y, p_b))
    return AurocDifference(
        difference=difference, low=float(low), high=float(high), resamples=resamples
    )
