"""datasets: real data that works offline.

- ``consortium.datasets.heart``: the UCI Heart Disease data of four hospitals with its known
  defects fixed (``load_heart``), and ``heart_cohort_table(site=None, *, k=5, key=...)``, the
  cohort table an ingest of the demo FHIR produces, built straight from the CSV;
- ``consortium.datasets.demo``: ``write_demo_fhir(out_dir, *, bundles=False) -> dict[site, Path]``,
  the same rows as FHIR R4 NDJSON per hospital with synthetic identifiers.
"""
