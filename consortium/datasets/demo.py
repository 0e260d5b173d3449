"""The UCI heart data as FHIR R4, one folder per hospital, for the demo and the round-trip tests.

``write_demo_fhir(out_dir)`` writes ``out_dir/<site>/Patient.ndjson``, ``Observation.ndjson`` and
``Condition.ndjson`` (bulk-export style) for the four sites, and with ``bundles=True`` also
``out_dir/bundles/<site>.json`` (one transaction Bundle per site, ``urn:uuid:`` references).

Every UCI row becomes one Patient (synthetic name, address, phone, e-mail, MRN and insurance
number, a narrative naming the patient: all deterministic from the row id, so anonymization has
identifiers to remove and tests can list them), one Observation per feature value present (codes
and units from ``data_schemas/cohorts/heart.json``), and, when ``num > 0``, one Condition (SNOMED
CT 53741008). All of a site's resources are dated on the site's encounter date, and the birth date
is drawn so that the completed age on that date is the UCI age. The data is valid: tests inject
their own defects.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from consortium.datasets.heart import (
    CP_CODES,
    RESTECG_CODES,
    SITES,
    demo_mrn,
    demo_postal_code,
    load_heart,
)
from consortium.fhir.cohort import Feature, load_cohort

__all__ = ["ENCOUNTER_DATES", "demo_identifiers", "demo_resources", "write_demo_fhir"]

ENCOUNTER_DATES = {
    "cleveland": dt.date(1984, 6, 15),
    "hungary": dt.date(1985, 3, 11),
    "switzerland": dt.date(1986, 9, 22),
    "va": dt.date(1987, 11, 5),
}
"""Synthetic encounter dates (the UCI data was collected 1981-1988; exact dates are not public)."""

_NAMESPACE = uuid.UUID("6f1f6b0e-8d8e-4c55-9a53-4f8c1d2e7a10")
_UCUM = "http://unitsofmeasure.org"
_NAMES = {
    "US": (
        ["James", "Mary", "Robert", "Patricia", "John", "Linda", "Michael", "Barbara", "William",
         "Elizabeth", "David", "Susan", "Richard", "Jessica", "Joseph", "Sarah", "Thomas", "Karen"],
        ["Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson",
         "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Thompson", "White"],
        ["Euclid Avenue", "Carnegie Avenue", "Ocean Boulevard", "Atlantic Avenue", "Pine Street"],
    ),
    "HU": (
        ["László", "Mária", "István", "Erzsébet", "József", "Katalin", "János", "Ilona", "Zoltán",
         "Éva", "Sándor", "Anna", "Ferenc", "Zsuzsanna", "Gábor", "Margit"],
        ["Nagy", "Kovács", "Tóth", "Szabó", "Horváth", "Varga", "Kiss", "Molnár", "Németh",
         "Farkas", "Balogh", "Papp", "Takács", "Juhász"],
        ["Andrássy út", "Váci utca", "Rákóczi út", "Üllői út", "Bartók Béla út"],
    ),
    "CH": (
        ["Hans", "Ursula", "Peter", "Verena", "Walter", "Ruth", "Beat", "Elisabeth", "Urs",
         "Monika", "Markus", "Brigitte", "Daniel", "Heidi", "Thomas", "Silvia"],
        ["Müller", "Meier", "Schmid", "Keller", "Weber", "Huber", "Schneider", "Meyer",
         "Steiner", "Fischer", "Gerber", "Brunner", "Baumann", "Frei"],
        ["Bahnhofstrasse", "Seefeldstrasse", "Limmatquai", "Badenerstrasse", "Hottingerstrasse"],
    ),
}  # fmt: skip


def _uuid(*parts: object) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(str(p) for p in parts)))


def demo_identifiers(site: str, uci_id: int) -> dict[str, Any]:
    """The synthetic direct identifiers of one demo patient (deterministic from site and row id)."""
    place = SITES[site]
    rng = random.Random(f"consortium-demo/{site}/{uci_id}")
    given, family, streets = _NAMES[place.country]
    first, last = rng.choice(given), rng.choice(family)
    number = rng.randint(1, 240)
    if place.country == "US":
        phone = f"+1 {rng.randint(201, 989)} 555 {rng.randint(1000, 9999)}"
    else:
        phone = f"+{'36' if place.country == 'HU' else '41'} {rng.randint(10, 99)} {uci_id:07d}"
    mrn_system, mrn = demo_mrn(site, uci_id)
    return {
        "given": first,
        "family": last,
        "phone": phone,
        "email": f"{first.lower()}.{last.lower()}.{uci_id}@example.org",
        "line": f"{number} {rng.choice(streets)}",
        "mrn_system": mrn_system,
        "mrn": mrn,
        "insurance": f"{place.prefix}-INS-{rng.randint(10**8, 10**9 - 1)}",
        "postal_code": demo_postal_code(site, uci_id),
        "birth_offset_days": rng.randint(0, 364),
    }


def _patient(site: str, row: pd.Series, when: dt.date) -> dict[str, Any]:
    uci_id, age = int(row["id"]), int(row["age"])
    ids = demo_identifiers(site, uci_id)
    place = SITES[site]
    anniversary = when.replace(year=when.year - age)
    birth = anniversary - dt.timedelta(days=ids["birth_offset_days"])
    name = f"{ids['given']} {ids['family']}"
    address = {"use": "home", "line": [ids["line"]], "city": place.city}
    if place.state:
        address["state"] = place.state
    address |= {"postalCode": ids["postal_code"], "country": place.country}
    return {
        "resourceType": "Patient",
        "id": _uuid(site, "Patient", uci_id),
        "text": {
            "status": "generated",
            "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{name}, MRN {ids["mrn"]}</div>',
        },
        "identifier": [
            {"use": "usual", "system": ids["mrn_system"], "value": ids["mrn"]},
            {"system": f"https://consortium.dev/demo/{site}/insurance", "value": ids["insurance"]},
        ],
        "name": [{"use": "official", "family": ids["family"], "given": [ids["given"]]}],
        "telecom": [
            {"system": "phone", "value": ids["phone"], "use": "home"},
            {"system": "email", "value": ids["email"]},
        ],
        "gender": str(row["sex"]).lower(),
        "birthDate": birth.isoformat(),
        "address": [address],
    }


def _value(feature: Feature, raw: Any) -> dict[str, Any]:
    if feature.kind == "numeric":
        number = float(raw)
        value: int | float = int(number) if number.is_integer() else number
        return {"valueQuantity": {"value": value, "unit": feature.unit, "system": _UCUM,
                                  "code": feature.unit}}  # fmt: skip
    if feature.kind == "binary":
        return {"valueBoolean": bool(raw >= 0.5)}
    codes = CP_CODES if feature.name == "cp" else RESTECG_CODES
    code = codes[str(raw)]
    coding = next(c for c in feature.categories if c.code == code)
    return {"valueCodeableConcept": {"coding": [coding.model_dump(exclude_none=True)]}}


def _observations(site: str, row: pd.Series, when: dt.date) -> Iterator[dict[str, Any]]:
    cohort = load_cohort("heart")
    uci_id = int(row["id"])
    for feature in cohort.features:
        if feature.source.resource != "Observation" or pd.isna(row[feature.name]):
            continue
        code = feature.source.codes[0]
        yield {
            "resourceType": "Observation",
            "id": _uuid(site, "Observation", uci_id, feature.name),
            "status": "final",
            "code": {"coding": [code.model_dump(exclude_none=True)], "text": code.display},
            "subject": {"reference": f"Patient/{_uuid(site, 'Patient', uci_id)}"},
            "effectiveDateTime": when.isoformat(),
            **_value(feature, row[feature.name]),
            "note": [{"text": f"Recorded for MRN {demo_mrn(site, uci_id)[1]} at the visit."}],
        }


def _condition(site: str, row: pd.Series, when: dt.date) -> dict[str, Any]:
    uci_id = int(row["id"])
    code = load_cohort("heart").label.source.codes[0]
    hl7 = "http://terminology.hl7.org/CodeSystem/condition-"
    return {
        "resourceType": "Condition",
        "id": _uuid(site, "Condition", uci_id),
        "clinicalStatus": {"coding": [{"system": hl7 + "clinical", "code": "active"}]},
        "verificationStatus": {"coding": [{"system": hl7 + "ver-status", "code": "confirmed"}]},
        "code": {"coding": [code.model_dump(exclude_none=True)]},
        "subject": {"reference": f"Patient/{_uuid(site, 'Patient', uci_id)}"},
        "recordedDate": when.isoformat(),
        "note": [{"text": f"Angiography: {int(row['num'])} vessel(s) > 50 % narrowing."}],
    }


def demo_resources(site: str) -> dict[str, list[dict[str, Any]]]:
    """The FHIR resources of one site's demo data, by resource type."""
    rows = load_heart()
    rows = rows[rows["site"] == site]
    when = ENCOUNTER_DATES[site]
    out: dict[str, list[dict[str, Any]]] = {"Patient": [], "Observation": [], "Condition": []}
    for _, row in rows.iterrows():
        out["Patient"].append(_patient(site, row, when))
        out["Observation"].extend(_observations(site, row, when))
        if int(row["label"]) == 1:
            out["Condition"].append(_condition(site, row, when))
    return out


def write_demo_fhir(out_dir: Path | str, *, bundles: bool = False) -> dict[str, Path]:
    """Write the demo FHIR of the four sites under ``out_dir``; return each site's folder."""
    root = Path(out_dir)
    folders: dict[str, Path] = {}
    for site in SITES:
        folder = root / site
        folder.mkdir(parents=True, exist_ok=True)
        resources = demo_resources(site)
        for resource_type, items in resources.items():
            lines = (json.dumps(r, ensure_ascii=False) for r in items)
            (folder / f"{resource_type}.ndjson").write_text(
                "".join(line + "\n" for line in lines), encoding="utf-8"
            )
        if bundles:
            _write_bundle(root / "bundles" / f"{site}.json", resources)
        folders[site] = folder
    return folders


def _write_bundle(path: Path, resources: dict[str, list[dict[str, Any]]]) -> None:
    """A transaction Bundle whose references are ``urn:uuid:`` fullUrls, as senders write them."""
    entries = []
    for items in resources.values():
        for resource in items:
            copy = json.loads(json.dumps(resource))
            if "subject" in copy:
                copy["subject"] = {"reference": "urn:uuid:" + copy["subject"]["reference"][8:]}
            request = {"method": "POST", "url": copy["resourceType"]}
            entries.append({"fullUrl": f"urn:uuid:{copy['id']}", "resource": copy,
                            "request": request})  # fmt: skip
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(bundle, ensure_ascii=False), encoding="utf-8")
