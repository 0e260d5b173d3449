"""Two Patients with the same id but different facts (another birth date, gender, postal code or
identifier), in two files or one history Bundle, cannot both be right: the later one is
quarantined, naming the fields and where the first was read. Before, it was accepted and ignored,
so an admin never learnt that one of the two versions was not used. The same Patient given twice
(overlapping exports) is accepted twice and makes one row."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from consortium.fhir.ingest import ingest

PATIENT = {
    "resourceType": "Patient",
    "id": "p1",
    "identifier": [{"system": "urn:mrn", "value": "M1"}],
    "gender": "male",
    "birthDate": "1950-01-01",
    "address": [{"postalCode": "44101", "country": "US"}],
}


def test_a_conflicting_patient_with_the_same_id_is_quarantined(tmp_path: Path) -> None:
    source = tmp_path / "in"
    source.mkdir()
    other = {**PATIENT, "gender": "female", "birthDate": "1980-01-01"}
    renamed = {**PATIENT, "name": [{"family": "Other"}]}  # a field the cohort does not read
    (source / "a.ndjson").write_text(json.dumps(PATIENT) + "\n" + json.dumps(renamed) + "\n")
    (source / "b.ndjson").write_text(json.dumps(other) + "\n")

    report = ingest([source], "s1", "heart", tmp_path / "out", k=1)

    assert (report.read, report.accepted, report.quarantined) == (3, 2, 1)
    record = json.loads(next((tmp_path / "out" / "quarantine").iterdir()).read_text())
    assert record["source"].endswith("b.ndjson") and record["raw"] == json.dumps(other)
    assert "Patient/p1" in record["error"] and "a.ndjson line 1" in record["error"]
    assert "birthDate" in record["error"] and "gender" in record["error"]
    table = pd.read_parquet(tmp_path / "out" / "cohort.parquet")
    assert list(table["sex"]) == ["male"]
