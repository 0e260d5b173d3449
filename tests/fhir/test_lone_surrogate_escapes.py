"""JSON text may escape a lone UTF-16 surrogate (`"\\ud800"`), which has no UTF-8 form. A resource
holding one is quarantined like any other, its text written back with the escape as given: before,
writing its quarantine record raised UnicodeEncodeError and stopped the run."""

from __future__ import annotations

import json
from pathlib import Path

from consortium.fhir.ingest import ingest

ESCAPED = "X\\ud800"  # the six characters \ud800 in the JSON text


def test_resources_with_lone_surrogate_escapes_are_quarantined(tmp_path: Path) -> None:
    source = tmp_path / "in"
    source.mkdir()
    resource = {"resourceType": "Patient", "id": "p1", "name": [{"family": "@"}]}
    entry = json.dumps({**resource, "birthDate": "1950-13-01"}).replace("@", ESCAPED)
    bundle = json.dumps({"resourceType": "Bundle", "type": "collection", "entry": ["@"]})
    (source / "b.json").write_text(bundle.replace('"@"', f'{{"resource": {entry}}}'))
    line = json.dumps({"resourceType": "@", "id": "p2"}).replace("@", ESCAPED)
    (source / "c.ndjson").write_text(line + "\n", encoding="utf-8")

    report = ingest([source], "s1", "heart", tmp_path / "out", k=1)

    assert (report.read, report.accepted, report.quarantined) == (3, 1, 2)
    files = sorted((tmp_path / "out" / "quarantine").iterdir())
    records = {r["position"]: r for r in (json.loads(p.read_text()) for p in files)}
    assert json.loads(records["file entry[0]"]["raw"]) == json.loads(entry)
    assert "Patient.birthDate" in records["file entry[0]"]["error"]
    assert records["line 1"]["raw"] == line
