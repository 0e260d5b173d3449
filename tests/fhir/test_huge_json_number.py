"""A number too long for Python's int conversion (more than 4300 digits) is one line quarantined
as invalid JSON, not a traceback that stops the whole run."""

from __future__ import annotations

import json
from pathlib import Path

from consortium.fhir.ingest import ingest


def test_a_number_with_5000_digits_is_quarantined_and_the_run_goes_on(tmp_path: Path) -> None:
    source = tmp_path / "in"
    source.mkdir()
    patient = json.dumps({"resourceType": "Patient", "id": "p1", "gender": "male"})
    huge = '{"resourceType": "Observation", "id": "o1", "valueInteger": 1' + "0" * 5000 + "}"
    (source / "data.ndjson").write_text(f"{patient}\n{huge}\n", encoding="utf-8")

    report = ingest([source], "s1", "heart", tmp_path / "out", k=1)

    assert (report.read, report.accepted, report.quarantined) == (2, 1, 1)
    record = json.loads(next((tmp_path / "out" / "quarantine").glob("*.json")).read_text())
    assert record["position"] == "line 2" and record["raw"] == huge
    assert record["error"].startswith("not valid JSON:") and "digits" in record["error"]
