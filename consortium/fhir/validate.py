"""Validate one resource against the FHIR R4B models of ``fhir.resources`` 8.3.0.

``fhir.resources`` 8 ships R5 (default), R4B and STU3 models but no R4. R4B (4.3) kept R4's
clinical and administrative resources nearly unchanged, so R4B models read R4 input. Three cases
cannot be read and are reported as such, never guessed at:

- the 18 R4 resource types that R4B removed (the MedicinalProduct* family, Substance* details, the
  evidence syntheses) -- taken from the R4 specification's own StructureDefinitions;
- R5 or STU3 input: when a resource fails R4B validation but passes the R5 or STU3 model of its
  type (or its type exists only there), the reason says which version it looks like;
- anything else invalid: the reason lists pydantic's error locations (``Observation.valueQuantity.
  value``) and messages, at most three, so an admin can find and fix the field.

The models do not check value-set bindings. The codes ingest decides on (Patient.gender,
Observation.status, Bundle.type, Condition.clinicalStatus and .verificationStatus) have *required*
bindings in R4 and are checked here: a gender of "M" would otherwise become sex "unknown", and a
Condition "Resolved" count as the label, without a word.

Each resource is validated once, from the dict already parsed (``model_validate``), and the model
is not kept: cohort extraction reads the validated dict (see ``consortium.fhir.extract``).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import ValidationError

__all__ = ["R4_ONLY_TYPES", "model_class", "validate_resource"]

R4_ONLY_TYPES = frozenset(
    {
        "EffectEvidenceSynthesis", "MedicinalProduct", "MedicinalProductAuthorization",
        "MedicinalProductContraindication", "MedicinalProductIndication",
        "MedicinalProductIngredient", "MedicinalProductInteraction",
        "MedicinalProductManufactured", "MedicinalProductPackaged",
        "MedicinalProductPharmaceutical", "MedicinalProductUndesirableEffect",
        "RiskEvidenceSynthesis", "SubstanceNucleicAcid", "SubstancePolymer", "SubstanceProtein",
        "SubstanceReferenceInformation", "SubstanceSourceMaterial", "SubstanceSpecification",
    }
)  # fmt: skip
"""R4 resource types without an R4B model (R4's resource StructureDefinitions minus R4B's)."""

MAX_ERRORS = 3

REQUIRED_CODES = {
    ("Patient", "gender"): ("male", "female", "other", "unknown"),
    ("Observation", "status"): (
        "registered", "preliminary", "final", "amended", "corrected", "cancelled",
        "entered-in-error", "unknown",
    ),
    ("Bundle", "type"): (
        "document", "message", "transaction", "transaction-response", "batch", "batch-response",
        "history", "searchset", "collection",
    ),
}  # fmt: skip
"""R4's required value sets (administrative-gender, observation-status, bundle-type) of the
codes that ingest reads."""

REQUIRED_CONCEPTS = {
    ("Condition", "clinicalStatus"): (
        "http://terminology.hl7.org/CodeSystem/condition-clinical",
        ("active", "recurrence", "relapse", "inactive", "remission", "resolved"),
    ),
    ("Condition", "verificationStatus"): (
        "http://terminology.hl7.org/CodeSystem/condition-ver-status",
        ("unconfirmed", "provisional", "differential", "confirmed", "refuted", "entered-in-error"),
    ),
}
"""R4's required value sets (condition-clinical, condition-ver-status) of the CodeableConcepts that
ingest reads: a coding of the code system is required, and each one must hold one of its codes."""


@cache
def model_class(release: str, resource_type: str) -> Any:
    """The ``fhir.resources`` model class of ``resource_type`` in ``release`` (R4B, R5, STU3), or
    None when that release has no such type."""
    if release == "R4B":
        from fhir.resources.R4B import get_fhir_model_class
    elif release == "STU3":
        from fhir.resources.STU3 import get_fhir_model_class
    else:
        from fhir.resources import get_fhir_model_class
    try:
        return get_fhir_model_class(resource_type)
    except (ValueError, KeyError, ImportError, AttributeError):
        return None


def validate_resource(data: dict[str, Any]) -> str | None:
    """Validate ``data`` as an R4 resource; return None if valid, else the reason (one line)."""
    resource_type = data.get("resourceType")
    if not isinstance(resource_type, str) or not resource_type:
        return "no resourceType: not a FHIR resource"
    model = model_class("R4B", resource_type)
    if model is None:
        return _unknown_type_reason(resource_type)
    try:
        model.model_validate(data)
    except ValidationError as exc:
        return _errors_reason(resource_type, exc) + _other_release_hint(resource_type, data)
    except Exception as exc:  # a validator of the library itself failed: still a reason
        return f"{resource_type}: {type(exc).__name__}: {exc}"
    return _code_reason(resource_type, data)


def _code_reason(resource_type: str, data: dict[str, Any]) -> str | None:
    for (rtype, name), codes in REQUIRED_CODES.items():
        value = data.get(name)
        if rtype == resource_type and value is not None and value not in codes:
            return (
                f"invalid FHIR R4: {rtype}.{name} {value!r} is not in its required value set; "
                f"use one of: {', '.join(codes)}"
            )
    for (rtype, name), (system, codes) in REQUIRED_CONCEPTS.items():
        if rtype == resource_type and isinstance(data.get(name), dict):
            reason = _concept_reason(f"{rtype}.{name}", data[name], system, codes)
            if reason is not None:
                return reason
    return None


def _concept_reason(
    field: str, concept: dict[str, Any], system: str, codes: tuple[str, ...]
) -> str | None:
    """Why a CodeableConcept (already valid FHIR) misses its required value set, or None."""
    found = [c.get("code") for c in concept.get("coding") or [] if c.get("system") == system]
    wrong = [code for code in found if code not in codes]
    use = f"use one of: {', '.join(codes)} (system {system})"
    if wrong:
        return f"invalid FHIR R4: {field} {wrong[0]!r} is not in its required value set; {use}"
    if not found:
        return f"invalid FHIR R4: {field} has no coding of {system} (a required value set); {use}"
    return None


def _unknown_type_reason(resource_type: str) -> str:
    if resource_type in R4_ONLY_TYPES:
        return (
            f"{resource_type} is an R4 resource type that R4B removed; fhir.resources has no R4 "
            "model for it, so it cannot be validated (not used by any cohort)"
        )
    if model_class("R5", resource_type) is not None:
        return f"{resource_type} is a FHIR R5 resource type; this node reads FHIR R4"
    if model_class("STU3", resource_type) is not None:
        return f"{resource_type} is a FHIR STU3 resource type; this node reads FHIR R4"
    return f"unknown resource type {resource_type!r}"


def _errors_reason(resource_type: str, exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    parts = []
    for error in errors[:MAX_ERRORS]:
        loc = ".".join(str(p) for p in error["loc"])
        where = f"{resource_type}.{loc}" if loc else resource_type
        parts.append(f"{where}: {error['msg']}")
    more = f" (and {len(errors) - MAX_ERRORS} more)" if len(errors) > MAX_ERRORS else ""
    return "invalid FHIR R4: " + "; ".join(parts) + more


def _other_release_hint(resource_type: str, data: dict[str, Any]) -> str:
    for release, name in (("R5", "FHIR R5"), ("STU3", "FHIR STU3")):
        model = model_class(release, resource_type)
        if model is None:
            continue
        try:
            model.model_validate(data)
        except Exception:
            continue
        return f" -- it validates as {name}: this node reads FHIR R4, convert it first"
    return ""
