"""Version blobs: a model's safetensors bytes under AES-256-GCM with the consortium model key.

The ledger records two digests per version (docs/decisions/0001-protocol.md, "Versions and their
blobs"): ``model_digest`` = SHA-256 of the plaintext safetensors (deterministic, what ``trace``
recomputes) and ``blob_digest`` = SHA-256 of this encrypted blob (what the blob store serves).

Format: ``b"CSMODEL1" | nonce (12 bytes) | AES-256-GCM(ciphertext | tag)``. The AAD is canonical
JSON of ``{"purpose": "consortium/model-blob/v1", **labels}`` so a caller may bind e.g. the task
and version: a blob served under other labels fails to decrypt.

Nonces are random 96-bit values under one long-lived model key. NIST SP 800-38D (sec. 8.3) allows
at most 2^32 random-nonce encryptions per key, which keeps the collision probability below 2^-32;
a consortium seals a few thousand versions. The key is rotated by re-provisioning.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from consortium.canonical import canonical_json

__all__ = ["ModelBlobError", "decrypt_model_blob", "encrypt_model_blob"]

_MAGIC = b"CSMODEL1"


class ModelBlobError(ValueError):
    """A version blob that does not decrypt, or decrypts to other bytes than the ledger says."""


def _aad(labels: Mapping[str, str | int] | None) -> bytes:
    return canonical_json({"purpose": "consortium/model-blob/v1", **(labels or {})})


def encrypt_model_blob(
    model_bytes: bytes, model_key: bytes, labels: Mapping[str, str | int] | None = None
) -> bytes:
    """Encrypt a version's safetensors bytes with the model key; returns the blob bytes."""
    nonce = os.urandom(12)
    return _MAGIC + nonce + AESGCM(model_key).encrypt(nonce, model_bytes, _aad(labels))


def decrypt_model_blob(
    blob: bytes,
    model_key: bytes,
    labels: Mapping[str, str | int] | None = None,
    *,
    expected_model_digest: str | None = None,
) -> bytes:
    """Decrypt a version blob; optionally check the plaintext against the ledger's model digest."""
    if not blob.startswith(_MAGIC) or len(blob) < len(_MAGIC) + 12 + 16:
        raise ModelBlobError("not a consortium model blob (bad magic or too short)")
    nonce = blob[len(_MAGIC) : len(_MAGIC) + 12]
    try:
        plain = AESGCM(model_key).decrypt(nonce, blob[len(_MAGIC) + 12 :], _aad(labels))
    except InvalidTag as err:
        raise ModelBlobError(
            "model blob does not decrypt: wrong model key, other labels, or altered bytes"
        ) from err
    if expected_model_digest is not None:
        got = hashlib.sha256(plain).hexdigest()
        if got != expected_model_digest:
            raise ModelBlobError(
                f"model blob decrypts to {got[:12]}…, the ledger says {expected_model_digest[:12]}…"
            )
    return plain
