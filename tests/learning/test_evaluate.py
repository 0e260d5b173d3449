"""Held-out metrics and what they stand on."""

from __future__ import annotations

import numpy as np
import pytest

from consortium.learning.evaluate import metrics_from_scores


def test_metrics_on_a_hand_checked_case() -> None:
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.6, 0.4, 0.9])
    m = metrics_from_scores(y, p)
    # pairs (pos, neg): (0.4,0.1) ok, (0.4,0.6) wrong, (0.9,*) ok -> 3/4
    assert m.auroc == pytest.approx(0.75)
    assert m.accuracy == pytest.approx(0.5)
    assert m.brier == pytest.approx((0.01 + 0.36 + 0.36 + 0.01) / 4)
    assert (m.n, m.positives, m.auroc_bp) == (4, 2, 7500)


def test_auroc_is_undefined_with_one_class() -> None:
    m = metrics_from_scores(np.ones(3), np.array([0.2, 0.5, 0.9]))
    assert m.auroc is None and m.auroc_bp is None
    assert "n/a" in m.summary()
