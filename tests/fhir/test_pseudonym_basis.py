"""What a patient's pseudonym is computed from, through ingest: not the order of its identifiers in
the export, and never one basis shared by two patients without ids."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from consortium.anonymize.pseudonym import load_or_create_key
from consortium.fhir.ingest import ingest

MR = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}


def _sbp(subject: str, oid: str) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
            "subject": {"reference": subject}, "effectiveDateTime": "2020-06-01",
            "valueQuantity": {"value": 120, "unit": "mm[Hg]", "code": "mm[Hg]",
                              "system": "http://unitsofmeasure.org"}}  # fmt: skip


def _pids(tmp: Path, name: str, resources: list[dict[str, Any]], key: Path) -> list[str]:
    source = tmp / name / "in"
    source.mkdir(parents=True)
    (source / "data.ndjson").write_text("\n".join(json.dumps(r) for r in resources) + "\n")
    ingest([source], "s1", "heart", tmp / name / "out", 1, key_path=key)
    return list(pd.read_parquet(tmp / name / "out" / "cohort.parquet")["pid"])


def test_the_pseudonym_does_not_depend_on_the_order_of_identifiers(tmp_path: Path) -> None:
    key = tmp_path / "pseudonym.key"
    load_or_create_key(key)
    ids = [{"system": "urn:insurer", "value": "A-1"},
           {"system": "urn:mrn", "value": "9", "type": MR},
           {"system": "urn:other", "value": "0"}]  # fmt: skip
    runs = []
    for n, order in enumerate([ids, ids[::-1], ids[1:] + ids[:1]]):
        patient = {"resourceType": "Patient", "id": "p", "gender": "female",
                   "birthDate": "1960-01-01", "identifier": order}  # fmt: skip
        runs.append(_pids(tmp_path, f"run{n}", [patient, _sbp("Patient/p", "o")], key))
    assert runs[0] == runs[1] == runs[2] and len(runs[0]) == 1
    # the medical record number is the basis, whatever else sorts before it
    mrn_only = {"resourceType": "Patient", "id": "q", "gender": "female", "birthDate": "1960-01-01",
                "identifier": [ids[1]]}  # fmt: skip
    assert _pids(tmp_path, "mrn", [mrn_only, _sbp("Patient/q", "o")], key) == runs[0]


def test_two_patients_without_id_or_identifier_stay_two_rows(tmp_path: Path) -> None:
    entries: list[dict[str, Any]] = []
    for i, (birth, sex) in enumerate([("1950-01-01", "male"), ("1990-01-01", "female")]):
        url = f"urn:uuid:{i:08d}-0000-4000-8000-000000000000"
        patient = {"resourceType": "Patient", "birthDate": birth, "gender": sex}
        entries.append({"fullUrl": url, "resource": patient})
        entries.append({"fullUrl": f"urn:uuid:{i:08d}-1111-4000-8000-000000000000",
                        "resource": _sbp(url, f"o{i}")})  # fmt: skip
    source = tmp_path / "in"
    source.mkdir()
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    (source / "bundle.json").write_text(json.dumps(bundle))
    report = ingest([source], "s1", "heart", tmp_path / "out", 1)
    table = pd.read_parquet(tmp_path / "out" / "cohort.parquet")
    assert report.rows == 2 and table["pid"].nunique() == 2
    assert sorted(table["sex"]) == ["female", "male"]


def test_identifiers_that_concatenate_alike_are_two_people(tmp_path: Path) -> None:
    a = {"resourceType": "Patient", "id": "a", "gender": "female", "birthDate": "1950-01-01",
         "identifier": [{"system": "urn:x|1", "value": "2"}]}  # fmt: skip
    b = {"resourceType": "Patient", "id": "b", "gender": "male", "birthDate": "1970-01-01",
         "identifier": [{"system": "urn:x", "value": "1|2"}]}  # fmt: skip
    source = tmp_path / "in"
    source.mkdir()
    (source / "data.ndjson").write_text(f"{json.dumps(a)}\n{json.dumps(b)}\n")
    report = ingest([source], "s1", "heart", tmp_path / "out", 1)
    table = pd.read_parquet(tmp_path / "out" / "cohort.parquet")
    assert report.patients == report.rows == 2 and table["pid"].nunique() == 2
    assert sorted(table["sex"]) == ["female", "male"]
