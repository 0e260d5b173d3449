"""A patient with no dated cohort resource has no index date of its own: its age is taken at the
latest date the input's cohort resources give (the same for every such patient, and for every run
of the same input), and the run's warnings count the rows whose age was taken so, without the date.
Before, this rule was written nowhere and the report said nothing of it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from consortium.fhir.ingest import IngestReport, ingest

BIRTH = "1950-06-15"  # 49 on 2000-01-01, 69 on 2020-01-01, 76 or more on the date of any run


def _patient(rid: str, gender: str | None, birth: str | None = BIRTH) -> dict[str, Any]:
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": rid,
        "identifier": [{"system": "urn:mrn", "value": f"MRN-{rid}"}],
        "address": [{"use": "home", "postalCode": "44106", "country": "US"}],
    }
    if gender is not None:
        patient["gender"] = gender
    if birth is not None:
        patient["birthDate"] = birth
    return patient


def _sbp(rid: str, subject: str, when: str | None) -> dict[str, Any]:
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
        "subject": {"reference": subject},
        "valueQuantity": {"value": 120, "system": "http://unitsofmeasure.org", "code": "mm[Hg]"},
    }
    if when is not None:
        observation["effectiveDateTime"] = when
    return observation


def _ingest(
    tmp_path: Path, resources: list[dict[str, Any]], k: int = 1
) -> tuple[IngestReport, pd.DataFrame]:
    source = tmp_path / "in"
    source.mkdir()
    (source / "data.ndjson").write_text("\n".join(json.dumps(r) for r in resources) + "\n")
    report = ingest([source], "s1", "heart", tmp_path / "out", k=k)
    return report, pd.read_parquet(tmp_path / "out" / "cohort.parquet").set_index("sex")


def test_an_undated_patients_age_is_taken_at_the_latest_date_of_the_input(tmp_path: Path) -> None:
    # Arrange: one patient seen in 2000, one in 2020, one whose only Observation has no date,
    # one without a birth date (no age at any date); all born the same day
    resources = [
        _patient("early", "female"), _sbp("o1", "Patient/early", "2000-01-01"),
        _patient("late", "male"), _sbp("o2", "Patient/late", "2020-01-01"),
        _patient("undated", None), _sbp("o3", "Patient/undated", None),
        _patient("no-birth", "other", birth=None),
    ]  # fmt: skip

    # Act
    report, table = _ingest(tmp_path, resources)

    # Assert: each dated patient at its own date; the undated one at 2020-01-01 (69: band 65-69),
    # not at the run's date (76 or more) nor at another patient's
    assert report.rows == 4
    assert table.loc["female", "age_band"] == "45-49" and table.loc["male", "age_band"] == "65-69"
    assert table.loc["unknown", "age_band"] == "65-69" and table.loc["unknown", "age"] == 67
    assert table.loc["other", "age_band"] == "unknown"
    [warning] = [w for w in report.warnings if "latest date" in w]
    assert warning.startswith("1 of the 4 rows has no dated Observation or Condition"), warning
    assert "2020" not in warning  # a date of a patient's record: counted, never written
    assert not any("date of this run" in w for w in report.warnings), report.warnings


def test_no_warning_when_every_aged_row_has_its_own_index_date(tmp_path: Path) -> None:
    resources = [_patient("early", "female"), _sbp("o1", "Patient/early", "2000-01-01")]
    resources += [_patient("no-birth", "other", birth=None)]  # no age to take at any date

    report, _ = _ingest(tmp_path, resources)

    assert not any("latest date" in w for w in report.warnings), report.warnings


def test_a_suppressed_row_is_not_counted(tmp_path: Path) -> None:
    # two women seen the same day make a group of k = 2; the undated man is alone in his
    resources = [_patient("a", "female"), _sbp("o1", "Patient/a", "2020-01-01")]
    resources += [_patient("b", "female"), _sbp("o2", "Patient/b", "2020-01-01")]
    resources += [_patient("undated", "male")]

    report, table = _ingest(tmp_path, resources, k=2)

    assert report.suppressed == 1 and list(table.index) == ["female", "female"]
    assert not any("latest date" in w for w in report.warnings), report.warnings
