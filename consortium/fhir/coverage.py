"""What a cohort table lacks because its input did: the warnings of an ingest run.

An ingest of ``Patient.ndjson`` alone completes and writes a table, but with label 0 on every row
(the label comes from Conditions) and no value for any Observation feature: nothing in the input
was invalid, so nothing is quarantined, and the table looks fine until a model trained on it
answers "no disease" to everyone. :func:`cohort_warnings` names what is missing and where it
should have come from; ingest writes the warnings in ``report.json`` and the command prints them
after its summary (docs/ingest.md, "What the cohort lacks"). They are warnings, not errors: a
site may hold no patient of one class, and pooled with others its table is still useful;
`consortium train` refuses a table of one class on its own.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from consortium.fhir.cohort import CohortDefinition, Feature

__all__ = ["cohort_warnings"]


def cohort_warnings(
    cohort: CohortDefinition,
    table: pd.DataFrame,
    accepted: Mapping[str, int],
    *,
    dated: bool,
    aged_at_latest: int = 0,
) -> list[str]:
    """Warnings on ``table`` (the released rows): a label of one class, features without a value,
    ages not taken at the patients' own index dates.

    ``accepted`` counts the accepted resources by type; ``dated`` says whether any cohort resource
    gave a date (the index date of the ages); ``aged_at_latest`` counts the rows whose age was
    taken at the input's latest date (`consortium.anonymize.cohort_table.rows_aged_at_latest`)."""
    if table.empty:
        return []  # the summary says 0 rows, and `consortium train` refuses a table without rows
    warnings = [*_label(cohort, table, accepted.get("Condition", 0))]
    empty = [f for f in cohort.features if not _has_value(table, f)]
    observed = [f for f in empty if f.source.resource == "Observation"]
    if observed:
        warnings.append(_observation_features(observed, accepted.get("Observation", 0)))
    for feature in empty:
        if feature.source.resource == "Patient":
            given = " or ".join(feature.category_codes)
            what = f"{feature.source.field} as {given}" if given else feature.source.field
            warnings.append(
                f"the feature {feature.name} has no value in any row: no Patient in the table "
                f"gives its {what}"
            )
    if not dated and any(f.source.field == "birthDate" for f in cohort.features):
        warnings.append(
            "no Observation or Condition of the cohort gave a date: ages are taken at the date of "
            "this run, not at each patient's index date (the earliest dated cohort resource)"
        )
    if aged_at_latest:
        warnings.append(_aged_at_latest(aged_at_latest, len(table)))
    return warnings


def _aged_at_latest(n: int, rows: int) -> str:
    """The rows aged at the input's latest date, counted; the date itself is a date of a patient's
    record, which Safe Harbor keeps out of everything ingest writes."""
    one = n == 1
    has, its, ages = ("has", "its", "age is") if one else ("have", "their", "ages are")
    whose = "this patient's" if one else "these patients'"
    return (
        f"{n} of the {rows} rows {has} no dated Observation or Condition of the cohort: {its} "
        f"{ages} taken at the latest date the input's cohort resources give, not at an index date "
        f"of {its} own (the earliest dated cohort resource); check that the export holds {whose} "
        "Observations and Conditions with their dates"
    )


def _label(cohort: CohortDefinition, table: pd.DataFrame, conditions: int) -> list[str]:
    values = set(table["label"].tolist())
    if len(values) != 1:
        return []
    codes = ", ".join(c.code for c in cohort.label.source.codes)
    refused = "`consortium train` refuses a cohort whose labels are all one class"
    if values == {1}:
        return [
            f"every label is 1: every patient in the table has an active Condition of cohort "
            f"{cohort.cohort}'s label codes ({codes}) and none is without it; check that the "
            f"export holds the patients without the diagnosis too ({refused})"
        ]
    if conditions == 0:
        return [
            f"no Condition resources were read: every label is 0 (the label is 1 for a patient "
            f"with an active Condition of cohort {cohort.cohort}'s label codes: {codes}); add the "
            f"export's Conditions, e.g. Condition.ndjson ({refused})"
        ]
    return [
        f"every label is 0: none of the {conditions} Condition resources read is an active "
        f"Condition of cohort {cohort.cohort}'s label codes ({codes}) for a patient in the table; "
        f"check the codes the export uses ({refused})"
    ]


def _observation_features(features: list[Feature], observations: int) -> str:
    names = ", ".join(f.name for f in features)
    if observations == 0:
        return (
            f"no Observation resources were read: the features {names} have no value in any row "
            "(they come from Observations); add the export's Observations, e.g. Observation.ndjson"
        )
    codes = "; ".join(f"{f.name} {', '.join(c.code for c in f.source.codes)}" for f in features)
    one = len(features) == 1
    it, its = ("it", "its code") if one else ("them", "their codes")
    taken = ", ".join(_taken_as(f) for f in features)
    # Not only a wrong code: Switzerland's demo hospital measured no cholesterol at all, and its
    # export is right. The code looked for is listed so that a site that codes it otherwise can
    # map its own code to it; the fill is said so that nobody reads the column as measured.
    return (
        f"the feature{'' if one else 's'} {names} {'has' if one else 'have'} no value in any row: "
        f"no Observation read has {its} ({codes}) for a patient in the table; either this site "
        f"does not record {it}, or its export codes {it} otherwise (map the export's code to the "
        f"one listed); training takes {taken} on every row of this site, a model input of 0, so "
        f"these rows teach the model nothing about {it}"
    )


def _taken_as(feature: Feature) -> str:
    """What training takes for ``feature`` where it has no value (the design matrix of
    `consortium.learning.data`: 0 after normalization, 0 for false, no one-hot column set)."""
    if feature.kind == "binary":
        return f"{feature.name} as false"
    if feature.kind == "categorical":
        return f"{feature.name} as none of its categories"
    if feature.normalize is None:
        return f"{feature.name} as 0"
    unit = f" {feature.unit}" if feature.unit else ""
    return f"{feature.name} as {feature.normalize.center}{unit} (its centre)"


def _has_value(table: pd.DataFrame, feature: Feature) -> bool:
    """Whether any row has a value for ``feature`` (a category outside the definition's, as sex
    ``other`` or ``unknown``, counts as missing, as it does for training)."""
    column = table[feature.name]
    present = column.notna()
    if feature.kind == "categorical":
        present &= column.isin(feature.category_codes)
    return bool(present.any())
