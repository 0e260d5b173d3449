"""Windows PowerShell's `>` writes UTF-16 with a byte order mark. Such a file was read as UTF-8:
its first line was quarantined as "not valid UTF-8" and every later one as "Expecting value", so
an export that was fine became all quarantine with no hint why. A file that starts with a UTF-16
BOM (FF FE or FE FF, also inside gzip) is decoded as UTF-16 and read like any other."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from consortium.fhir.ingest import ingest


def _patient(pid: str) -> str:
    return json.dumps({"resourceType": "Patient", "id": pid, "gender": "female"})


def test_utf16_files_are_read_by_their_byte_order_mark(tmp_path: Path) -> None:
    source = tmp_path / "in"
    source.mkdir()
    lines = "\r\n".join([_patient("a1"), "{broken", _patient("a2")]) + "\r\n"
    (source / "Patient.ndjson").write_bytes(b"\xff\xfe" + lines.encode("utf-16-le"))
    (source / "One.json").write_bytes(b"\xfe\xff" + _patient("b1").encode("utf-16-be"))
    packed = gzip.compress(b"\xff\xfe" + _patient("c1").encode("utf-16-le"))
    (source / "More.ndjson.gz").write_bytes(packed)

    report = ingest([source], "s1", "heart", tmp_path / "out", k=1)

    assert (report.read, report.accepted, report.quarantined) == (5, 4, 1)
    record = json.loads(next((tmp_path / "out" / "quarantine").iterdir()).read_text("utf-8"))
    assert (record["position"], record["raw"]) == ("line 2", "{broken")


def test_a_broken_utf16_file_is_quarantined_as_unreadable_from_the_error(tmp_path: Path) -> None:
    source = tmp_path / "Patient.ndjson"
    broken = _patient("a1") + "\n"
    source.write_bytes(b"\xff\xfe" + broken.encode("utf-16-le") + b"\x00\xd8\n\x00")

    report = ingest([source], "s1", "heart", tmp_path / "out", k=1)

    assert report.read == report.accepted + report.quarantined and report.quarantined == 1
    record = json.loads(next((tmp_path / "out" / "quarantine").iterdir()).read_bytes())
    assert record["error"].startswith("unreadable: not valid UTF-16")
    assert "re-export it as UTF-8" in record["error"]
