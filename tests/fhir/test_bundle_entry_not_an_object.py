"""A Bundle entry whose `resource` is not a JSON object (a string, a list, a number) is quarantined
with its position; before, it was cut out of the Bundle and the Bundle accepted, so it was lost."""

from __future__ import annotations

import json
from pathlib import Path

from consortium.fhir.ingest import ingest


def test_entry_resources_that_are_not_objects_are_quarantined(tmp_path: Path) -> None:
    source = tmp_path / "in"
    source.mkdir()
    good = {"resourceType": "Patient", "id": "p1", "gender": "male"}
    odd: list[object] = [
        '{"resourceType": "Patient", "id": "p2"}',
        [{"resourceType": "Patient"}],
        7,
    ]
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": good}, *({"resource": value} for value in odd)],
    }
    (source / "b.json").write_text(json.dumps(bundle), encoding="utf-8")

    report = ingest([source], "s1", "heart", tmp_path / "out", k=1)

    assert (report.read, report.accepted, report.quarantined) == (5, 2, 3)
    records = [
        json.loads(p.read_text()) for p in sorted((tmp_path / "out" / "quarantine").iterdir())
    ]
    assert [r["position"] for r in records] == [f"file entry[{i}]" for i in (1, 2, 3)]
    for record, value in zip(records, odd, strict=True):
        assert "entry.resource is not a JSON object" in record["error"]
        assert json.loads(record["raw"]) == value
