"""report.json records when the run was written (``written_ms``, UTC milliseconds since 1970, as
the ledger's ``*_ms`` fields): before, the portal could only date a run by the file's modification
time, which a copy of the folder moves."""

from __future__ import annotations

import json
import time
from pathlib import Path

from consortium.fhir.ingest import ingest


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def test_the_report_records_when_the_run_was_written(tmp_path: Path) -> None:
    source = tmp_path / "in"
    source.mkdir()
    (source / "a.ndjson").write_text(json.dumps({"resourceType": "Patient", "id": "p1"}) + "\n")

    before = _now_ms()
    report = ingest([source], "s1", "heart", tmp_path / "out", k=1)
    after = _now_ms()

    written = json.loads((tmp_path / "out" / "report.json").read_text())["written_ms"]
    assert type(written) is int and written == report.written_ms
    assert before <= written <= after, (before, written, after)


def test_two_runs_of_one_input_differ_only_in_the_reports_times(tmp_path: Path) -> None:
    # what a rerun reproduces is the cohort table, byte for byte; the report records the run
    source = tmp_path / "in"
    source.mkdir()
    patient = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1960"}
    (source / "a.ndjson").write_text(json.dumps(patient) + "\n")
    key = tmp_path / "pseudonym.key"

    outs = [tmp_path / "one", tmp_path / "two"]
    for out in outs:
        ingest([source], "s1", "heart", out, k=1, key_path=key)

    cohorts = [(out / "cohort.parquet").read_bytes() for out in outs]
    assert cohorts[0] == cohorts[1]
    first, second = (json.loads((out / "report.json").read_text()) for out in outs)
    differ = {name for name in first if first[name] != second[name]}
    assert differ <= {"elapsed_ms", "written_ms"}, differ
    assert first["written_ms"] <= second["written_ms"]
