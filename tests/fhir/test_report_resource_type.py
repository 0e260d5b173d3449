"""report.json copies no input text: a `resourceType` that no FHIR release knows (free text, which
may hold a name or a record number) is counted as "(unknown)"."""

from __future__ import annotations

import json
from pathlib import Path

from consortium.fhir.ingest import ingest

SECRET = "Jane Q Doe 123-45-6789"


def test_unknown_resource_type_text_not_in_report(tmp_path: Path) -> None:
    source = tmp_path / "in"
    source.mkdir()
    lines = [{"resourceType": "Patient", "id": "p1"}, {"resourceType": SECRET, "id": "x"}]
    (source / "data.ndjson").write_text("\n".join(json.dumps(r) for r in lines) + "\n")
    report = ingest([source], "s1", "heart", tmp_path / "out", k=1)
    assert report.quarantined == 1 and report.read == 2
    text = (tmp_path / "out" / "report.json").read_text(encoding="utf-8")
    assert SECRET not in text
    assert set(json.loads(text)["by_type"]) == {"Patient", "(unknown)"}
