"""Bulk-export NDJSON often comes gzip-compressed (`Patient.ndjson.gz`, or a `.ndjson` saved with
its transfer encoding): it is read like the plain file. Before, a folder's `.gz` files were
skipped without a word and a `.gz` given by name became one "not valid UTF-8" record. A truncated
gzip keeps what was read and quarantines the rest of the file as unreadable."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from consortium.fhir.ingest import ingest

LINES = [json.dumps({"resourceType": "Patient", "id": f"p{i}", "gender": "male"}) for i in range(3)]
TEXT = "\n".join([*LINES, "{broken"]) + "\n"


def test_gzip_ndjson_is_read_in_folders_and_by_name(tmp_path: Path) -> None:
    source = tmp_path / "in"
    source.mkdir()
    (source / "Patient.ndjson.gz").write_bytes(gzip.compress(TEXT.encode()))
    (source / "Other.ndjson").write_bytes(gzip.compress(TEXT.replace('"p', '"q').encode()))
    named = tmp_path / "Single.json.gz"
    named.write_bytes(gzip.compress(LINES[0].replace('"p0"', '"r0"').encode()))

    report = ingest([source, named], "s1", "heart", tmp_path / "out", k=1)

    assert report.files == 3
    assert (report.read, report.accepted, report.quarantined) == (9, 7, 2)
    records = [json.loads(p.read_text()) for p in (tmp_path / "out" / "quarantine").iterdir()]
    assert sorted((Path(r["source"]).name, r["position"], r["raw"]) for r in records) == [
        ("Other.ndjson", "line 4", "{broken"),
        ("Patient.ndjson.gz", "line 4", "{broken"),
    ]


def test_a_truncated_gzip_keeps_what_was_read(tmp_path: Path) -> None:
    source = tmp_path / "in"
    source.mkdir()
    whole = gzip.compress(("\n".join(LINES * 2000) + "\n").encode())
    (source / "Patient.ndjson.gz").write_bytes(whole[: len(whole) // 2])

    report = ingest([source], "s1", "heart", tmp_path / "out", k=1)

    assert report.accepted > 0 and report.quarantined == 1
    record = json.loads(next((tmp_path / "out" / "quarantine").iterdir()).read_text())
    assert record["error"].startswith("unreadable:") and "ended before" in record["error"]
