"""Design matrix encoding and the deterministic held-out split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from consortium.datasets.heart import heart_cohort_table
from consortium.learning.data import (
    CohortDefinition,
    design_matrix,
    folds_of,
    holdout_split,
    load_definition,
    train_test,
)

DEFINITION = CohortDefinition.model_validate(
    {
        "features": [
            {"name": "age", "kind": "numeric", "normalize": {"center": "50", "scale": "10"}},
            {"name": "fbs", "kind": "binary"},
            {"name": "cp", "kind": "categorical", "categories": [{"code": "a"}, {"code": "b"}]},
        ]
    }
)


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "pid": ["p1", "p2", "p3", "p4"],
            "site": ["s"] * 4,
            "age": pd.array([60, None, 45, 50], dtype="Int64"),
            "fbs": [1.0, 0.0, np.nan, 1.0],
            "cp": ["a", "b", None, "zzz"],
            "label": [1, 0, 1, 0],
        }
    )


def test_encoding_of_each_kind() -> None:
    m = design_matrix(_table(), DEFINITION)
    assert m.columns == ["age", "fbs", "cp=a", "cp=b"]
    expected = [[1.0, 1, 1, 0], [0.0, 0, 0, 1], [-0.5, 0, 0, 0], [0.0, 1, 0, 0]]
    assert np.allclose(m.X, expected)
    assert m.y.tolist() == [1.0, 0.0, 1.0, 0.0]


def test_missing_indicators_are_optional_columns() -> None:
    m = design_matrix(_table(), DEFINITION, missing_indicators=True)
    assert m.columns == ["age", "age:missing", "fbs", "fbs:missing", "cp=a", "cp=b"]
    assert m.X[:, 1].tolist() == [0, 1, 0, 0]
    assert m.X[:, 3].tolist() == [0, 0, 1, 0]


def test_a_table_without_a_feature_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="fbs"):
        design_matrix(_table().drop(columns=["fbs"]), DEFINITION)


def test_heart_split_is_disjoint_stratified_and_stable_under_row_order() -> None:
    table = heart_cohort_table()
    split = holdout_split(table)
    assert not (split.train & split.test).any()
    assert (split.train | split.test).all()
    for (_site, _label), rows in table.groupby(["site", "label"]):
        share = split.test[rows.index].mean()
        assert abs(share - 0.2) <= 0.5 / len(rows) + 1e-9
    shuffled = table.sample(frac=1.0, random_state=0)
    again = holdout_split(shuffled)
    held_out = set(table["pid"][split.test])
    assert set(shuffled["pid"][again.test]) == held_out


def test_the_five_folds_of_a_fifth_hold_out_every_row_once_and_fold_0_is_the_default() -> None:
    table = heart_cohort_table()
    assert folds_of(2000) == 5
    masks = [holdout_split(table, fold=f).test for f in range(5)]
    assert (np.sum(masks, axis=0) == 1).all()
    assert (masks[0] == holdout_split(table).test).all()
    for mask in masks:  # each fold stratified like the default split
        for _key, rows in table.groupby(["site", "label"]):
            assert abs(mask[rows.index].mean() - 0.2) <= 1.0 / len(rows) + 1e-9


@pytest.mark.parametrize(("bp", "fold"), [(2000, 5), (2000, -1), (3000, 4)])
def test_a_fold_past_the_last_is_refused_with_the_range(bp: int, fold: int) -> None:
    with pytest.raises(ValueError, match=f"folds run from 0 to {folds_of(bp) - 1}"):
        holdout_split(heart_cohort_table("cleveland"), test_fraction_bp=bp, fold=fold)


def test_train_test_on_heart_builds_matching_matrices() -> None:
    train, test = train_test(heart_cohort_table("cleveland"), load_definition("heart"))
    assert train.X.shape[1] == test.X.shape[1] == len(train.columns)
    assert not set(train.pids) & set(test.pids)
    assert np.isfinite(train.X).all()


@pytest.mark.parametrize("value", [float("inf"), 1e40])  # (1e40 - 50) / 10: not in float32
def test_a_value_the_model_cannot_hold_is_refused_by_feature(value: float) -> None:
    table = _table()
    table["age"] = [60.0, value, 45.0, 50.0]
    with pytest.raises(ValueError, match=r"age.*1 row"):
        design_matrix(table, DEFINITION)
