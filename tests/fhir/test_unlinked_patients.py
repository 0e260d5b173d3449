"""Resources of a patient that is not in the input cannot feed the table: `used` does not count
them, and the command's summary line says how many patients were referenced but not given, so an
admin knows an export is missing (before, they counted as used and only report.json told)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from consortium.cli import app


def _chol(patient: str) -> dict[str, object]:
    quantity = {"value": 200, "unit": "mg/dL", "system": "http://unitsofmeasure.org"}
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "2093-3"}]},
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": "2000-01-01",
        "valueQuantity": {**quantity, "code": "mg/dL"},
    }


def test_resources_of_absent_patients_are_not_used_and_the_summary_says_so(tmp_path: Path) -> None:
    source = tmp_path / "in"
    source.mkdir()
    patient = {"resourceType": "Patient", "id": "p1", "gender": "male", "birthDate": "1950-01-01"}
    lines = [patient, _chol("p1"), _chol("nobody"), _chol("gone")]
    (source / "data.ndjson").write_text("\n".join(json.dumps(r) for r in lines) + "\n")

    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["ingest", str(source), "--site", "s1", "--out", str(out)])

    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert (report["read"], report["used"], report["unlinked_patients"]) == (4, 1, 2)
    assert "2 patients referenced but not in the input" in " ".join(result.output.split())
