"""k-anonymity holds on every quasi-identifier the cohort table releases, `age` included: five
women aged 85 to 89 in ZIP3 441 form one (85-89, female, 441) group of 5, and with exact ages each
of them would be unique on (age, sex, zip3)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from consortium.fhir.ingest import ingest


def _resources() -> list[dict]:
    out: list[dict] = []
    for i, year in enumerate(range(1931, 1936)):
        out.append(
            {
                "resourceType": "Patient",
                "id": f"p{i}",
                "gender": "female",
                "birthDate": f"{year}-01-01",
                "identifier": [{"system": "urn:mrn", "value": f"M{i}"}],
                "address": [{"use": "home", "postalCode": "44106", "country": "US"}],
            }
        )
        out.append(
            {
                "resourceType": "Observation",
                "id": f"o{i}",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                "subject": {"reference": f"Patient/p{i}"},
                "effectiveDateTime": "2020-06-01",
                "valueQuantity": {
                    "value": 120,
                    "unit": "mm[Hg]",
                    "system": "http://unitsofmeasure.org",
                    "code": "mm[Hg]",
                },
            }
        )
    return out


def test_released_age_is_k_anonymous(tmp_path: Path) -> None:
    source = tmp_path / "in"
    source.mkdir()
    (source / "data.ndjson").write_text("\n".join(json.dumps(r) for r in _resources()) + "\n")
    report = ingest([source], "s1", "heart", tmp_path / "out", k=5)
    table = pd.read_parquet(tmp_path / "out" / "cohort.parquet")
    assert report.rows == len(table) == 5 and report.suppressed == 0
    assert table.groupby(["age", "sex", "zip3"]).size().min() >= 5
    assert set(table["age"]) == {87}  # the middle of 85-89
