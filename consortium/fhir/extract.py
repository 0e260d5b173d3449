"""Turn validated FHIR resources into the facts a cohort needs, keyed by patient.

Only what the cohort definition asks for is read: from a Patient its identifiers (for the
pseudonym only), birth date, gender and postal code; from an Observation whose code the cohort maps
to a feature, its value and date; from a Condition with a label code, the fact that it holds.
Names, telecom, address lines, photos, narrative and notes are never read, so they cannot reach
the cohort table (``consortium.anonymize.cohort_table`` generalizes what is read).

A resource that is valid FHIR but cannot be used as the cohort says (a unit the cohort does not
accept, a value of the wrong type or an unknown category) is refused with a reason and quarantined
by ingest: nothing is converted silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from consortium.anonymize.safe_harbor import US_STATES
from consortium.fhir.cohort import CohortDefinition, Feature

__all__ = ["CohortFacts", "Date", "PatientFacts", "parse_date"]

Date = tuple[int, int, int]
UCUM = "http://unitsofmeasure.org"
V2_YES_NO = "http://terminology.hl7.org/CodeSystem/v2-0136"
IGNORED_OBSERVATION_STATUS = {"entered-in-error", "cancelled"}
IGNORED_CLINICAL_STATUS = {"inactive", "resolved", "remission"}
IGNORED_VERIFICATION_STATUS = {"refuted", "entered-in-error"}


def parse_date(value: Any) -> Date | None:
    """(year, month, day) of a FHIR date/dateTime/instant; a missing month or day counts as 1."""
    if not isinstance(value, str) or len(value) < 4 or not value[:4].isdigit():
        return None
    parts = value[:10].split("-")
    try:
        numbers = [int(p) for p in parts[:3]]
    except ValueError:
        return None
    numbers += [1] * (3 - len(numbers))
    return (numbers[0], numbers[1], numbers[2])


@dataclass(slots=True)
class PatientFacts:
    """What is read from one Patient resource."""

    identifiers: list[tuple[str, str]]  # in the pseudonym's order of preference
    birth: Date | None
    gender: str | None
    postal_code: str | None
    country: str | None


@dataclass(slots=True)
class CohortFacts:
    """Facts collected over a whole input, for one cohort."""

    cohort: CohortDefinition
    patients: dict[str, PatientFacts] = field(default_factory=dict)
    patient_sources: dict[str, str] = field(default_factory=dict)  # key -> where it was read
    values: dict[str, dict[str, tuple[Date | None, float | str]]] = field(default_factory=dict)
    labels: dict[str, Date | None] = field(default_factory=dict)
    dates: dict[str, list[Date]] = field(default_factory=dict)
    latest: Date | None = None
    uses: dict[str, int] = field(default_factory=dict)  # patient key -> resources used
    _codes: dict[tuple[str, str], Feature] = field(default_factory=dict)
    _label_codes: set[tuple[str, str]] = field(default_factory=set)

    def __post_init__(self) -> None:
        for feature in self.cohort.features:
            for coding in feature.source.codes:
                self._codes[(coding.system, coding.code)] = feature
        self._label_codes = {(c.system, c.code) for c in self.cohort.label.source.codes}

    def add(
        self, data: dict[str, Any], full_url: str | None, urls: dict[str, str], where: str = ""
    ) -> str | None:
        """Record what the cohort needs from one valid resource read at ``where`` (file and
        position); return a refusal reason or None."""
        resource_type = data.get("resourceType")
        if resource_type == "Patient":
            return self._add_patient(data, full_url, urls, where)
        elif resource_type == "Observation":
            return self._add_observation(data, urls)
        elif resource_type == "Condition":
            self._add_condition(data, urls)
        return None

    def _add_patient(
        self, data: dict[str, Any], full_url: str | None, urls: dict[str, str], where: str
    ) -> str | None:
        rid = data.get("id")
        anonymous = f"#patient-without-id-{len(self.patients)}"
        key = f"Patient/{rid}" if rid else urls.get(full_url or "", full_url or anonymous)
        postal, country = _postal(data.get("address"))
        identifiers = _ranked_identifiers(data.get("identifier"))
        facts = PatientFacts(
            identifiers, parse_date(data.get("birthDate")), data.get("gender"), postal, country
        )
        first = self.patients.get(key)
        if first is None:
            self.patients[key] = facts
            self.patient_sources[key] = where
            return None
        if facts == first:  # the same patient given twice (overlapping exports)
            return None
        return _conflict(key, first, facts, self.patient_sources[key])

    def _add_observation(self, data: dict[str, Any], urls: dict[str, str]) -> str | None:
        if data.get("status") in IGNORED_OBSERVATION_STATUS:
            return None
        holders = [data, *(data.get("component") or [])]
        matches = [(h, f) for h in holders for f in _features(h.get("code"), self._codes)]
        if not matches:
            return None
        # Read every value before keeping any: one refused value quarantines the whole resource,
        # so none of its other values (nor its date, the index date of the age) may be used.
        values = []
        for holder, feature in matches:
            value, reason = _value(holder, feature)
            if reason is not None:
                return reason
            if value is not None:
                values.append((feature.name, value))
        patient = _subject_key(data.get("subject"), urls)
        if patient is not None:
            when = _observation_date(data)
            for name, value in values:
                self._keep(patient, name, when, value)
        return None

    def _keep(self, patient: str, name: str, when: Date | None, value: float | str) -> None:
        slot = self.values.setdefault(patient, {})
        old = slot.get(name)
        if old is None or (when is not None and (old[0] is None or when < old[0])):
            slot[name] = (when, value)
        self._date(patient, when)
        self.uses[patient] = self.uses.get(patient, 0) + 1

    def _add_condition(self, data: dict[str, Any], urls: dict[str, str]) -> None:
        if not _features(data.get("code"), {c: True for c in self._label_codes}):
            return
        if _codes_of(data.get("verificationStatus")) & IGNORED_VERIFICATION_STATUS:
            return
        if _codes_of(data.get("clinicalStatus")) & IGNORED_CLINICAL_STATUS:
            return
        patient = _subject_key(data.get("subject"), urls)
        if patient is None:
            return
        when = parse_date(data.get("onsetDateTime")) or parse_date(data.get("recordedDate"))
        self.labels[patient] = when
        self._date(patient, when)
        self.uses[patient] = self.uses.get(patient, 0) + 1

    def _date(self, patient: str, when: Date | None) -> None:
        if when is None:
            return
        self.dates.setdefault(patient, []).append(when)
        if self.latest is None or when > self.latest:
            self.latest = when

    @property
    def used(self) -> int:
        """How many resources fed the table: those of patients that were given as a Patient."""
        return sum(count for patient, count in self.uses.items() if patient in self.patients)

    def unlinked(self) -> int:
        """How many patients were referenced by cohort resources but never given as a Patient."""
        referenced = set(self.values) | set(self.labels)
        return len(referenced - set(self.patients))


def _conflict(key: str, first: PatientFacts, again: PatientFacts, where: str) -> str:
    """Why a second Patient with the same id and other facts is refused: the cohort cannot tell
    which version is right, and using either one silently would hide the other."""
    fields = [
        name
        for name, a, b in (
            ("identifier", first.identifiers, again.identifiers),
            ("birthDate", first.birth, again.birth),
            ("gender", first.gender, again.gender),
            ("address", (first.postal_code, first.country), (again.postal_code, again.country)),
        )
        if a != b
    ]
    return (
        f"{key} was already read ({where}) with another {', '.join(fields)}; this version is not "
        "used: give one version of each Patient (a history Bundle holds several) and ingest again"
    )


def _features(concept: Any, index: dict[tuple[str, str], Any]) -> list[Any]:
    if not isinstance(concept, dict):
        return []
    found = []
    for coding in concept.get("coding") or []:
        hit = index.get((coding.get("system"), coding.get("code")))
        if hit is not None and hit not in found:
            found.append(hit)
    return found


def _codes_of(concept: Any) -> set[str]:
    if not isinstance(concept, dict):
        return set()
    return {str(c.get("code")) for c in concept.get("coding") or []}


def _subject_key(subject: Any, urls: dict[str, str]) -> str | None:
    """The patient key of a reference: ``Patient/<id>`` (also from absolute URLs and urn:uuid)."""
    if not isinstance(subject, dict) or not isinstance(subject.get("reference"), str):
        return None
    ref: str = subject["reference"]
    if ref.startswith("urn:"):
        ref = urls.get(ref, ref)
        return ref if ref.startswith(("Patient/", "urn:")) else None
    parts = ref.split("/_history/")[0].rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] == "Patient":
        return f"Patient/{parts[-1]}"
    return None


def _observation_date(data: dict[str, Any]) -> Date | None:
    period = data.get("effectivePeriod") or {}
    for value in (
        data.get("effectiveDateTime"),
        data.get("effectiveInstant"),
        period.get("start"),
        data.get("issued"),
    ):
        parsed = parse_date(value)
        if parsed is not None:
            return parsed
    return None


def _postal(addresses: Any) -> tuple[str | None, str | None]:
    """Postal code and country of the home address (else the first with a postal code)."""
    candidates = [a for a in addresses or [] if isinstance(a, dict) and a.get("postalCode")]
    candidates.sort(key=lambda a: 0 if a.get("use") == "home" else 1)
    if not candidates:
        return None, None
    best = candidates[0]
    country = best.get("country")
    if not str(country or "").strip() and str(best.get("state") or "").strip().upper() in US_STATES:
        country = "US"  # no country: US only when the state says so
    return str(best["postalCode"]), country


# Identifier preference for the pseudonym's basis: a medical record number (HL7 v2 table 0203
# "MR"), then an official or usual one, then any other; within a class the smallest system|value.
# The order of identifiers in an export carries no meaning, so it must not choose the pseudonym.
_ID_TYPES = "http://terminology.hl7.org/CodeSystem/v2-0203"


def _ranked_identifiers(raw: Any) -> list[tuple[str, str]]:
    def rank(i: dict[str, Any]) -> int:
        codings = ((i.get("type") or {}).get("coding")) or []
        if any(c.get("system") == _ID_TYPES and c.get("code") == "MR" for c in codings):
            return 0
        return 1 if i.get("use") in ("official", "usual") else 2

    found = [(rank(i), str(i.get("system") or ""), str(i.get("value") or ""))
             for i in raw or [] if isinstance(i, dict)]  # fmt: skip
    return [(system, value) for _, system, value in sorted(found)]


def _value(holder: dict[str, Any], feature: Feature) -> tuple[float | str | None, str | None]:
    """(value, None), (None, None) when absent, or (None, reason) when it cannot be used."""
    if "dataAbsentReason" in holder:
        return None, None
    code = _feature_code(feature)
    if feature.kind == "numeric":
        return _numeric(holder.get("valueQuantity"), feature, code)
    if feature.kind == "binary":
        return _binary(holder, feature, code)
    return _categorical(holder.get("valueCodeableConcept"), feature, code)


def _feature_code(feature: Feature) -> str:
    first = feature.source.codes[0] if feature.source.codes else None
    return f"{first.code} ({feature.name})" if first else feature.name


def _numeric(quantity: Any, feature: Feature, code: str) -> tuple[float | None, str | None]:
    if not isinstance(quantity, dict) or quantity.get("value") is None:
        return None, f"Observation {code}: the cohort expects valueQuantity in {feature.unit}"
    value = Decimal(str(quantity["value"]))
    unit = quantity.get("code") if quantity.get("system") == UCUM else None
    unit = unit or quantity.get("unit") or quantity.get("code")
    if unit == feature.unit or unit in feature.unit_aliases:
        return float(value), None
    if isinstance(unit, str) and unit in feature.convert:
        return float(value * feature.convert[unit]), None
    accepted = ", ".join([str(feature.unit), *feature.convert])
    return None, (
        f"Observation {code}: unit {unit!r} is not accepted (the cohort's unit is "
        f"{feature.unit!r}; accepted: {accepted}); convert the value or add a factor to the "
        "cohort definition"
    )


def _binary(holder: dict[str, Any], feature: Feature, code: str) -> tuple[float | None, str | None]:
    if isinstance(holder.get("valueBoolean"), bool):
        return (1.0 if holder["valueBoolean"] else 0.0), None
    concept = holder.get("valueCodeableConcept") or {}
    for coding in concept.get("coding") or []:
        if coding.get("system") == V2_YES_NO and coding.get("code") in ("Y", "N"):
            return (1.0 if coding["code"] == "Y" else 0.0), None
    return None, f"Observation {code}: the cohort expects valueBoolean (or a v2-0136 Y/N code)"


def _categorical(concept: Any, feature: Feature, code: str) -> tuple[str | None, str | None]:
    allowed = {(c.system, c.code) for c in feature.categories}
    codings = (concept or {}).get("coding") or [] if isinstance(concept, dict) else []
    for coding in codings:
        if (coding.get("system"), coding.get("code")) in allowed:
            return str(coding["code"]), None
    listed = ", ".join(feature.category_codes)
    return None, (
        f"Observation {code}: the cohort expects valueCodeableConcept with one of: {listed}"
    )
