"""fhir: read FHIR R4 (resources, Bundles, bulk-export NDJSON), validate with the R4B models of
``fhir.resources``, quarantine what is invalid with a precise reason, and map what the cohort
definition asks for to the anonymized cohort table.

Public API:

- ``consortium.fhir.ingest.ingest(paths, site, cohort, out, k=5, *, key_path=None,
  progress=None, on_item=None) -> IngestReport`` (the `consortium ingest` command);
- ``consortium.fhir.cohort.load_cohort(name) -> CohortDefinition`` and ``table_columns``;
- ``consortium.fhir.validate.validate_resource(dict) -> str | None``.

Submodules are imported explicitly (this package imports nothing heavy on its own).
"""
