"""NDJSON files that each start with a byte order mark and are joined with `cat` hold a BOM at the
start of a later line. That line was quarantined with Python's "Unexpected UTF-8 BOM (decode
using utf-8-sig)"; a BOM is no part of the JSON text, so it is dropped from the start of any line
and the line is read."""

from __future__ import annotations

import json
from pathlib import Path

from consortium.fhir.ingest import ingest


def _lines(*ids: str) -> bytes:
    patients = [json.dumps({"resourceType": "Patient", "id": i, "gender": "male"}) for i in ids]
    return ("\ufeff" + "\n".join(patients) + "\n").encode("utf-8")


def test_a_bom_at_the_start_of_a_later_line_is_dropped(tmp_path: Path) -> None:
    source = tmp_path / "joined.ndjson"
    source.write_bytes(_lines("a1", "a2") + _lines("b1") + "\ufeff\n".encode() + _lines("c1"))

    report = ingest([source], "s1", "heart", tmp_path / "out", k=1)

    assert (report.read, report.accepted, report.quarantined) == (4, 4, 0)
    assert report.patients == 4
