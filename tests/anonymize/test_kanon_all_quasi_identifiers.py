"""k-anonymity is checked on every quasi-identifier the table releases: `age_band`, `sex` and `zip3`
are columns of every cohort table, so a cohort definition cannot leave one of them out of its
`quasi_identifiers` (one listing only `sex` released unique (age band, sex, ZIP3) rows with k=5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consortium.cli._errors import UserError
from consortium.fhir.cohort import COHORTS_DIR, CohortError, load_cohort
from consortium.fhir.ingest import ingest


def _cohort(tmp_path: Path, quasi_identifiers: list[str]) -> Path:
    definition = json.loads((COHORTS_DIR / "heart.json").read_text(encoding="utf-8"))
    definition["quasi_identifiers"] = quasi_identifiers
    path = tmp_path / f"heart-{len(quasi_identifiers)}.json"
    path.write_text(json.dumps(definition), encoding="utf-8")
    return path


def _women(tmp_path: Path) -> Path:
    source = tmp_path / "in"
    source.mkdir()
    patients = [
        {"resourceType": "Patient", "id": f"p{i}", "gender": "female",
         "birthDate": f"{1940 + 10 * i}-01-01",
         "identifier": [{"system": "urn:mrn", "value": f"M{i}"}],
         "address": [{"postalCode": f"{zip3}01", "country": "US"}]}
        for i, zip3 in enumerate(["441", "908", "100", "606", "941"])
    ]  # fmt: skip
    (source / "data.ndjson").write_text("\n".join(json.dumps(p) for p in patients) + "\n")
    return source


@pytest.mark.parametrize("quasi_identifiers", [["sex"], ["age_band", "zip3"]])
def test_a_cohort_that_leaves_out_a_released_quasi_identifier_is_refused(
    tmp_path: Path, quasi_identifiers: list[str]
) -> None:
    cohort = _cohort(tmp_path, quasi_identifiers)
    with pytest.raises(CohortError, match="quasi_identifiers must list age_band, sex and zip3"):
        load_cohort(cohort)
    with pytest.raises(UserError, match="quasi_identifiers"):
        ingest([_women(tmp_path)], "s1", cohort, tmp_path / "out", k=5)
    assert not (tmp_path / "out" / "cohort.parquet").exists()


def test_the_heart_cohort_checks_all_three(tmp_path: Path) -> None:
    cohort = load_cohort(_cohort(tmp_path, ["zip3", "sex", "age_band"]))
    assert sorted(cohort.quasi_identifiers) == ["age_band", "sex", "zip3"]
    report = ingest([_women(tmp_path)], "s1", "heart", tmp_path / "out", k=5)
    assert report.suppressed == 5 and report.rows == 0
