"""The UCI Heart Disease data of four real hospitals, with its known defects fixed.

Source: ``data/heart_disease_uci.csv`` (see ``data/PROVENANCE.md``), 920 rows. The file is never
edited; every fix happens here and ``tests/datasets/test_heart.py`` pins each one:

1. The row with ``id == 304`` is the first row of the Hungarian block (ids 304-597 are consecutive
   Hungarian records; it has Hungary's profile: no ``slope``/``ca``/``thal``) but is tagged
   Cleveland. After the fix: Cleveland 303, Hungary 294, Switzerland 123, VA Long Beach 200.
2. ``chol == 0`` means "not measured" (172 rows, mostly Switzerland): NaN.
3. ``trestbps == 0`` (one row) is not a possible resting blood pressure: NaN.
4. ``ca``, ``thal`` and ``slope`` are missing for most rows outside Cleveland, so they are not
   among the cohort's shared features (``data_schemas/cohorts/heart.json``).

:func:`heart_cohort_table` builds, straight from the CSV, the table that ``consortium ingest``
produces from the demo FHIR data (``consortium.datasets.demo``) with the same key and ``k``: same
columns, dtypes, values and row order. The cohort table format (docs/ingest.md):

- ``pid`` (str): HMAC pseudonym (``consortium.anonymize.pseudonym``); rows are sorted by it.
- ``site`` (str): the site slug.
- ``age`` (Int64, the middle of the 5-year age band, 90 for 90+), ``age_band`` (str,
  ``"50-54"``, ``"90+"``, ``"unknown"``), ``sex`` (``"male"``/``"female"``/``"other"``/
  ``"unknown"``), ``zip3`` (str, 3 digits, ``"000"`` when restricted or not a US ZIP): the
  quasi-identifiers. ``age`` and ``sex`` are also the features of that name.
- one column per other feature: numeric and binary as float64 (binary 0.0/1.0), categorical as the
  category code (str); missing is NaN (numeric, binary) or None/NaN (categorical).
- ``label`` (int64, 0/1).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from consortium.anonymize.kanon import suppress_below_k
from consortium.anonymize.pseudonym import patient_basis, pseudonym
from consortium.anonymize.safe_harbor import age_band, band_age, cap_age, zip3
from consortium.fhir.cohort import load_cohort, table_columns

__all__ = [
    "CP_CODES",
    "DEMO_TABLE_KEY",
    "RESTECG_CODES",
    "SITES",
    "Site",
    "demo_mrn",
    "demo_postal_code",
    "heart_cohort_table",
    "load_heart",
]


class Site:
    """One of the four hospitals, with the synthetic address data the demo gives its patients."""

    def __init__(
        self, slug: str, uci_name: str, prefix: str, city: str, state: str, country: str, zip_: str
    ) -> None:
        self.slug, self.uci_name, self.prefix = slug, uci_name, prefix
        self.city, self.state, self.country, self.zip_prefix = city, state, country, zip_


# One ZIP3 (or one non-US postal region, generalized to "000") per hospital so that k-anonymity on
# (age band, sex, ZIP3) suppresses few rows: a realistic catchment area, documented in ingest.md.
SITES: dict[str, Site] = {
    s.slug: s
    for s in (
        Site("cleveland", "Cleveland", "CLE", "Cleveland", "OH", "US", "441"),
        Site("hungary", "Hungary", "HUN", "Budapest", "", "HU", "1"),
        Site("switzerland", "Switzerland", "SUI", "Zurich", "", "CH", "80"),
        Site("va", "VA Long Beach", "VAL", "Long Beach", "CA", "US", "908"),
    )
}

CP_CODES = {
    "typical angina": "typical_angina",
    "atypical angina": "atypical_angina",
    "non-anginal": "non_anginal",
    "asymptomatic": "asymptomatic",
}
RESTECG_CODES = {
    "normal": "normal",
    "st-t abnormality": "st_t_abnormality",
    "lv hypertrophy": "lv_hypertrophy",
}
DEMO_TABLE_KEY = b"consortium-heart-cohort-table-v1".ljust(32, b"\0")
"""The pseudonym key :func:`heart_cohort_table` uses by default (public: for tests only)."""

_BY_UCI_NAME = {s.uci_name: s.slug for s in SITES.values()}


def _bool(value: object) -> float:
    if value is True or value == "TRUE":
        return 1.0
    if value is False or value == "FALSE":
        return 0.0
    return float("nan")


@lru_cache(maxsize=1)
def _load() -> pd.DataFrame:
    with resources.files("consortium.datasets").joinpath("data/heart_disease_uci.csv").open() as f:
        raw = pd.read_csv(f)
    data = raw.copy()
    data.loc[data["id"] == 304, "dataset"] = "Hungary"  # fix 1
    data.loc[data["chol"] == 0, "chol"] = np.nan  # fix 2
    data.loc[data["trestbps"] == 0, "trestbps"] = np.nan  # fix 3
    data["fbs"] = data["fbs"].map(_bool).astype("float64")
    data["exang"] = data["exang"].map(_bool).astype("float64")
    data["site"] = data["dataset"].map(_BY_UCI_NAME)
    data["label"] = (data["num"] > 0).astype("int64")
    return data


def load_heart() -> pd.DataFrame:
    """The 920 UCI rows with the defects fixed, plus ``site`` (slug) and ``label`` (num > 0).

    Other columns keep their UCI names and values (``fbs``/``exang`` as 0.0/1.0/NaN).
    """
    return _load().copy()


def demo_mrn(site: str, uci_id: int) -> tuple[str, str]:
    """The (system, value) of the synthetic medical record number of a UCI row in the demo."""
    return (f"https://consortium.dev/demo/{site}/mrn", f"{SITES[site].prefix}{uci_id:06d}")


def demo_postal_code(site: str, uci_id: int) -> str:
    """The synthetic postal code of a UCI row's patient (all of a site share one region)."""
    prefix = SITES[site].zip_prefix
    digits = 5 if SITES[site].country == "US" else 4
    return prefix + f"{(uci_id * 37) % 10 ** (digits - len(prefix)):0{digits - len(prefix)}d}"


def heart_cohort_table(
    site: str | None = None, *, k: int = 5, key: bytes = DEMO_TABLE_KEY
) -> pd.DataFrame:
    """The cohort table that ingesting the demo FHIR of ``site`` (all sites if None) produces.

    Suppression to ``k``-anonymity is done per site, as each site ingests alone.
    """
    sites = [site] if site is not None else list(SITES)
    unknown = [s for s in sites if s not in SITES]
    if unknown:
        raise ValueError(f"unknown site {unknown[0]!r}; sites: {', '.join(SITES)}")
    cohort = load_cohort("heart")
    data = load_heart()
    parts = [_site_table(data[data["site"] == s], s, k, key) for s in sites]
    return pd.concat(parts, ignore_index=True)[table_columns(cohort)]


def _site_table(rows: pd.DataFrame, site: str, k: int, key: bytes) -> pd.DataFrame:
    ages = [cap_age(int(a)) for a in rows["age"]]
    table = pd.DataFrame(
        {
            "pid": [
                pseudonym(key, site, patient_basis([demo_mrn(site, int(i))], None))
                for i in rows["id"]
            ],
            "site": site,
            "age": pd.array([band_age(a) for a in ages], dtype="Int64"),
            "age_band": [age_band(a) for a in ages],
            "sex": rows["sex"].str.lower().to_numpy(),
            "zip3": [zip3(demo_postal_code(site, int(i)), SITES[site].country) for i in rows["id"]],
            "cp": rows["cp"].map(CP_CODES).to_numpy(),
            "trestbps": rows["trestbps"].astype("float64").to_numpy(),
            "chol": rows["chol"].astype("float64").to_numpy(),
            "fbs": rows["fbs"].to_numpy(),
            "restecg": rows["restecg"].map(RESTECG_CODES).to_numpy(),
            "thalch": rows["thalch"].astype("float64").to_numpy(),
            "exang": rows["exang"].to_numpy(),
            "oldpeak": rows["oldpeak"].astype("float64").to_numpy(),
            "label": rows["label"].to_numpy(),
        }
    )
    kept, _ = suppress_below_k(table, ["age_band", "sex", "zip3"], k)
    return kept.sort_values("pid", ignore_index=True)
