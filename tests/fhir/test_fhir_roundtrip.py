"""UCI rows -> demo FHIR -> ingest -> cohort reproduces every feature value and label of every row
that k-anonymity does not suppress (after the documented generalizations)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from consortium.anonymize.pseudonym import patient_basis, pseudonym
from consortium.anonymize.safe_harbor import band_age
from consortium.datasets.heart import (
    CP_CODES,
    DEMO_TABLE_KEY,
    RESTECG_CODES,
    demo_mrn,
    heart_cohort_table,
    load_heart,
)
from consortium.fhir.ingest import IngestReport, ingest

SITES = ("cleveland", "hungary", "switzerland", "va")
EXPECTED_ZIP3 = {"cleveland": "441", "va": "908", "hungary": "000", "switzerland": "000"}


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _same(a: object, b: object) -> bool:
    return (_missing(a) and _missing(b)) or a == b


@pytest.mark.parametrize("site", SITES)
def test_every_surviving_row_reproduces_the_uci_row(
    site: str, demo_ingested: dict[str, tuple[Path, IngestReport]]
) -> None:
    out, report = demo_ingested[site]
    cohort = pd.read_parquet(out / "cohort.parquet")
    rows = load_heart()
    rows = rows[rows["site"] == site]
    by_pid = {
        pseudonym(DEMO_TABLE_KEY, site, patient_basis([demo_mrn(site, int(i))], None)): row
        for i, row in zip(rows["id"], rows.to_dict("records"), strict=True)
    }
    assert report.read == report.accepted + report.quarantined and report.quarantined == 0
    assert len(cohort) + report.suppressed == len(rows) and report.rows == len(cohort)
    assert report.suppressed < len(rows) // 5  # most rows survive k=5 (docs/ingest.md)
    for record in cohort.to_dict("records"):
        uci = by_pid[record["pid"]]
        assert record["age"] == band_age(int(uci["age"])) and record["sex"] == uci["sex"].lower()
        assert record["zip3"] == EXPECTED_ZIP3[site]
        assert record["label"] == int(uci["num"] > 0)
        for name in ("trestbps", "chol", "fbs", "thalch", "exang", "oldpeak"):
            assert _same(record[name], uci[name]), (name, record[name], uci[name])
        assert _same(record["cp"], CP_CODES.get(uci["cp"]))
        assert _same(record["restecg"], RESTECG_CODES.get(uci["restecg"]))


def test_suppressed_rows_are_exactly_the_small_groups(
    demo_ingested: dict[str, tuple[Path, IngestReport]],
) -> None:
    out, report = demo_ingested["switzerland"]
    cohort = pd.read_parquet(out / "cohort.parquet")
    everyone = heart_cohort_table("switzerland", k=1)
    sizes = everyone.groupby(["age_band", "sex", "zip3"]).size()
    assert report.suppressed == int(sizes[sizes < 5].sum()) > 0
    assert cohort.groupby(["age_band", "sex", "zip3"]).size().min() >= 5


def test_ingest_output_equals_heart_cohort_table(
    demo_ingested: dict[str, tuple[Path, IngestReport]],
) -> None:
    for site in SITES:
        out, _ = demo_ingested[site]
        pd.testing.assert_frame_equal(
            pd.read_parquet(out / "cohort.parquet"), heart_cohort_table(site)
        )


def test_a_transaction_bundle_gives_the_same_cohort(
    demo_dir: Path, demo_key: Path, tmp_path: Path
) -> None:
    report = ingest([demo_dir / "bundles" / "va.json"], "va", "heart", tmp_path, key_path=demo_key)
    assert report.by_type["Bundle"].accepted == 1 and report.unlinked_patients == 0
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "cohort.parquet"), heart_cohort_table("va")
    )
