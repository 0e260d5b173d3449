"""Injected defects: each bad resource is quarantined verbatim with a precise reason, nothing is
lost (read == accepted + quarantined), and good resources around it still make the cohort."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from consortium.fhir.ingest import IngestReport, ingest

LOINC, UCUM = "http://loinc.org", "http://unitsofmeasure.org"
UCI = "https://consortium.dev/fhir/CodeSystem/uci-heart"


def _obs(code: tuple[str, str], patient: str, **value: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": code[0], "code": code[1]}]},
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": "1995-05-01",
        **value,
    }


def _chol(patient: str, value: float, unit: str) -> dict[str, Any]:
    quantity = {"value": value, "unit": unit, "system": UCUM, "code": unit}
    return _obs((LOINC, "2093-3"), patient, valueQuantity=quantity)


PATIENT = {
    "resourceType": "Patient",
    "id": "p1",
    "identifier": [{"system": "urn:mrn", "value": "MRN-1"}],
    "gender": "female",
    "birthDate": "1900-03-01",
    "address": [{"line": ["1 Main St"], "postalCode": "03601", "country": "US"}],
}

# position (line number) -> (text, expected fragment of the reason, or None when accepted)
CASES: list[tuple[str, str | None]] = [
    (json.dumps(PATIENT), None),
    ("{not json", "not valid JSON"),
    ("[1, 2]", "not a JSON object but a list"),
    (
        json.dumps(_obs((LOINC, "8480-6"), "p1", valueQuantity={"value": "abc", "unit": "mm[Hg]"})),
        "Observation.valueQuantity.value",
    ),
    (json.dumps({"resourceType": "MedicinalProduct"}), "R4 resource type that R4B removed"),
    (
        json.dumps({"resourceType": "ActorDefinition", "status": "draft", "type": "person"}),
        "is a FHIR R5 resource type",
    ),
    (
        json.dumps({"resourceType": "ProcedureRequest", "status": "draft", "intent": "order"}),
        "is a FHIR STU3 resource type",
    ),
    (json.dumps(_chol("p1", 2.1, "g/L")), "unit 'g/L' is not accepted"),
    (json.dumps(_chol("p1", 5.0, "mmol/L")), None),
    (json.dumps({"id": "x"}), "no resourceType"),
    (
        json.dumps(
            _obs(
                (UCI, "exang"),
                "p1",
                valueBoolean=True,
                triggeredBy=[{"observation": {"reference": "Observation/1"}, "type": "reflex"}],
            )
        ),
        "it validates as FHIR R5",
    ),
    (json.dumps(_obs((LOINC, "8480-6"), "p1", valueString="high")), "expects valueQuantity"),
    (
        json.dumps(
            _obs((UCI, "cp"), "p1", valueCodeableConcept={"coding": [{"system": UCI, "code": "x"}]})
        ),
        "expects valueCodeableConcept with one of: typical_angina",
    ),
    (json.dumps({**PATIENT, "id": "p2", "birthDate": "1950-13-01"}), "Patient.birthDate"),
]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, IngestReport, list[str]]:
    folder = tmp_path_factory.mktemp("defects")
    lines = [text for text, _ in CASES]
    (folder / "in.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path_factory.mktemp("out")
    return out, ingest([folder], "test", "heart", out, k=1), lines


def _quarantined(out: Path) -> dict[str, dict[str, Any]]:
    records = [json.loads(p.read_text()) for p in sorted((out / "quarantine").glob("*.json"))]
    return {r["position"]: r for r in records}


def test_each_defect_is_quarantined_verbatim_with_its_reason(
    run: tuple[Path, IngestReport, list[str]],
) -> None:
    out, _, lines = run
    quarantined = _quarantined(out)
    for number, (text, fragment) in enumerate(CASES, start=1):
        record = quarantined.get(f"line {number}")
        if fragment is None:
            assert record is None, record
            continue
        assert record is not None, (number, text)
        assert fragment in record["error"], (fragment, record["error"])
        assert record["raw"] == lines[number - 1]
        assert record["source"].endswith("in.ndjson")


def test_nothing_is_lost(run: tuple[Path, IngestReport, list[str]]) -> None:
    out, report, _ = run
    expected_bad = sum(1 for _, fragment in CASES if fragment is not None)
    assert report.read == len(CASES) == report.accepted + report.quarantined
    assert report.quarantined == expected_bad == len(list((out / "quarantine").glob("*.json")))
    for tally in report.by_type.values():
        assert tally.read == tally.accepted + tally.quarantined
    assert report.by_type["(unparsed)"].quarantined == 2  # bad JSON, a JSON list


def test_generalizations_and_unit_conversion(run: tuple[Path, IngestReport, list[str]]) -> None:
    out, _, _ = run
    cohort = pd.read_parquet(out / "cohort.parquet")
    assert len(cohort) == 1
    row = cohort.iloc[0]
    assert row["age"] == 90 and row["age_band"] == "90+"  # 95 years old on 1995-05-01
    assert row["zip3"] == "000"  # 036 is a restricted ZIP3
    assert row["chol"] == pytest.approx(5.0 * 38.67)  # mmol/L converted by the cohort's factor
    assert row["label"] == 0 and row["sex"] == "female"


def test_a_quarantine_folder_made_by_someone_else_is_closed_before_use(tmp_path: Path) -> None:
    import stat

    out = tmp_path / "out"
    (out / "quarantine").mkdir(parents=True, mode=0o755)
    (out / "quarantine").chmod(0o755)
    source = tmp_path / "in"
    source.mkdir()
    bad = {**PATIENT, "birthDate": "1900-13-40"}
    (source / "data.ndjson").write_text(json.dumps(bad) + "\n")
    report = ingest([source], "s1", "heart", out, 1)
    assert report.quarantined == 1
    assert stat.S_IMODE((out / "quarantine").stat().st_mode) == 0o700


def test_another_sites_output_folder_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    from consortium.cli._errors import UserError

    out = tmp_path / "out"
    source = tmp_path / "in"
    source.mkdir()
    (source / "data.ndjson").write_text(json.dumps({**PATIENT, "birthDate": "1900-13-40"}) + "\n")
    ingest([source], "cleveland", "heart", out, 1)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(UserError) as refused:
        ingest([source], "hungary", "heart", out, 1)
    assert (
        "holds the cohort and pseudonym key of site 'cleveland'; ingest 'hungary' into its own "
        "folder" in str(refused.value)
    )
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert ingest([source], "cleveland", "heart", out, 1).quarantined == 1  # its own site: again


def test_an_interrupted_run_leaves_the_earlier_outputs_as_they_were(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import consortium.fhir.ingest as ingest_module

    out = tmp_path / "out"
    source = tmp_path / "in"
    source.mkdir()
    (source / "data.ndjson").write_text(json.dumps({**PATIENT, "birthDate": "1900-13-40"}) + "\n")
    ingest([source], "s1", "heart", out, 1)
    before = {
        p.relative_to(out): p.read_bytes()
        for p in out.rglob("*")
        if p.is_file() and p.name != ".ingest.lock"  # a run's lock: stays, emptied at the end
    }
    assert any(p.parts[0] == "quarantine" for p in before)

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt  # Ctrl-C once the input is read

    monkeypatch.setattr(ingest_module, "build_cohort_table", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ingest([source], "s1", "heart", out, 1)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert {p: b for p, b in after.items() if not p.parts[0].startswith(".")} == before
    monkeypatch.undo()
    assert ingest([source], "s1", "heart", out, 1).quarantined == 1  # the next run completes
    left = [p.name for p in out.iterdir() if p.name.startswith(".")]
    assert left == [".ingest.lock"] and (out / ".ingest.lock").read_text() == ""  # no partial
