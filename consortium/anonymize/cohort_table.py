"""Build the anonymized cohort table from extracted facts (the last step before anything is kept).

Per patient: the pseudonym replaces every identifier; the age is computed from the full birth date
and the index date (the earliest dated cohort fact of the patient) and then capped at 90; a patient
without a dated cohort fact has its age taken at the latest date of the input's cohort facts
(`index_fallback`; `rows_aged_at_latest` counts them for the report); the postal code becomes a
Safe Harbor ZIP3; gender becomes one of four values. No date, name, address
line, telecom, identifier value or free text is carried over. Then rows whose (age band, sex, ZIP3)
group is smaller than k are suppressed. The format is documented in ``consortium.datasets.heart``
and docs/ingest.md; ``consortium.datasets.heart.heart_cohort_table`` builds the same table for
the demo data straight from the CSV.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from consortium.anonymize.kanon import suppress_below_k
from consortium.anonymize.pseudonym import patient_basis, pseudonym
from consortium.anonymize.safe_harbor import (
    age_band,
    band_age,
    cap_age,
    completed_years,
    generalize_sex,
    zip3,
)
from consortium.fhir.cohort import QI_COLUMNS, table_columns
from consortium.fhir.extract import CohortFacts, Date

__all__ = ["build_cohort_table", "index_fallback", "rows_aged_at_latest"]


def build_cohort_table(
    facts: CohortFacts, *, site: str, key: bytes, k: int
) -> tuple[pd.DataFrame, int]:
    """The anonymized, k-anonymous cohort table of ``facts`` and the number of rows suppressed."""
    cohort = facts.cohort
    fallback = index_fallback(facts)
    rows = [_row(facts, pkey, site, key, fallback) for pkey in facts.patients]
    columns = table_columns(cohort)
    table = pd.DataFrame(rows, columns=columns)
    table = _merge_same_person(table)
    table = _typed(table, facts)
    kept, suppressed = suppress_below_k(table, list(cohort.quasi_identifiers), k)
    return kept.sort_values("pid", ignore_index=True)[columns], suppressed


def index_fallback(facts: CohortFacts) -> Date:
    """The index date of a patient without a dated cohort fact: the latest date of the input's
    cohort facts, else (no fact gave a date) the date of the run.

    The latest date is the input's own "as of": the same for every run of the same input (so a
    rerun reproduces the table), and no later than the export, where the run's date would age
    such patients by the time between export and ingest. decisions/0002, "Ages"."""
    return facts.latest or _today()


def rows_aged_at_latest(facts: CohortFacts, table: pd.DataFrame, *, site: str, key: bytes) -> int:
    """How many rows of ``table`` (released by `build_cohort_table` from ``facts``) have an age
    taken at the latest date of the input (`index_fallback`) rather than at their own index date.

    A row's age is its first Patient's (`_merge_same_person`), so that Patient decides. 0 when no
    cohort fact gave a date: every age is then taken at the run's date, and the report says that
    instead (`consortium.fhir.coverage`)."""
    if facts.latest is None:
        return 0
    aged_at_latest: dict[str, bool] = {}
    for pkey, patient in facts.patients.items():
        at_latest = pkey not in facts.dates and _age(patient.birth, facts.latest) is not None
        aged_at_latest.setdefault(_pid(facts, pkey, site, key), at_latest)
    return sum(aged_at_latest.get(pid, False) for pid in table["pid"])


def _pid(facts: CohortFacts, pkey: str, site: str, key: bytes) -> str:
    return pseudonym(key, site, patient_basis(facts.patients[pkey].identifiers, pkey))


def _age(birth: Date | None, index: Date) -> int | None:
    """Age in completed years at ``index``, capped at 90; None without a birth date or for one
    after the index date."""
    if birth is None or birth > index:
        return None
    return cap_age(completed_years(birth, index))


def _row(facts: CohortFacts, pkey: str, site: str, key: bytes, fallback: Date) -> dict[str, Any]:
    patient = facts.patients[pkey]
    dates = facts.dates.get(pkey)
    age = _age(patient.birth, min(dates) if dates else fallback)
    row: dict[str, Any] = {
        "pid": _pid(facts, pkey, site, key),
        "site": site,
        "age": band_age(age, facts.cohort.age_band_years),
        "age_band": age_band(age, facts.cohort.age_band_years),
        "sex": generalize_sex(patient.gender),
        "zip3": zip3(patient.postal_code, patient.country),
        "label": 1 if pkey in facts.labels else 0,
    }
    for name, (_, value) in facts.values.get(pkey, {}).items():
        if name not in row:
            row[name] = value
    return row


def _merge_same_person(table: pd.DataFrame) -> pd.DataFrame:
    """Patients with the same business identifier are one person: one row. Its quasi-identifiers
    are the first Patient's, all four together: k-anonymity is checked on the age band, and an age
    taken from another Patient (``first()`` skips a missing one) would sit next to the band
    "unknown" and be finer than it. Each feature is the first value given; the label is 1 if any
    Patient's is."""
    if not table["pid"].duplicated().any():
        return table
    label = table.groupby("pid", sort=False)["label"].max()
    merged = table.groupby("pid", sort=False, as_index=False).first()
    first = table.drop_duplicates("pid").set_index("pid")
    for column in QI_COLUMNS:
        merged[column] = merged["pid"].map(first[column])
    merged["label"] = merged["pid"].map(label)
    return merged


def _typed(table: pd.DataFrame, facts: CohortFacts) -> pd.DataFrame:
    out = table.copy()
    out["age"] = pd.array(out["age"].tolist(), dtype="Int64")
    for feature in facts.cohort.features:
        if feature.name in ("age", "sex"):
            continue
        if feature.kind == "categorical":
            out[feature.name] = out[feature.name].astype("str").where(out[feature.name].notna())
        else:
            out[feature.name] = out[feature.name].astype("float64")
    out["label"] = out["label"].astype("int64")
    for column in ("pid", "site", "age_band", "sex", "zip3"):
        out[column] = out[column].astype("str")
    return out


def _today() -> Date:
    today = dt.datetime.now(dt.UTC).date()
    return (today.year, today.month, today.day)
