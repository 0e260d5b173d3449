"""A `.json` file holding one resource a line (NDJSON under the wrong name) is read line by line.
That fallback only worked when the first line parsed: with a broken first line the whole file
became one quarantine record and its good lines were never read. A broken file that is one JSON
text over many lines (pretty-printed) stays one record."""

from __future__ import annotations

import json
from pathlib import Path

from consortium.fhir.ingest import ingest


def _patient(pid: str) -> str:
    return json.dumps({"resourceType": "Patient", "id": pid, "gender": "male"})


def _records(out: Path) -> list[tuple[str, str]]:
    found = [json.loads(p.read_text()) for p in sorted((out / "quarantine").iterdir())]
    return [(r["position"], r["raw"]) for r in found]


def test_a_broken_first_line_of_a_json_file_of_lines_is_its_only_quarantine(
    tmp_path: Path,
) -> None:
    source = tmp_path / "Patient.json"
    broken = '{"resourceType": "Patient", "id": "p0"'
    source.write_text("\n".join([broken, _patient("p1"), "", _patient("p2")]) + "\n")

    report = ingest([source], "s1", "heart", tmp_path / "out", k=1)

    assert (report.read, report.accepted, report.quarantined) == (3, 2, 1)
    assert _records(tmp_path / "out") == [("line 1", broken)]


def test_a_broken_pretty_printed_json_file_stays_one_record(tmp_path: Path) -> None:
    entry = json.dumps({"resource": json.loads(_patient("p1"))})  # a line that parses alone
    text = f'{{\n "resourceType": "Bundle",\n type: "collection",\n "entry": [\n  {entry}\n ]\n}}\n'
    source = tmp_path / "Bundle.json"
    source.write_text(text)

    report = ingest([source], "s1", "heart", tmp_path / "out", k=1)

    assert (report.read, report.quarantined) == (1, 1)
    assert _records(tmp_path / "out") == [("file", text)]
