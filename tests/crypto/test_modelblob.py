"""Version blobs under AES-256-GCM with the model key."""

from __future__ import annotations

import hashlib
import os

import pytest

from consortium.crypto import ModelBlobError, decrypt_model_blob, encrypt_model_blob

KEY = os.urandom(32)
MODEL = b"safetensors bytes " * 100
LABELS = {"task_id": "t1", "version": 3}


def test_round_trip_checks_the_ledger_digest() -> None:
    blob = encrypt_model_blob(MODEL, KEY, LABELS)
    digest = hashlib.sha256(MODEL).hexdigest()
    assert decrypt_model_blob(blob, KEY, LABELS, expected_model_digest=digest) == MODEL
    assert MODEL[:32] not in blob
    with pytest.raises(ModelBlobError, match="the ledger says"):
        decrypt_model_blob(blob, KEY, LABELS, expected_model_digest="0" * 64)


def test_fresh_nonce_per_blob() -> None:
    assert encrypt_model_blob(MODEL, KEY) != encrypt_model_blob(MODEL, KEY)


@pytest.mark.parametrize(
    ("key", "labels", "mangle"),
    [
        (os.urandom(32), LABELS, lambda b: b),
        (KEY, {"task_id": "t1", "version": 4}, lambda b: b),
        (KEY, LABELS, lambda b: b[:-1] + bytes([b[-1] ^ 1])),
    ],
)
def test_wrong_key_labels_or_bytes_fail(key: bytes, labels, mangle) -> None:
    blob = mangle(encrypt_model_blob(MODEL, KEY, LABELS))
    with pytest.raises(ModelBlobError, match="does not decrypt"):
        decrypt_model_blob(blob, key, labels)


def test_other_bytes_are_not_a_model_blob() -> None:
    with pytest.raises(ModelBlobError, match="bad magic"):
        decrypt_model_blob(b"PK\x03\x04" + MODEL, KEY)
