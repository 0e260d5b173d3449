"""CKKS homomorphic encryption of model updates, the consortium key bundle, and version blobs.

- `params`: the CKKS parameter set and why (128-bit security, depth 1, 1e-6 precision);
- `context`: `CkksContext`, a TenSEAL context with its ledger digest;
- `update`: encrypt / decrypt / weighted-sum / replace-tensor of encrypted updates, and the blob
  format;
- `keywrap`: the key bundle wrapped per member (ECDH P-256 + HKDF-SHA256 + AES-256-GCM);
- `modelblob`: version blobs under AES-256-GCM with the model key;
- `setup`: provisioning at ``init``, sharing with new members, loading a member's keys;
- `bench`: measurements used by ``bench/he_overhead.py``.

Decision record: docs/decisions/0005-encryption.md. TenSEAL is imported lazily (inside functions).
"""

from consortium.crypto.context import CkksContext, ContextMismatchError
from consortium.crypto.keywrap import (
    KeyBundle,
    KeyUnwrapError,
    WrappedKey,
    unwrap_bundle,
    wrap_bundle,
)
from consortium.crypto.modelblob import ModelBlobError, decrypt_model_blob, encrypt_model_blob
from consortium.crypto.params import PARAMS, CkksParams
from consortium.crypto.setup import (
    ProvisionResult,
    ShareKeyArgs,
    load_member_keys,
    load_private_key,
    provision_keys,
    share_key,
)
from consortium.crypto.update import (
    EncryptedUpdate,
    UpdateFormatError,
    decrypt_update,
    encrypt_update,
    replace_tensor,
    weighted_sum,
)

__all__ = [
    "PARAMS",
    "CkksContext",
    "CkksParams",
    "ContextMismatchError",
    "EncryptedUpdate",
    "KeyBundle",
    "KeyUnwrapError",
    "ModelBlobError",
    "ProvisionResult",
    "ShareKeyArgs",
    "UpdateFormatError",
    "WrappedKey",
    "decrypt_model_blob",
    "decrypt_update",
    "encrypt_model_blob",
    "encrypt_update",
    "load_member_keys",
    "load_private_key",
    "provision_keys",
    "replace_tensor",
    "share_key",
    "unwrap_bundle",
    "weighted_sum",
    "wrap_bundle",
]
