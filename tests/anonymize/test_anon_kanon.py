"""k-anonymity by suppression, alone and through ingest's --k."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from consortium.anonymize.kanon import suppress_below_k
from consortium.datasets.demo import write_demo_fhir
from consortium.fhir.ingest import ingest


def test_groups_below_k_are_removed() -> None:
    table = pd.DataFrame({"band": ["a"] * 3 + ["b"] * 2 + ["c"], "sex": ["m"] * 6, "x": range(6)})
    kept, suppressed = suppress_below_k(table, ["band", "sex"], 3)
    assert suppressed == 3 and kept["x"].tolist() == [0, 1, 2]
    kept, suppressed = suppress_below_k(table, ["band", "sex"], 1)
    assert suppressed == 0 and len(kept) == 6
    with pytest.raises(ValueError, match="at least 1"):
        suppress_below_k(table, ["band"], 0)


def test_larger_k_suppresses_more(tmp_path: Path) -> None:
    folders = write_demo_fhir(tmp_path / "fhir")
    reports = {
        k: ingest([folders["switzerland"]], "sui", "heart", tmp_path / f"k{k}", k)
        for k in (1, 5, 10)
    }
    assert reports[1].suppressed == 0 and reports[1].rows == 123
    assert 0 < reports[5].suppressed < reports[10].suppressed
    for k, report in reports.items():
        cohort = pd.read_parquet(tmp_path / f"k{k}" / "cohort.parquet")
        assert len(cohort) == report.rows == 123 - report.suppressed
        assert cohort.groupby(["age_band", "sex", "zip3"]).size().min() >= k
