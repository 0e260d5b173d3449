"""Keyed pseudonyms that link a patient's resources without naming the patient.

A pseudonym is ``HMAC-SHA256(key, "consortium/pid/v1|" + site + "|" + basis)`` cut to 128 bits
(32 hex characters), where ``basis`` names one identifier unambiguously (:func:`patient_basis`).
Why:

- A keyed function (HMAC, RFC 2104), not a plain hash: medical record numbers are short and
  guessable, so ``sha256(mrn)`` could be reversed by hashing every candidate. Without the site's key
  nobody can compute or test a pseudonym. Safe Harbor allows such a re-identification code when it
  is not derived from the identifier in a way others can reverse and its key is not disclosed
  (45 CFR 164.514(c)).
- One random 256-bit key per site, created on first use with mode 0600 in the site's folder and
  never sent anywhere: two sites' pseudonyms of the same person cannot be joined, and a site that
  re-ingests a new export with the same key gets the same pseudonyms (longitudinal linkage).
- The domain prefix and the site name keep these HMAC outputs apart from any other use of a key.
- 128 bits: collisions among even 10^9 patients have probability below 10^-20.
- Reports carry only a fingerprint (a domain-separated SHA-256 of the key, 16 hex characters), so a
  site can check which key produced a cohort without revealing it.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
import stat
from collections.abc import Iterable
from pathlib import Path

from consortium.canonical import canonical_json
from consortium.durable import create_durably

__all__ = ["PseudonymKeyError", "fingerprint", "load_or_create_key", "patient_basis", "pseudonym"]

KEY_BYTES = 32


class PseudonymKeyError(Exception):
    """The pseudonym key file is unusable (wrong size, readable by others)."""


def load_or_create_key(path: Path) -> bytes:
    """Read the site's pseudonym key, creating it (32 random bytes, mode 0600) if absent.

    A new key appears whole or not at all: it is written and synced under a temporary name, then
    linked to ``path`` (which fails if another ingest created it first: that key is read) and the
    folder synced. A run stopped midway leaves no empty key that the next run would refuse."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with contextlib.suppress(FileExistsError):  # another ingest created it first: read it
            create_durably(path, secrets.token_bytes(KEY_BYTES), mode=0o600)
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise PseudonymKeyError(
            f"pseudonym key {path} is accessible by other users (mode {mode:04o}); "
            f"run `chmod 600 {path}`"
        )
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise PseudonymKeyError(
            f"pseudonym key {path} holds {len(key)} bytes, expected {KEY_BYTES}; "
            "restore the site's key from its backup (a new key changes every pseudonym)"
        )
    return key


def fingerprint(key: bytes) -> str:
    """A public, non-reversible name of ``key``: 16 hex characters of a domain-separated SHA-256."""
    return hashlib.sha256(b"consortium/pid-key-fingerprint/v1|" + key).hexdigest()[:16]


def pseudonym(key: bytes, site: str, basis: str) -> str:
    """The pseudonym (32 hex characters) of the patient identified by ``basis`` at ``site``."""
    message = f"consortium/pid/v1|{site}|{basis}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def patient_basis(identifiers: Iterable[tuple[str, str]], reference: str | None) -> str:
    """What a pseudonym is computed from: the first business identifier (system|value), because it
    survives a re-export (`consortium.fhir.extract` lists a Patient's identifiers in an order that
    does not depend on the export's: medical record numbers first); else the Patient's reference
    within the export (``Patient/<id>``, or the Bundle entry's ``fullUrl`` for a Patient without
    an id), which tells patients apart within one export only.

    The basis must name one identifier only. ``id:system|value`` does when the system holds no
    ``|`` (the first ``|`` ends it), and that form is kept so that existing pseudonyms stay as they
    are; a system with a ``|`` (a FHIR ``uri`` may hold one) would make ``urn:x|1`` + ``2`` and
    ``urn:x`` + ``1|2`` one basis, one pseudonym and one merged row, so such an identifier is
    written as canonical JSON under its own prefix, ``idj:["system","value"]``."""
    for system, value in identifiers:
        if system and value:
            if "|" in system:
                return "idj:" + canonical_json([system, value]).decode()
            return f"id:{system}|{value}"
    return f"ref:{reference or ''}"
