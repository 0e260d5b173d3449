"""A quarantined resource feeds nothing: an Observation whose second component the cohort cannot
use (cholesterol in g/L) is quarantined whole, and its first component's blood pressure and its
date (which would set the patient's index date, hence the age) are not used either."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from consortium.fhir.ingest import ingest

UCUM = "http://unitsofmeasure.org"


def _component(code: str, value: int, unit: str) -> dict[str, Any]:
    return {
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "valueQuantity": {"value": value, "system": UCUM, "code": unit},
    }


def test_a_quarantined_observation_feeds_no_column(tmp_path: Path) -> None:
    patient = {
        "resourceType": "Patient",
        "id": "p",
        "gender": "female",
        "birthDate": "1950-01-01",
        "identifier": [{"system": "urn:mrn", "value": "1"}],
    }
    panel = {
        "resourceType": "Observation",
        "id": "o",
        "status": "final",
        "code": {"text": "panel"},
        "subject": {"reference": "Patient/p"},
        "effectiveDateTime": "2000-06-01",
        "component": [_component("8480-6", 120, "mm[Hg]"), _component("2093-3", 2, "g/L")],
    }
    source = tmp_path / "in"
    source.mkdir()
    (source / "data.ndjson").write_text(f"{json.dumps(patient)}\n{json.dumps(panel)}\n")

    report = ingest([source], "s1", "heart", tmp_path / "out", k=1)

    table = pd.read_parquet(tmp_path / "out" / "cohort.parquet")
    assert report.quarantined == 1 and report.used == 0
    assert table["trestbps"].isna().all()
