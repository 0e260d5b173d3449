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


def test_utf16_without_a_byte_order_mark_is_read_by_its_zero_bytes(tmp_path: Path) -> None:
    # .NET's Encoding.Unicode (and some export tools) write UTF-16 with no mark: each of JSON's
    # ASCII characters is that byte and a zero byte. Read as UTF-8, every resource was refused.
    source = tmp_path / "in"
    source.mkdir()
    lines = "\n".join([_patient("a1"), _patient("a2")]) + "\n"
    (source / "Patient.ndjson").write_bytes(lines.encode("utf-16-le"))
    (source / "One.json").write_bytes(_patient("b1").encode("utf-16-be"))
    (source / "More.ndjson.gz").write_bytes(gzip.compress(_patient("c1").encode("utf-16-le")))

    report = ingest([source], "s1", "heart", tmp_path / "out", k=1)

    assert (report.read, report.accepted, report.quarantined) == (4, 4, 0)


def test_utf8_json_is_not_taken_for_utf16(tmp_path: Path) -> None:
    # UTF-32 has three zero bytes per ASCII character: not UTF-16; it stays refused as UTF-8,
    # kept whole in the quarantine, and a plain UTF-8 file beside it is read as before.
    source = tmp_path / "in"
    source.mkdir()
    (source / "Patient.ndjson").write_bytes(_patient("a1").encode("utf-32-le"))
    (source / "Two.ndjson").write_text(_patient("b1") + "\n", encoding="utf-8")

    report = ingest([source], "s1", "heart", tmp_path / "out", k=1)

    assert (report.read, report.accepted, report.quarantined) == (2, 1, 1)
