"""Cohort definitions are validated by their JSON Schema before use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from consortium.fhir.cohort import COHORTS_DIR, CohortError, load_cohort, table_columns


def _heart() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((COHORTS_DIR / "heart.json").read_text())
    return data


def test_heart_has_the_ten_shared_features() -> None:
    cohort = load_cohort("heart")
    names = [f.name for f in cohort.features]
    assert names == [
        "age", "sex", "cp", "trestbps", "chol", "fbs", "restecg", "thalch", "exang", "oldpeak"
    ]  # fmt: skip
    for feature in cohort.features:
        if feature.kind == "numeric":
            assert feature.normalize is not None and feature.normalize.scale > 0
            assert feature.unit
        if feature.kind == "categorical":
            assert len(set(feature.category_codes)) == len(feature.categories) >= 2
    assert ("http://snomed.info/sct", "53741008") in {
        (c.system, c.code) for c in cohort.label.source.codes
    }
    assert table_columns(cohort)[:6] == ["pid", "site", "age", "age_band", "sex", "zip3"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["features"][3].pop("normalize"), "normalize"),
        (lambda d: d["features"][3]["normalize"].update(center=130), "is not of type 'string'"),
        (lambda d: d["features"][2].pop("categories"), "categories"),
        (lambda d: d["features"][0].update(name="label"), "should not be valid"),
        (lambda d: d.update(extra=1), "Additional properties"),
    ],
)
def test_invalid_definitions_are_refused(tmp_path: Path, change: Any, message: str) -> None:
    data = _heart()
    change(data)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data))
    with pytest.raises(CohortError, match="is invalid") as caught:
        load_cohort(path)
    assert message in str(caught.value)


def test_unknown_cohort_names_the_known_ones() -> None:
    with pytest.raises(CohortError, match="known cohorts: heart"):
        load_cohort("lung")
