"""The codes ingest decides on have required R4 value sets that `fhir.resources` does not check: a
Patient.gender of "M" became sex "unknown" without a word, an Observation.status of "done" was used
as final, a Bundle.type of "foo" accepted. Each is quarantined, naming the field and the codes."""

from __future__ import annotations

import json

import pytest

from consortium.fhir.validate import validate_resource

OBSERVATION = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}}


@pytest.mark.parametrize(
    ("resource", "fragment"),
    [
        ({"resourceType": "Patient", "gender": "M"}, "Patient.gender 'M'"),
        ({**OBSERVATION, "status": "done"}, "Observation.status 'done'"),
        ({"resourceType": "Bundle", "type": "foo"}, "Bundle.type 'foo'"),
    ],
)
def test_a_code_outside_its_required_value_set_is_refused(
    resource: dict[str, object], fragment: str
) -> None:
    reason = validate_resource(resource)
    assert reason is not None and fragment in reason and "use one of" in reason


def test_the_required_codes_are_accepted() -> None:
    for gender in ("male", "female", "other", "unknown"):
        assert validate_resource({"resourceType": "Patient", "gender": gender}) is None
    assert validate_resource({**OBSERVATION, "status": "entered-in-error"}) is None
    bundle = {"resourceType": "Bundle", "type": "history"}
    assert validate_resource(bundle) is None, json.dumps(bundle)
