"""Condition.clinicalStatus and Condition.verificationStatus decide whether a Condition of the
label's code counts (a refuted or resolved one does not), and both have required R4 value sets
that `fhir.resources` does not check. A status of "Resolved" or "ruled-out" was accepted and the
Condition counted as label 1; such a Condition is quarantined, naming the field and the codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consortium.fhir.ingest import ingest
from consortium.fhir.validate import validate_resource

CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"


def _condition(clinical: object, verification: object, pid: str = "p1") -> dict[str, object]:
    condition: dict[str, object] = {
        "resourceType": "Condition",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "53741008"}]},
        "subject": {"reference": f"Patient/{pid}"},
    }
    for name, coding in (("clinicalStatus", clinical), ("verificationStatus", verification)):
        if coding is not None:
            condition[name] = {"coding": [coding]}
    return condition


@pytest.mark.parametrize(
    ("clinical", "verification", "fragment"),
    [
        ({"system": CLINICAL, "code": "Resolved"}, None, "Condition.clinicalStatus 'Resolved'"),
        (None, {"system": VERIFICATION, "code": "ruled-out"}, "verificationStatus 'ruled-out'"),
        ({"code": "active"}, None, f"Condition.clinicalStatus has no coding of {CLINICAL}"),
    ],
)
def test_a_status_outside_its_required_value_set_is_refused(
    clinical: object, verification: object, fragment: str
) -> None:
    reason = validate_resource(_condition(clinical, verification))
    assert reason is not None and fragment in reason and "use one of" in reason


def test_the_required_status_codes_are_accepted() -> None:
    for code in ("active", "recurrence", "relapse", "inactive", "remission", "resolved"):
        assert validate_resource(_condition({"system": CLINICAL, "code": code}, None)) is None
    verified = ("unconfirmed", "provisional", "differential", "confirmed", "refuted")
    for code in (*verified, "entered-in-error"):
        coding = {"system": VERIFICATION, "code": code}
        assert validate_resource(_condition(None, coding)) is None
    assert validate_resource(_condition(None, None)) is None  # both are optional in R4


def test_a_condition_with_an_unknown_status_does_not_make_the_label(tmp_path: Path) -> None:
    patient = {"resourceType": "Patient", "id": "p1", "gender": "male", "birthDate": "1950-01-01"}
    resolved = _condition({"system": CLINICAL, "code": "Resolved"}, None)
    source = tmp_path / "in.ndjson"
    source.write_text(json.dumps(patient) + "\n" + json.dumps(resolved) + "\n")

    report = ingest([source], "s1", "heart", tmp_path / "out", k=1)

    assert report.by_type["Condition"].quarantined == 1
    assert report.used == 0
