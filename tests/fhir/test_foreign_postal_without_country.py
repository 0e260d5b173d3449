"""A 5-digit postal code without a country is not a US ZIP unless the address's state is a US
state (a Berlin 10117 once became ZIP3 "101")."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from consortium.fhir.ingest import ingest


def _patient(pid: str, address: dict) -> dict:
    return {
        "resourceType": "Patient",
        "id": pid,
        "gender": "female",
        "birthDate": "1960-01-01",
        "identifier": [{"system": "urn:mrn", "value": pid}],
        "address": [address],
    }


def test_postal_code_without_country(tmp_path: Path) -> None:
    source = tmp_path / "in"
    source.mkdir()
    lines = [
        _patient("berlin", {"use": "home", "city": "Berlin", "postalCode": "10117"}),
        _patient(
            "ohio", {"use": "home", "city": "Cleveland", "state": "OH", "postalCode": "44106"}
        ),
    ]
    (source / "data.ndjson").write_text("\n".join(json.dumps(r) for r in lines) + "\n")
    ingest([source], "s1", "heart", tmp_path / "out", k=1)
    table = pd.read_parquet(tmp_path / "out" / "cohort.parquet")
    assert sorted(table["zip3"]) == ["000", "441"]
