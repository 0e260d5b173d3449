"""A file named twice (a folder and a file in it, or the same folder twice) is read once: before,
each of its resources was counted, and quarantined, once per mention."""

from __future__ import annotations

import json
from pathlib import Path

from consortium.fhir.ingest import ingest


def test_a_file_named_twice_is_read_once(tmp_path: Path) -> None:
    source = tmp_path / "in"
    source.mkdir()
    lines = [json.dumps({"resourceType": "Patient", "id": "p1", "gender": "male"}), "{broken"]
    (source / "a.ndjson").write_text("\n".join(lines) + "\n")

    paths = [source, source / "a.ndjson", tmp_path / "in" / ".." / "in"]
    report = ingest(paths, "s1", "heart", tmp_path / "out", k=1)

    assert (report.files, report.read, report.accepted, report.quarantined) == (1, 2, 1, 1)
    assert len(list((tmp_path / "out" / "quarantine").iterdir())) == 1
