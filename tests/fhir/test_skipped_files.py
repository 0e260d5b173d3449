"""Files of the input folders that are not FHIR JSON/NDJSON (an XML export, a CSV) are not read;
they used to be passed over without a word, so an admin who exported XML got an empty cohort and
no hint. The summary line, report.json and the error when nothing else is there count them."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from consortium.cli import app


def _folder(tmp_path: Path, *, with_json: bool) -> Path:
    source = tmp_path / "in"
    (source / "sub").mkdir(parents=True)
    (source / "Patient.xml").write_text('<Patient xmlns="http://hl7.org/fhir"/>')
    (source / "sub" / "Observation.xml").write_text('<Observation xmlns="http://hl7.org/fhir"/>')
    (source / "notes.csv").write_text("a,b\n")
    (source / ".DS_Store").write_text("")  # hidden: not worth a word
    if with_json:
        patient = {"resourceType": "Patient", "id": "p1", "gender": "male"}
        (source / "Patient.ndjson").write_text(json.dumps(patient) + "\n")
    return source


def _ingest(source: Path, out: Path) -> tuple[int, str]:
    args = ["ingest", str(source), "--site", "s1", "--cohort", "heart", "--out", str(out),
            "--k", "1"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    return result.exit_code, result.output


def test_files_that_are_not_read_are_counted(tmp_path: Path) -> None:
    code, output = _ingest(_folder(tmp_path, with_json=True), tmp_path / "out")
    assert code == 0, output
    assert "skipped 3 files that are not FHIR JSON/NDJSON: 1 .csv, 2 .xml" in output
    assert "FHIR XML is not read" in output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["skipped_files"] == {".csv": 1, ".xml": 2} and report["read"] == 1


def test_a_folder_of_xml_only_is_refused_with_the_reason(tmp_path: Path) -> None:
    code, output = _ingest(_folder(tmp_path, with_json=False), tmp_path / "out")
    assert code == 2, output
    assert "no readable input" in output and "2 .xml (FHIR XML is not read" in output


def test_empty_files_only_leave_an_earlier_run_in_place(tmp_path: Path) -> None:
    """Empty NDJSON files used to make an empty cohort that replaced the earlier run's."""
    code, output = _ingest(_folder(tmp_path, with_json=True), tmp_path / "out")
    assert code == 0, output
    before = (tmp_path / "out" / "cohort.parquet").read_bytes()
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "Patient.ndjson").write_text("")
    (empty / "Observation.ndjson").write_text("\n")

    code, output = _ingest(empty, tmp_path / "out")

    assert code == 2, output
    assert "read no FHIR resource from the 2 input file(s)" in output
    assert (tmp_path / "out" / "cohort.parquet").read_bytes() == before
    assert not (tmp_path / "out" / ".quarantine.partial").exists()


def test_a_file_name_never_reaches_the_report_through_its_suffix(tmp_path: Path) -> None:
    # a "suffix" is whatever follows the last dot: for these files, a surname and a birth date
    source = _folder(tmp_path, with_json=True)
    (source / "John.Quarantinova").write_text("")
    (source / "ecg 1945.03.12").write_text("")
    code, output = _ingest(source, tmp_path / "out")
    assert code == 0, output
    report_text = (tmp_path / "out" / "report.json").read_text()
    for text in (output, report_text):
        assert "quarantinova" not in text.lower() and ".12" not in text
    assert json.loads(report_text)["skipped_files"] == {"(other)": 2, ".csv": 1, ".xml": 2}


def test_one_skipped_file_is_one_file() -> None:
    from consortium.fhir.ingest import skipped_text

    assert skipped_text({".csv": 1}) == "; skipped 1 file that is not FHIR JSON/NDJSON: 1 .csv"
    assert skipped_text({}) == ""
