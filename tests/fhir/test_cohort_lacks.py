"""An input that cannot give the cohort its label or a feature (Patient.ndjson alone, Conditions
under other codes, Observations without one of the codes) completes, but says so: a warning in
the summary and in report.json, so that a wrong export is noticed before anyone trains on it.
Before, Patient.ndjson alone gave a table with every label 0 and no Observation feature, silently.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from consortium.cli import app
from consortium.fhir.cohort import load_cohort, table_columns
from consortium.fhir.coverage import cohort_warnings
from consortium.fhir.ingest import IngestReport, ingest
from consortium.learning.data import design_matrix, load_definition

OBSERVATION_FEATURES = "cp, trestbps, chol, fbs, restecg, thalch, exang, oldpeak"


def _copy(demo_dir: Path, tmp_path: Path, *names: str, edit: dict[str, str] | None = None) -> Path:
    """Some of the demo site's NDJSON files, with text replaced in them (``edit``)."""
    folder = tmp_path / "in"
    folder.mkdir()
    for name in names:
        text = (demo_dir / "cleveland" / name).read_text(encoding="utf-8")
        for old, new in (edit or {}).items():
            text = text.replace(old, new)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def _ingest(folder: Path, out: Path, demo_key: Path) -> IngestReport:
    return ingest([folder], "cleveland", "heart", out, key_path=demo_key)


def test_patients_alone_warn_that_every_label_is_0_and_observation_features_are_empty(
    demo_dir: Path, demo_key: Path, tmp_path: Path
) -> None:
    folder = _copy(demo_dir, tmp_path, "Patient.ndjson")

    report = _ingest(folder, tmp_path / "out", demo_key)

    assert report.rows > 0
    text = "\n".join(report.warnings)
    assert "no Condition resources were read: every label is 0" in text
    assert f"no Observation resources were read: the features {OBSERVATION_FEATURES}" in text
    assert "ages are taken at the date of this run" in text
    written = json.loads((tmp_path / "out" / "report.json").read_text())
    assert written["warnings"] == report.warnings


def test_conditions_under_other_codes_warn_that_every_label_is_0(
    demo_dir: Path, demo_key: Path, tmp_path: Path
) -> None:
    names = ("Patient.ndjson", "Observation.ndjson", "Condition.ndjson")
    folder = _copy(demo_dir, tmp_path, *names, edit={'"53741008"': '"22298006"'})

    report = _ingest(folder, tmp_path / "out", demo_key)

    [warning] = report.warnings
    assert warning.startswith("every label is 0: none of the 139 Condition resources read is")
    assert "53741008, I25.1, I25.10" in warning


def test_observations_without_one_code_warn_that_its_feature_is_empty(
    demo_dir: Path, demo_key: Path, tmp_path: Path
) -> None:
    names = ("Patient.ndjson", "Observation.ndjson", "Condition.ndjson")
    folder = _copy(demo_dir, tmp_path, *names, edit={'"2093-3"': '"2085-9"'})  # HDL, not total

    report = _ingest(folder, tmp_path / "out", demo_key)

    [warning] = report.warnings
    assert warning.startswith("the feature chol has no value in any row: no Observation read")
    # both causes are said, not only a wrong code: a site may simply not measure it
    assert "either this site does not record it, or its export codes it otherwise" in warning
    assert "(chol 2093-3)" in warning  # the code looked for, to map the export's own code to
    # and what training does with the empty column (`consortium.learning.data.design_matrix`)
    assert "training takes chol as 220 mg/dL (its centre) on every row of this site" in warning


def test_the_demo_sites_warn_only_of_what_their_data_lacks(
    demo_ingested: dict[str, tuple[Path, IngestReport]],
) -> None:
    warnings = {site: report.warnings for site, (_, report) in demo_ingested.items()}
    # Switzerland measured no cholesterol (UCI's chol 0 is "not measured": datasets/heart.py)
    [chol] = warnings.pop("switzerland")
    assert chol.startswith("the feature chol has no value in any row")
    assert warnings == {"cleveland": [], "hungary": [], "va": []}


def test_the_command_prints_the_warnings_after_its_summary(demo_dir: Path, tmp_path: Path) -> None:
    folder = _copy(demo_dir, tmp_path, "Patient.ndjson")
    args = ["ingest", str(folder), "--site", "cleveland", "--out", str(tmp_path / "out")]

    result = CliRunner().invoke(app, args)

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("cleveland: read 303, accepted 303, quarantined 0;")
    assert "; 3 warnings (below, and in report.json); key " in result.stdout
    lines = result.stderr.splitlines()
    assert lines and all(line.startswith("warning: ") for line in lines), result.stderr
    assert "warning: no Condition resources were read: every label is 0" in result.stderr


def test_an_empty_feature_says_what_training_takes_for_it_by_its_kind() -> None:
    cohort = load_cohort("heart")
    row = {"pid": "p", "site": "s", "age": 52, "age_band": "50-54", "sex": "male", "zip3": "441"}
    row |= {"cp": "asymptomatic", "trestbps": 130, "thalch": 150, "exang": "true", "oldpeak": 1}
    empty = {"chol": None, "fbs": None, "restecg": None}
    table = pd.DataFrame([row | empty | {"label": 0}, row | empty | {"label": 1}])
    table = table[table_columns(cohort)]

    [warning] = cohort_warnings(cohort, table, {"Observation": 9, "Condition": 1}, dated=True)

    assert warning.startswith("the features chol, fbs, restecg have no value in any row: ")
    assert "either this site does not record them, or its export codes them otherwise" in warning
    taken = "chol as 220 mg/dL (its centre), fbs as false, restecg as none of its categories"
    assert f"training takes {taken} on every row of this site" in warning
    # what the warning says is what the design matrix holds: every column of these features is 0
    matrix = design_matrix(table, load_definition("heart"))
    columns = [i for i, name in enumerate(matrix.columns) if name.split("=")[0] in empty]
    assert len(columns) == 5 and not matrix.X[:, columns].any(), matrix.columns
