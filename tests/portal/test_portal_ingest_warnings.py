"""The Data page shows an ingest run's warnings themselves, not only how many there are: what the
run's cohort table lacks (every label 0, a feature without a value) is what the hospital admin
must read before anyone trains on it. Before, the page's report table said `warnings (count) 3`
and the text was only in report.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from consortium.datasets.demo import demo_resources
from consortium.fhir.ingest import IngestReport, ingest


def _patients_alone(tmp_path: Path, out: Path) -> IngestReport:
    """A real ingest of the Cleveland demo Patients without their Observations and Conditions."""
    export = tmp_path / "export"
    export.mkdir()
    lines = [json.dumps(p) for p in demo_resources("cleveland")["Patient"]]
    (export / "Patient.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ingest([export], "cleveland", "heart", out)


def _page(scripted: Path, portal: Any, outside: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("CONSORTIUM_PORTAL_INGEST", str(outside))
    at = portal(scripted, "cleveland", page="data")
    assert not at.exception
    at.selectbox[0].select(outside.name).run()  # the run picker: this folder's run
    assert not at.exception
    return at


def test_the_data_page_shows_each_warning_of_the_run(
    scripted: Path, portal: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "site-data"
    report = _patients_alone(tmp_path, outside)
    assert len(report.warnings) == 3  # every label 0, no Observation, ages at the run's date

    at = _page(scripted, portal, outside, monkeypatch)

    shown = [w.value for w in at.warning]
    for warning in report.warnings:  # verbatim: the label codes (53741008…) are not redacted
        assert warning in shown, shown
    summary = at.dataframe[0].value.set_index("run")
    assert summary.loc["site-data", "warnings"] == 3, summary
    assert any("What the cohort lacks" in c.value for c in at.caption)


def test_a_run_without_warnings_says_so_and_an_older_report_says_it_has_none_recorded(
    scripted: Path, portal: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "site-data"
    _patients_alone(tmp_path, outside)
    path = outside / "report.json"
    report = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**report, "warnings": []}), encoding="utf-8")

    at = _page(scripted, portal, outside, monkeypatch)

    assert any("No ingest warning" in s.value for s in at.success), [s.value for s in at.success]
    del report["warnings"]  # as ingest wrote it before it recorded warnings
    path.write_text(json.dumps(report), encoding="utf-8")

    at = _page(scripted, portal, outside, monkeypatch)

    captions = " ".join(c.value for c in at.caption)
    assert "records no warnings" in captions, captions
