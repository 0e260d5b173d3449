"""`HEVault`: the federation's `Vault` on CKKS (TenSEAL, via `consortium.crypto`).

- updates: `consortium.crypto.update` (per-tensor chunked CKKS, canonical blob format);
- the aggregator's weighted sum: ``Σ (w/10⁶)·Enc(Δ)`` with the *public* context (no secret key, no
  Galois keys: 0001 and DESIGN.md "aggregator holds only the public context");
- version blobs: AES-256-GCM under the consortium model key, which travels with the secret context
  in each member's wrapped key bundle (so the aggregator, which has neither, cannot read models).
  (`consortium.crypto.modelblob`, which explains its nonces).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from consortium.federation.vault import VaultError

__all__ = ["HEVault"]


class HEVault:
    """CKKS updates and AES-GCM model blobs; ``ctx`` is a `consortium.crypto.context.CkksContext`.

    ``model_key`` is None for the aggregator, whose context is public too: it can neither
    decrypt updates nor open model versions.
    """

    def __init__(self, ctx: Any, model_key: bytes | None) -> None:
        if model_key is not None and len(model_key) != 32:
            raise ValueError("the model key must be 32 bytes (AES-256)")
        self.ctx = ctx
        self._key = model_key

    @property
    def can_decrypt(self) -> bool:
        return bool(self.ctx.can_decrypt)

    def encrypt(self, arrays: Mapping[str, np.ndarray]) -> bytes:
        from consortium.crypto.update import encrypt_update

        return encrypt_update({k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()},
                              self.ctx).to_bytes()  # fmt: skip

    def decrypt(self, blob: bytes) -> OrderedDict[str, np.ndarray]:
        from consortium.crypto.update import decrypt_update

        try:
            out = decrypt_update(blob, self.ctx, dtype="float64")
        except PermissionError:
            raise
        except Exception as exc:
            raise VaultError(f"cannot decrypt the blob: {exc}") from exc
        return OrderedDict(out.items())

    def open_update(self, blob: bytes) -> OrderedDict[str, np.ndarray]:
        from consortium.crypto.update import UpdateFormatError, open_submission

        try:
            out = open_submission(blob, self.ctx, dtype="float64")
        except UpdateFormatError as exc:
            raise VaultError(f"not an update as members submit them: {exc}") from exc
        except PermissionError:
            raise
        except Exception as exc:
            raise VaultError(f"cannot decrypt the blob: {exc}") from exc
        return OrderedDict(out.items())

    def replace(self, blob: bytes, tensor_blob: bytes) -> bytes:
        from consortium.crypto.update import EncryptedUpdate, replace_tensor

        src = EncryptedUpdate.from_bytes(tensor_blob)
        out = EncryptedUpdate.from_bytes(blob)
        for entry in src.header.tensors:
            out = replace_tensor(out, entry.name, src)
        return out.to_bytes()

    def weighted_sum(self, blobs: Sequence[bytes], weights_ppm: Sequence[int]) -> bytes:
        from consortium.crypto.update import weighted_sum

        return weighted_sum(list(blobs), [int(w) for w in weights_ppm], self.ctx).to_bytes()

    def seal_model(self, safetensors_bytes: bytes) -> bytes:
        from consortium.crypto.modelblob import encrypt_model_blob

        if self._key is None:
            raise PermissionError("this party holds no model key")
        return encrypt_model_blob(safetensors_bytes, self._key)

    def open_model(self, blob: bytes) -> bytes:
        from consortium.crypto.modelblob import ModelBlobError, decrypt_model_blob

        if self._key is None:
            raise PermissionError("this party holds no model key")
        try:
            return decrypt_model_blob(blob, self._key)
        except ModelBlobError as exc:
            raise VaultError(str(exc)) from exc
