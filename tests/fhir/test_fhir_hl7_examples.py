"""The FHIR R4 specification's own examples (npm hl7.fhir.r4.examples@4.0.1, by HL7, CC0).

The package holds 5,306 resources; the conformance resources (the definitional artifacts a FHIR
validator loads from a package: StructureDefinition, ValueSet, CodeSystem, CapabilityStatement,
SearchParameter, OperationDefinition, ConceptMap, ImplementationGuide, NamingSystem,
CompartmentDefinition, StructureMap) are left out; the 725 files that remain are clinical,
administrative, workflow and financial resources (and Bundles). Each must be accepted or
quarantined with a reason; none may crash the run; Questionnaire-qs1.json, invalid in the spec
itself (items without linkId), must be quarantined.
"""

from __future__ import annotations

import json
from pathlib import Path

from consortium.fhir.ingest import ingest
from consortium.fhir.reader import RawResource
from consortium.fhir.validate import R4_ONLY_TYPES

CONFORMANCE = {
    "StructureDefinition", "ValueSet", "CodeSystem", "CapabilityStatement", "SearchParameter",
    "OperationDefinition", "ConceptMap", "ImplementationGuide", "NamingSystem",
    "CompartmentDefinition", "StructureMap",
}  # fmt: skip


def _non_conformance(package: Path) -> list[Path]:
    files = []
    for path in sorted(package.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if "resourceType" in data and data["resourceType"] not in CONFORMANCE:
            files.append(path)
    return files


def test_every_example_is_accepted_or_quarantined(hl7_examples: Path, tmp_path: Path) -> None:
    files = _non_conformance(hl7_examples)
    print(f"non-conformance example files: {len(files)}")
    assert len(files) == 725
    verdicts: dict[str, list[str | None]] = {}

    def record(item: RawResource, reason: str | None) -> None:
        verdicts.setdefault(Path(item.source).name, []).append(reason)

    report = ingest(files, "hl7", "heart", tmp_path, k=1, on_item=record)

    assert set(verdicts) == {p.name for p in files}  # every file was read and judged
    for reasons in verdicts.values():
        assert all(r is None or len(r) > 10 for r in reasons)
    assert report.read == report.accepted + report.quarantined == sum(map(len, verdicts.values()))
    assert report.quarantined == len(list((tmp_path / "quarantine").glob("*.json")))
    qs1 = verdicts["Questionnaire-qs1.json"]
    assert len(qs1) == 1 and qs1[0] is not None and "Questionnaire.item.0.item.0.linkId" in qs1[0]
    r4_only = [p.name for p in files if p.name.split("-")[0] in R4_ONLY_TYPES]
    assert len(r4_only) == 13
    for name in r4_only:
        reason = verdicts[name][0]
        assert reason is not None and "R4B removed" in reason
    assert verdicts["Patient-example.json"] == [None]
