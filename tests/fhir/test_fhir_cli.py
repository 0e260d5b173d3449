"""`consortium ingest` exit codes: 0 when the run completed (even with quarantine), non-zero with
one line saying why when it could not run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from consortium.cli import app

runner = CliRunner()


def _invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["ingest", *args])
    return result.exit_code, result.output


def test_completed_run_with_quarantine_exits_zero(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.ndjson").write_text('{"resourceType": "Patient", "gender": "male"}\n{x\n')
    code, output = _invoke(str(tmp_path / "in"), "--site", "s1", "--out", str(tmp_path / "o"))
    assert code == 0, output
    assert "read 2, accepted 1, quarantined 1" in output
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert (report["read"], report["accepted"], report["quarantined"]) == (2, 1, 1)
    assert len(report["key_fingerprint"]) == 16
    key = (tmp_path / "o" / "secrets" / "pseudonym.key").read_bytes()
    assert key.hex() not in (tmp_path / "o" / "report.json").read_text()
    assert (tmp_path / "o" / "secrets" / "pseudonym.key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        ("none", ["{tmp}/missing"], "does not exist"),
        ("empty", ["{tmp}/in"], "no readable input"),
        ("file", ["{tmp}/in", "--cohort", "lung"], "unknown cohort 'lung'"),
        ("file", ["{tmp}/in", "--k", "0"], "--k must be at least 1"),
        ("blocked", ["{tmp}/in"], "cannot write to --out"),
        ("file", ["{tmp}/in", "--out-inside"], "inside the input folder"),
        ("out-is-a-file", ["{tmp}/in"], "--out {tmp}/blocker is a file: give a folder"),
    ],
)
def test_runs_that_cannot_start_fail_with_one_line(
    tmp_path: Path, setup: str, args: list[str], message: str
) -> None:
    folder = tmp_path / "in"
    out = tmp_path / "out"
    if setup != "none":
        folder.mkdir()
    if setup in ("file", "blocked", "out-is-a-file"):
        (folder / "a.json").write_text('{"resourceType": "Patient"}')
    if setup in ("blocked", "out-is-a-file"):
        (tmp_path / "blocker").write_text("a file, not a folder")
        out = tmp_path / "blocker" / ("out" if setup == "blocked" else "")
    if "--out-inside" in args:
        args = [a for a in args if a != "--out-inside"]
        out = folder / "out"
    argv = [a.format(tmp=tmp_path) for a in args]
    code, output = _invoke(*argv, "--site", "s1", "--out", str(out))
    text = " ".join(output.split())  # the shared error printer may wrap long lines
    assert code != 0
    assert text.startswith("error:") and message.format(tmp=tmp_path) in text, output
    assert text.count("error:") == 1
    assert (folder / "a.json").exists() or setup in ("none", "empty")


def test_a_run_piped_to_files_writes_only_its_summary(tmp_path: Path) -> None:
    """The progress bar is for a terminal: with stderr not one (``2>err.txt``, CliRunner), stderr
    gets nothing but the run's warnings (a Patient alone: no label, no features), not even the
    blank line a hidden bar leaves, and stdout only the summary."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.ndjson").write_text('{"resourceType": "Patient", "gender": "male"}\n')
    result = runner.invoke(app, ["ingest", str(tmp_path / "in"), "--site", "s1", "--out",
                                 str(tmp_path / "o")])  # fmt: skip
    assert result.exit_code == 0, result.output
    warnings = json.loads((tmp_path / "o" / "report.json").read_text())["warnings"]
    assert result.stderr == "".join(f"warning: {w}\n" for w in warnings)
    assert result.stdout.count("\n") == 1 and result.stdout.startswith("s1: read 1, accepted 1")
