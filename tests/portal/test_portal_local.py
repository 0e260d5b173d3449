"""What the portal reads from a member's folder: redaction, quarantine metadata, raw-file guard."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from portal_local import (
    ingest_runs,
    node_process,
    node_status,
    privacy_facts,
    quarantine_file,
    redact,
    report_facts,
    run_date,
    run_labels,
)


def test_redact_removes_quoted_values_input_values_and_long_numbers() -> None:
    text = "Patient.name: bad value 'Jane Doe' input_value=Jane Doe, MRN 12345678 in field"
    out = redact(text)
    assert "Jane" not in out and "12345678" not in out
    assert out.startswith("Patient.name: bad value")


def test_a_real_ingest_run_is_summarized_without_its_patients(
    simulated_with_name: tuple[Path, str],
) -> None:
    root, name = simulated_with_name
    (run,) = ingest_runs(root / "members" / "cleveland")
    assert run.cohort_rows == 25 and "age_band" in run.cohort_columns
    facts = report_facts(run.report)
    assert facts["quarantined"] == 1 and facts["read"] == facts["accepted"] + 1
    assert set(privacy_facts(facts)) == {"k", "suppressed"}
    (item,) = run.quarantine
    assert (item.resource_type, item.source, item.position) == (
        "Patient",
        "Patient.ndjson",
        "line 26",
    )
    assert name.split()[1] not in item.model_dump_json()


def test_the_raw_file_is_served_only_from_inside_the_run(
    simulated_with_name: tuple[Path, str],
) -> None:
    root, name = simulated_with_name
    member = root / "members" / "cleveland"
    (run,) = ingest_runs(member)
    raw = quarantine_file(member, run.name, run.quarantine[0].name).decode()
    assert name.split()[1] in raw  # the raw resource is what a hospital admin asked for
    with pytest.raises(FileNotFoundError):
        quarantine_file(member, run.name, "../report.json")
    with pytest.raises(FileNotFoundError):
        quarantine_file(member, run.name, "../../msp/keystore/key.pem")


def test_node_status_reads_the_node_settings_and_its_ledger_checkpoint(tmp_path: Path) -> None:
    assert node_status(tmp_path) is None
    (tmp_path / "node.toml").write_text('task_id = "heart"\nplanned_updates = 3\ndp = true\n')
    assert node_status(tmp_path) == {"settings": {"task_id": "heart", "planned_updates": 3,
                                                  "dp": True}}  # fmt: skip
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "events.json").write_text('{"next_block": 12, "updates": []}')
    status = node_status(tmp_path)
    assert status is not None and status["next_block"] == 12 and status["state_mtime"] > 0


def test_two_ingest_folders_of_one_name_get_labels_that_tell_them_apart(tmp_path: Path) -> None:
    for site in ("a", "b"):
        run = tmp_path / site / "ingest"
        run.mkdir(parents=True)
        (run / "report.json").write_text(json.dumps({"site": site}))
    runs = [*ingest_runs(tmp_path / "a" / "ingest"), *ingest_runs(tmp_path / "b" / "ingest")]
    labels = run_labels(runs)
    assert len(set(labels)) == 2
    assert run_labels(runs[:1]) == ["ingest"]  # a single folder keeps its short label


def test_a_run_in_the_ingest_folder_itself_is_labelled_by_that_folder(tmp_path: Path) -> None:
    # `consortium portal --ingest site-data/cleveland` where the report sits: not "cleveland/."
    run = tmp_path / "cleveland"
    (run / "older").mkdir(parents=True)
    (run / "report.json").write_text(json.dumps({"site": "cleveland"}))
    (run / "older" / "report.json").write_text(json.dumps({"site": "cleveland"}))
    assert sorted(run_labels(ingest_runs(run))) == ["cleveland", "cleveland/older"]


def _flocks_on(path: Path) -> list[str]:
    inode = f":{path.stat().st_ino} "
    return [line for line in Path("/proc/locks").read_text().splitlines() if inode in line]


def test_a_node_holding_its_lock_is_running_and_one_that_let_go_is_not(tmp_path: Path) -> None:
    from consortium.node.lock import one_node_per_member

    state = tmp_path / "state"
    assert node_process(tmp_path) == {"running": False, "pid": None}
    assert not state.exists(), "the portal never creates the node's lock file"
    with one_node_per_member(state, "cleveland"):
        assert node_process(tmp_path) == {"running": True, "pid": os.getpid()}
        assert len(_flocks_on(state / "node.lock")) == 1, "the portal took no lock of its own"
    assert node_process(tmp_path) == {"running": False, "pid": None}
    assert not _flocks_on(state / "node.lock")
    with one_node_per_member(state, "cleveland"):  # a node still starts after the portal looked
        pass


def test_a_pid_left_by_a_killed_node_is_not_taken_for_a_running_node(tmp_path: Path) -> None:
    # kill -9 leaves the pid in the file, but the kernel dropped the lock
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "node.lock").write_text(f"{os.getpid()}\n")
    assert node_process(tmp_path) == {"running": False, "pid": None}


def test_an_ingest_run_is_dated_by_its_reports_modification_time(tmp_path: Path) -> None:
    # a report written before `consortium ingest` recorded written_ms
    from datetime import UTC, datetime

    (tmp_path / "report.json").write_text(json.dumps({"site": "cleveland", "k": 5}))
    stamp = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp()
    os.utime(tmp_path / "report.json", (stamp, stamp))
    (run,) = ingest_runs(tmp_path)
    assert run_date(run) == (
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        "report.json's modification time (the report records no date)",
    )


def test_an_ingest_run_is_dated_by_the_time_its_report_records(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    written = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    ms = int(written.timestamp()) * 1000 + 678
    (tmp_path / "report.json").write_text(json.dumps({"site": "cleveland", "written_ms": ms}))
    copied = datetime(2026, 5, 6, tzinfo=UTC).timestamp()  # a copy that did not keep times
    os.utime(tmp_path / "report.json", (copied, copied))
    (run,) = ingest_runs(tmp_path)
    assert run_date(run) == (
        written,
        "report.json's written_ms (recorded by consortium ingest when it wrote the run)",
    )


@pytest.mark.parametrize("value", ["2026-01-02", True, -1, 1.5e12, 10**20, None])
def test_a_recorded_time_that_is_not_milliseconds_falls_back_to_the_file_time(
    tmp_path: Path, value: object
) -> None:
    from datetime import UTC, datetime

    (tmp_path / "report.json").write_text(json.dumps({"site": "cleveland", "written_ms": value}))
    stamp = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp()
    os.utime(tmp_path / "report.json", (stamp, stamp))
    (run,) = ingest_runs(tmp_path)
    assert run_date(run) == (
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        "report.json's modification time (its written_ms is not a whole number of milliseconds "
        "since 1970)",
    )


def test_runs_are_listed_newest_first_by_the_time_their_reports_record(tmp_path: Path) -> None:
    for name, ms, touched in (("older", 1_000_000_000_000, 2e9), ("newer", 1_700_000_000_000, 1e9)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "report.json").write_text(json.dumps({"written_ms": ms}))
        os.utime(tmp_path / name / "report.json", (touched, touched))  # copied: times reversed
    assert [r.name for r in ingest_runs(tmp_path)] == ["newer", "older"]
