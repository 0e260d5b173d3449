"""The per-site pseudonym key and HMAC pseudonyms."""

from __future__ import annotations

from pathlib import Path

import pytest

from consortium.anonymize.pseudonym import (
    PseudonymKeyError,
    fingerprint,
    load_or_create_key,
    patient_basis,
    pseudonym,
)


def test_key_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "site" / "secrets" / "pseudonym.key"
    key = load_or_create_key(path)
    assert len(key) == 32 and path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_key(path) == key
    assert load_or_create_key(tmp_path / "other.key") != key


def test_a_run_stopped_while_creating_the_key_leaves_no_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped between creating the key file and writing it, an ingest left an empty key that
    every later run refused ("restore from backup") though no pseudonym had been made with it."""
    import consortium.anonymize.pseudonym as module

    path = tmp_path / "secrets" / "pseudonym.key"

    def stopped(n: int) -> bytes:
        raise KeyboardInterrupt

    monkeypatch.setattr(module.secrets, "token_bytes", stopped)
    with pytest.raises(KeyboardInterrupt):
        load_or_create_key(path)
    monkeypatch.undo()
    assert not path.exists() and not list(path.parent.iterdir())
    assert len(load_or_create_key(path)) == 32


def test_a_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pseudonym.key"
    load_or_create_key(path)
    path.chmod(0o644)
    with pytest.raises(PseudonymKeyError, match="chmod 600"):
        load_or_create_key(path)


def test_a_truncated_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pseudonym.key"
    path.write_bytes(b"short")
    path.chmod(0o600)
    with pytest.raises(PseudonymKeyError, match="holds 5 bytes"):
        load_or_create_key(path)


def test_pseudonyms_depend_on_key_site_and_patient() -> None:
    key, other = bytes(32), bytes([1] * 32)
    basis = patient_basis([("urn:mrn", "12345")], "abc")
    pid = pseudonym(key, "a", basis)
    assert len(pid) == 32 and int(pid, 16) >= 0
    assert pid == pseudonym(key, "a", basis)
    assert len({pid, pseudonym(other, "a", basis), pseudonym(key, "b", basis)}) == 3
    assert "12345" not in pid and pid != pseudonym(key, "a", patient_basis([], "abc"))


def test_basis_prefers_business_identifier() -> None:
    assert patient_basis([("", "x"), ("urn:mrn", "7")], "r1") == "id:urn:mrn|7"
    assert patient_basis([], "Patient/r1") == "ref:Patient/r1"


def test_fingerprint_is_stable_and_reveals_nothing_obvious() -> None:
    key = bytes(range(32))
    assert fingerprint(key) == fingerprint(key) != fingerprint(bytes(32))
    assert len(fingerprint(key)) == 16 and key.hex()[:16] != fingerprint(key)


def test_a_bar_in_the_system_cannot_make_two_identifiers_one_basis() -> None:
    # "urn:x|1" + "|" + "2" and "urn:x" + "|" + "1|2" were the same text: one pseudonym, one row
    assert patient_basis([("urn:x|1", "2")], None) != patient_basis([("urn:x", "1|2")], None)
    assert patient_basis([("a|b", "c|d")], None) != patient_basis([("a", "b|c|d")], None)
    # identifiers whose system has no bar keep their basis, so existing pseudonyms do not change
    assert patient_basis([("urn:x", "1|2")], None) == "id:urn:x|1|2"
