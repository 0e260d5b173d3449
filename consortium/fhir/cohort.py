"""Cohort definitions: which FHIR codes become which features and label.

A cohort definition is JSON data in ``data_schemas/cohorts/<name>.json``, validated by
``data_schemas/cohorts/cohort.schema.json`` and then read into the typed model below. Ingest
(``consortium.fhir.ingest``) uses it to map resources to cohort columns; the learning code uses it
to build design matrices (``normalize`` constants for numeric features, category order for
one-hot encoding).

The cohort table (``cohort.parquet``) has the columns :func:`table_columns` lists:
``pid, site, age, age_band, sex, zip3``, then one column per feature not already among those
(features sourced from the Patient, ``age`` and ``sex``, *are* the quasi-identifier columns), then
``label``. See docs/ingest.md.
"""

from __future__ import annotations

import json
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

import jsonschema
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "COHORTS_DIR",
    "QI_COLUMNS",
    "REQUIRED_QUASI_IDENTIFIERS",
    "Coding",
    "CohortDefinition",
    "CohortError",
    "Feature",
    "load_cohort",
    "table_columns",
]

COHORTS_DIR = Path(__file__).resolve().parents[2] / "data_schemas" / "cohorts"
QI_COLUMNS = ("age", "age_band", "sex", "zip3")
REQUIRED_QUASI_IDENTIFIERS = ("age_band", "sex", "zip3")
"""What k-anonymity is checked on: the released QI columns (``age`` is the middle of its band)."""


class CohortError(Exception):
    """The cohort definition is unknown or invalid."""


class Coding(BaseModel):
    """One code of a code system."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    system: str
    code: str
    display: str | None = None


class Source(BaseModel):
    """Where a feature's value comes from."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    resource: Literal["Patient", "Observation", "Condition"]
    field: Literal["birthDate", "gender"] | None = None
    codes: tuple[Coding, ...] = ()
    value_system: str | None = None


class Normalize(BaseModel):
    """Fixed reference constants: a feature is used as ``(value - center) / scale``."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    center: Decimal
    scale: Decimal


class Feature(BaseModel):
    """One feature of the cohort (one column of the cohort table)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    kind: Literal["numeric", "binary", "categorical"]
    description: str
    source: Source
    unit: str | None = None
    unit_aliases: tuple[str, ...] = ()
    convert: dict[str, Decimal] = Field(default_factory=dict)
    categories: tuple[Coding, ...] = ()
    normalize: Normalize | None = None

    @property
    def category_codes(self) -> tuple[str, ...]:
        """The category codes in their fixed order (one-hot column order)."""
        return tuple(c.code for c in self.categories)


class Label(BaseModel):
    """The label: 1 when the patient has an active Condition with one of the codes."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: Literal["label"]
    description: str
    source: Source


class CohortDefinition(BaseModel):
    """A validated cohort definition."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    cohort: str
    version: int
    description: str
    features: tuple[Feature, ...]
    label: Label
    quasi_identifiers: tuple[str, ...]
    age_band_years: int
    notes: tuple[str, ...] = ()

    def feature(self, name: str) -> Feature:
        """The feature called ``name``."""
        for feature in self.features:
            if feature.name == name:
                return feature
        raise KeyError(name)


def table_columns(cohort: CohortDefinition) -> list[str]:
    """The cohort table's columns, in order."""
    extra = [f.name for f in cohort.features if f.name not in QI_COLUMNS]
    return ["pid", "site", *QI_COLUMNS, *extra, "label"]


@lru_cache(maxsize=1)
def _schema() -> dict[str, object]:
    schema: dict[str, object] = json.loads((COHORTS_DIR / "cohort.schema.json").read_text())
    return schema


def load_cohort(name_or_path: str | Path) -> CohortDefinition:
    """Load a cohort by name (``"heart"`` -> ``data_schemas/cohorts/heart.json``) or JSON path.

    Raises :class:`CohortError` with a one-line reason when it is unknown or invalid.
    """
    path = Path(name_or_path)
    if path.suffix != ".json":
        path = COHORTS_DIR / f"{name_or_path}.json"
    if not path.is_file():
        known = sorted(p.stem for p in COHORTS_DIR.glob("*.json") if p.stem != "cohort.schema")
        raise CohortError(f"unknown cohort {name_or_path!r}; known cohorts: {', '.join(known)}")
    return _load_file(str(path.resolve()), path.stat().st_mtime_ns)


@lru_cache(maxsize=32)
def _load_file(path_text: str, _mtime_ns: int) -> CohortDefinition:
    path = Path(path_text)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        _check_quasi_identifiers(data, path)
        jsonschema.validate(data, _schema())
    except (json.JSONDecodeError, jsonschema.ValidationError) as exc:
        detail = getattr(exc, "message", str(exc))
        raise CohortError(f"cohort definition {path} is invalid: {detail}") from exc
    return CohortDefinition.model_validate(data)


def _check_quasi_identifiers(data: object, path: Path) -> None:
    """Every cohort table releases ``age_band``, ``sex`` and ``zip3`` (and ``age``, the middle of
    the band), so k-anonymity must be checked on all three: a definition that lists fewer would let
    rows that are unique on the others through (docs/decisions/0002-anonymization.md, 3)."""
    listed = data.get("quasi_identifiers") if isinstance(data, dict) else None
    if isinstance(listed, list) and not set(REQUIRED_QUASI_IDENTIFIERS) <= set(listed):
        raise CohortError(
            f"cohort definition {path} is invalid: quasi_identifiers must list age_band, sex and "
            f"zip3 (the table releases all three, and k-anonymity must hold on each); got {listed}"
        )
