"""Each fix of the UCI CSV is pinned against the raw file, and the cohort table is checked."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd
import pytest

from consortium.anonymize.pseudonym import patient_basis, pseudonym
from consortium.anonymize.safe_harbor import band_age
from consortium.datasets.heart import (
    DEMO_TABLE_KEY,
    demo_mrn,
    heart_cohort_table,
    load_heart,
)
from consortium.fhir.cohort import load_cohort, table_columns


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    with resources.files("consortium.datasets").joinpath("data/heart_disease_uci.csv").open() as f:
        return pd.read_csv(f)


def test_row_304_is_hungarian(raw: pd.DataFrame) -> None:
    assert raw.loc[raw["id"] == 304, "dataset"].item() == "Cleveland"  # the defect is in the file
    data = load_heart()
    assert data.loc[data["id"] == 304, "site"].item() == "hungary"
    counts = data["site"].value_counts().to_dict()
    assert counts == {"cleveland": 303, "hungary": 294, "switzerland": 123, "va": 200}
    # Hungary's block is contiguous after the fix: ids 304..597.
    assert data.loc[data["site"] == "hungary", "id"].agg(["min", "max"]).tolist() == [304, 597]


def test_zero_cholesterol_is_missing(raw: pd.DataFrame) -> None:
    zeros = int((raw["chol"] == 0).sum())
    assert zeros > 100
    data = load_heart()
    assert not (data["chol"] == 0).any()
    assert int(data["chol"].isna().sum()) == zeros + int(raw["chol"].isna().sum())


def test_zero_resting_blood_pressure_is_missing(raw: pd.DataFrame) -> None:
    assert int((raw["trestbps"] == 0).sum()) == 1
    data = load_heart()
    assert not (data["trestbps"] == 0).any()
    assert data["trestbps"].dropna().min() >= 80


def test_sparse_columns_stay_out_of_the_shared_features() -> None:
    data = load_heart()
    outside = data[data["site"] != "cleveland"]
    names = {f.name for f in load_cohort("heart").features}
    for column in ("ca", "thal", "slope"):
        assert outside[column].isna().mean() > 0.3
        assert column not in names


def test_label_is_num_above_zero() -> None:
    data = load_heart()
    assert ((data["num"] > 0).astype(int) == data["label"]).all()
    rates = data.groupby("site")["label"].mean()
    assert rates["switzerland"] > 0.9 and rates["hungary"] < 0.4


def test_cohort_table_format_and_k_anonymity() -> None:
    table = heart_cohort_table()
    assert list(table.columns) == table_columns(load_cohort("heart"))
    assert str(table["age"].dtype) == "Int64" and table["label"].dtype == np.int64
    for column in ("trestbps", "chol", "fbs", "thalch", "exang", "oldpeak"):
        assert table[column].dtype == np.float64
    assert set(table["fbs"].dropna()) <= {0.0, 1.0}
    assert set(table["cp"].dropna()) <= set(load_cohort("heart").feature("cp").category_codes)
    assert table["zip3"].str.fullmatch(r"\d{3}").all()
    groups = table.groupby(["site", "age_band", "sex", "zip3"]).size()
    assert groups.min() >= 5
    assert len(heart_cohort_table(k=1)) == 920
    assert 800 < len(table) < 920


def test_cohort_table_values_come_from_the_fixed_rows() -> None:
    data = load_heart().set_index("id")
    table = heart_cohort_table("hungary", k=1).set_index("pid")
    for uci_id in (304, 305, 400, 597):
        basis = patient_basis([demo_mrn("hungary", uci_id)], None)
        row = table.loc[pseudonym(DEMO_TABLE_KEY, "hungary", basis)]
        assert row["age"] == band_age(int(data.loc[uci_id, "age"]))
        assert row["label"] == data.loc[uci_id, "label"]
        assert row["chol"] == data.loc[uci_id, "chol"] or (
            np.isnan(row["chol"]) and np.isnan(data.loc[uci_id, "chol"])
        )


def test_unknown_site_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown site 'boston'"):
        heart_cohort_table("boston")
