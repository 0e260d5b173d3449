"""The demo FHIR: valid, deterministic, and consistent with the UCI rows."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from consortium.datasets.demo import ENCOUNTER_DATES, demo_resources, write_demo_fhir
from consortium.datasets.heart import load_heart
from consortium.fhir.validate import validate_resource


def test_every_demo_resource_is_valid_r4() -> None:
    for site in ("switzerland", "va"):
        for items in demo_resources(site).values():
            for resource in items:
                assert validate_resource(resource) is None, resource["id"]


def test_birth_dates_give_the_uci_age_on_the_encounter_date() -> None:
    data = load_heart()
    for site in ("cleveland", "switzerland"):
        ages = data.loc[data["site"] == site, "age"].tolist()
        patients = demo_resources(site)["Patient"]
        when = ENCOUNTER_DATES[site]
        assert len(patients) == len(ages)
        for age, patient in zip(ages, patients, strict=True):
            born = dt.date.fromisoformat(patient["birthDate"])
            completed = when.year - born.year - ((when.month, when.day) < (born.month, born.day))
            assert completed == age


def test_demo_files_are_deterministic_and_complete(tmp_path: Path) -> None:
    first = write_demo_fhir(tmp_path / "a")
    second = write_demo_fhir(tmp_path / "b", bundles=True)
    assert set(first) == {"cleveland", "hungary", "switzerland", "va"}
    for site, folder in first.items():
        for name in ("Patient.ndjson", "Observation.ndjson", "Condition.ndjson"):
            assert (folder / name).read_bytes() == (second[site] / name).read_bytes()
    patients = (first["va"] / "Patient.ndjson").read_text().splitlines()
    conditions = (first["va"] / "Condition.ndjson").read_text().splitlines()
    assert len(patients) == 200 and len(conditions) == 149
    bundle = json.loads((tmp_path / "b" / "bundles" / "va.json").read_text())
    assert len(bundle["entry"]) == sum(
        len((first["va"] / n).read_text().splitlines())
        for n in ("Patient.ndjson", "Observation.ndjson", "Condition.ndjson")
    )


def test_demo_data_says_where_it_wrote_the_bundles(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from consortium.cli import app

    result = CliRunner().invoke(app, ["demo-data", "--out", str(tmp_path), "--bundles"])
    assert result.exit_code == 0, result.output
    assert f"bundles (one transaction Bundle per hospital): {tmp_path / 'bundles'}" in result.output
    assert sorted(p.name for p in (tmp_path / "bundles").iterdir())[0] == "cleveland.json"
