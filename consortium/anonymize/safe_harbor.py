"""HIPAA Safe Harbor generalizations of the quasi-identifiers kept in a cohort.

45 CFR 164.514(b)(2)(i) lists 18 identifiers that must be removed for data to count as
de-identified under the Safe Harbor method. A cohort keeps only four facts derived from them, each
generalized here exactly as the rule allows:

- (B) geography: the first three digits of a ZIP code, unless the area those digits cover holds
  20,000 people or fewer "according to the current publicly available data from the Bureau of the
  Census", in which case "000". HHS lists 17 such ZIP3s from the 2000 Census (HHS OCR, "Guidance
  Regarding Methods for De-identification of Protected Health Information in Accordance with the
  HIPAA Privacy Rule", 2012, section 3.4) and says not to rely on that list once more current data
  is published; the 2010 Census adds 205 and 369. We zero the union of both lists (19 ZIP3s): a
  ZIP3 that has since grown past 20,000 people loses its digits, which costs little, while one
  that fell below it would otherwise be released.
- (C) dates: only the year. The cohort keeps no date at all; ages are computed from full dates
  inside ingest, before any date is dropped.
- (C) ages over 89 are aggregated into one category, reported as 90 (band "90+").
- sex is not a Safe Harbor identifier; it is kept but generalized to the four FHIR genders.

Postal codes outside the US are not covered by the HHS list (their populations are not in the US
Census), so we cannot show their first three characters meet the 20,000 threshold: they become
"000" too. That is the conservative reading; docs/decisions/0002-anonymization.md explains it.
"""

from __future__ import annotations

import re

__all__ = [
    "AGE_CAP",
    "RESTRICTED_ZIP3",
    "SEXES",
    "US_STATES",
    "age_band",
    "band_age",
    "cap_age",
    "completed_years",
    "generalize_sex",
    "zip3",
]

AGE_CAP = 90
"""Ages above 89 are reported as this value (Safe Harbor (C))."""

RESTRICTED_ZIP3 = frozenset(
    {
        # 2000 Census, as HHS lists them (de-identification guidance, 2012, 3.4)
        "036", "059", "063", "102", "203", "556", "692", "790", "821",
        "823", "830", "831", "878", "879", "884", "890", "893",
        # 2010 Census ZCTA populations: also 20,000 or fewer (its others are listed above)
        "205", "369",
    }
)  # fmt: skip
"""The ZIP3 areas with 20,000 or fewer people in the 2000 or the 2010 Census."""

SEXES = ("male", "female", "other", "unknown")

US_STATES = frozenset(
    {
        "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN",
        "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH",
        "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT",
        "VT", "VA", "WA", "WV", "WI", "WY", "AS", "GU", "MP", "PR", "VI", "AA", "AE", "AP",
    }
)  # fmt: skip
"""USPS state, territory and military codes: an address without a country is taken as US only
when its state is one of these (a 5-digit postal code alone may be German, French, Italian...)."""

_US_COUNTRIES = {"us", "usa", "u.s.", "u.s.a.", "united states", "united states of america"}
_US_ZIP = re.compile(r"^([0-9]{3})[0-9]{2}(?:-?[0-9]{4})?$")  # ASCII: \d takes any digit


def cap_age(age: int | None) -> int | None:
    """Return ``age`` with every age over 89 reported as 90; ``None`` stays ``None``."""
    if age is None:
        return None
    return min(age, AGE_CAP)


def age_band(age: int | None, width: int = 5) -> str:
    """The ``width``-year band of a (capped) age, e.g. ``"50-54"``; ``"90+"``; ``"unknown"``."""
    if age is None:
        return "unknown"
    if age >= AGE_CAP:
        return f"{AGE_CAP}+"
    low = (age // width) * width
    high = min(low + width - 1, AGE_CAP - 1)
    return f"{low}-{high}"


def band_age(age: int | None, width: int = 5) -> int | None:
    """The age a cohort releases: the middle of its ``width``-year band (90 for 90+), so that the
    ``age`` column is no finer than the ``age_band`` that k-anonymity is checked on."""
    if age is None:
        return None
    if age >= AGE_CAP:
        return AGE_CAP
    return min((age // width) * width + width // 2, AGE_CAP - 1)


def completed_years(birth: tuple[int, int, int], index: tuple[int, int, int]) -> int:
    """Completed years between two (year, month, day) dates (the usual age)."""
    years = index[0] - birth[0]
    if (index[1], index[2]) < (birth[1], birth[2]):
        years -= 1
    return years


def zip3(postal_code: str | None, country: str | None = None) -> str:
    """The Safe Harbor ZIP3 of an address: 3 digits; ``"000"`` if restricted, foreign or unknown
    (no country counts as unknown: the caller infers "US" from a US state, see ``US_STATES``)."""
    if not postal_code:
        return "000"
    if (country or "").strip().lower() not in _US_COUNTRIES:
        return "000"
    match = _US_ZIP.match(postal_code.strip())
    if match is None:
        return "000"
    prefix = match.group(1)
    return "000" if prefix in RESTRICTED_ZIP3 else prefix


def generalize_sex(gender: str | None) -> str:
    """FHIR administrative gender as a cohort ``sex`` value (missing -> ``"unknown"``)."""
    if gender in SEXES:
        return str(gender)
    return "unknown"
