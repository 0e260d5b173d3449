"""anonymize: HIPAA Safe Harbor generalizations (``safe_harbor``), keyed HMAC pseudonyms with a
per-site key (``pseudonym``), k-anonymity by suppression (``kanon``), and the cohort table built
from extracted FHIR facts (``cohort_table``). docs/decisions/0002-anonymization.md explains the
choices."""
