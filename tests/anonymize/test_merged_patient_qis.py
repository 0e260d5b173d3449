"""Two Patients with the same medical record number are one row, and that row's quasi-identifiers
come from one of them: k-anonymity is checked on `age_band`, so the released `age` must be the
band's (an age taken from the second Patient next to the first one's band "unknown" made one
woman unique by age inside a group of five)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from consortium.anonymize.safe_harbor import age_band
from consortium.fhir.ingest import ingest


def _patient(rid: str, mrn: str, birth: str | None) -> dict[str, Any]:
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": rid,
        "gender": "female",
        "identifier": [{"system": "urn:mrn", "value": mrn}],
        "address": [{"use": "home", "postalCode": "44106", "country": "US"}],
    }
    if birth is not None:
        patient["birthDate"] = birth
    return patient


def _sbp(subject: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
        "subject": {"reference": subject},
        "effectiveDateTime": "2020-06-01",
        "valueQuantity": {"value": 120, "system": "http://unitsofmeasure.org", "code": "mm[Hg]"},
    }


def test_a_merged_row_releases_no_age_finer_than_its_band(tmp_path: Path) -> None:
    # Arrange: five women without a birth date; the first is given again (same MRN, another
    # Patient id) with the birth date of an 89-year-old
    resources = [_patient(f"p{i}", f"M{i}", None) for i in range(5)]
    resources += [_patient("p0-again", "M0", "1931-01-01"), _sbp("Patient/p0-again")]
    source = tmp_path / "in"
    source.mkdir()
    (source / "data.ndjson").write_text("\n".join(json.dumps(r) for r in resources) + "\n")

    # Act
    report = ingest([source], "s1", "heart", tmp_path / "out", k=5)

    # Assert: one row per person, each row's age inside its band, k-anonymous on every QI column
    table = pd.read_parquet(tmp_path / "out" / "cohort.parquet")
    assert report.rows == len(table) == 5
    for age, band in zip(table["age"], table["age_band"], strict=True):
        assert band == age_band(None if pd.isna(age) else int(age))
    assert table.groupby(["age", "sex", "zip3"], dropna=False).size().min() >= 5
