"""The paired bootstrap of an AUROC difference: exact on the whole sample, honest about noise."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from consortium.learning.compare import _aurocs, auroc_difference, beats


def _rows(n_pos: int, n_neg: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.concatenate([np.ones(n_pos), np.zeros(n_neg)])
    return y, rng.normal(size=n_pos + n_neg)


def test_the_difference_is_the_two_aurocs_and_the_interval_holds_it() -> None:
    y, noise = _rows(30, 27)
    good, weak = y + noise, 0.3 * y + noise
    d = auroc_difference(y, good, weak)
    assert d is not None
    assert d.difference == roc_auc_score(y, good) - roc_auc_score(y, weak)
    assert d.low <= d.difference <= d.high and d.resamples == 2000


def test_the_same_model_twice_differs_by_exactly_nothing() -> None:
    y, noise = _rows(20, 20)
    d = auroc_difference(y, noise, noise.copy())
    assert d is not None and (d.difference, d.low, d.high) == (0.0, 0.0, 0.0)


def test_a_clear_difference_on_many_rows_excludes_zero_and_a_faint_one_on_few_does_not() -> None:
    y, noise = _rows(300, 300, seed=1)
    clear = auroc_difference(y, 2 * y + noise, noise)  # ~0.92 vs ~0.5
    assert clear is not None and clear.low > 0.3
    y, noise = _rows(10, 10, seed=2)
    other = np.random.default_rng(3).normal(size=20)
    faint = auroc_difference(y, 0.2 * y + noise, 0.2 * y + other)
    assert faint is not None and faint.low < 0 < faint.high


def test_too_few_rows_of_a_class_give_no_interval() -> None:
    # Switzerland in the demo: 1 negative of 21 held-out rows, the same patient in every resample
    y = np.concatenate([np.ones(20), np.zeros(1)])
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=21), rng.normal(size=21)
    assert auroc_difference(y, a, b) is None
    assert auroc_difference(np.ones(5), np.arange(5.0), np.arange(5.0)) is None
    y9 = np.concatenate([np.ones(12), np.zeros(9)])  # VA's 9 negatives: enough for 8, not 10
    assert auroc_difference(y9, a, b, min_class_rows=8) is not None
    assert auroc_difference(y9, a, b, min_class_rows=10) is None
    with pytest.raises(ValueError, match="at least 2"):
        auroc_difference(y9, a, b, min_class_rows=1)


def test_each_resample_is_scored_as_sklearn_scores_it_ties_included() -> None:
    y = np.array([1, 1, 0, 0, 1, 0])
    p = np.array([0.5, 0.5, 0.5, 0.2, 0.9, 0.5])  # ties across classes count one half
    q = np.array([0.1, 0.5, 0.5, 0.5, 0.5, 0.5])
    rows = np.random.default_rng(5).random((8, 6))
    scores = np.concatenate([np.stack([p, q]), rows])
    expected = [roc_auc_score(y, s) for s in scores]
    assert np.allclose(_aurocs(y, scores), expected, rtol=0, atol=1e-12)


def test_the_interval_is_repeatable() -> None:
    y, noise = _rows(15, 12)
    assert auroc_difference(y, y + noise, noise) == auroc_difference(y, y + noise, noise)


def test_aurocs_equal_but_for_the_last_bit_are_a_tie() -> None:
    # from a demo run: the same ranking of VA's 38 held-out rows, two floats
    a, b = 0.7088122605363986, 0.7088122605363985
    assert not beats(a, b) and not beats(b, a)
    assert beats(0.7088 + 1 / 810, 0.7088) and not beats(None, 0.5) and not beats(0.5, None)
