"""What the federation needs from cryptography, behind one small interface (`Vault`).

Two implementations:
- `HEVault` (`consortium.federation.he`): CKKS through `consortium.crypto` — updates encrypted per
  tensor, the aggregator's weighted sum on ciphertexts with the *public* context only, version
  blobs under AES-256-GCM with the consortium model key. This is the consortium's mode.
- `PlainVault` (here): the same operations on plaintext float64 tensors. It exists for
  `consortium simulate --plaintext`, the baseline of `bench/he_overhead.py`, and nothing else; a
  task run that way gives the blob store operator the updates in the clear.

The weighted sum is defined once for both: ``S = Σ_k (w_k / 10⁶) · Δ_k`` with the integer weights
of the ledger, summed in update order, so that it is a pure function of the ledger and the blobs
(`consortium.federation.recompute` checks it). The sealer forms ``θ + η · S · 10⁶ / D``
(`consortium.federation.versions`).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np
from safetensors.numpy import load, save

__all__ = ["PlainVault", "Vault", "VaultError", "arrays_from_bytes", "arrays_to_bytes"]

Arrays = Mapping[str, np.ndarray]


class VaultError(Exception):
    """A blob that cannot be opened (corrupt, wrong key, not an update)."""


class Vault(Protocol):
    """Encryption and homomorphic aggregation of model updates, and sealing of model versions."""

    @property
    def can_decrypt(self) -> bool:
        """True when this party holds the secret key (members), False for the aggregator."""
        ...

    def encrypt(self, arrays: Arrays) -> bytes:
        """An update (name -> tensor) as one blob."""
        ...

    def decrypt(self, blob: bytes) -> OrderedDict[str, np.ndarray]:
        """The tensors of an update or aggregate blob (float64). Needs the secret key."""
        ...

    def open_update(self, blob: bytes) -> OrderedDict[str, np.ndarray]:
        """`decrypt` of a blob a member submitted as its update, VaultError unless it is laid out
        as `encrypt` makes it (so that `weighted_sum` can sum it with the others)."""
        ...

    def replace(self, blob: bytes, tensor_blob: bytes) -> bytes:
        """``blob`` with the tensors of ``tensor_blob`` substituted (public operation)."""
        ...

    def weighted_sum(self, blobs: Sequence[bytes], weights_ppm: Sequence[int]) -> bytes:
        """``Σ (w/10⁶)·Δ`` over blobs, deterministic, with public material only."""
        ...

    def seal_model(self, safetensors_bytes: bytes) -> bytes:
        """A model version as stored in the blob store."""
        ...

    def open_model(self, blob: bytes) -> bytes:
        """The safetensors bytes of a stored model version."""
        ...


def arrays_to_bytes(arrays: Arrays) -> bytes:
    """float64 tensors as safetensors, the tensor order kept in the metadata (deterministic)."""
    tensors = {k: np.ascontiguousarray(v, dtype=np.float64) for k, v in arrays.items()}
    meta = json.dumps({"names": list(arrays)}, separators=(",", ":"))
    return bytes(save(tensors, metadata={"consortium.plain": meta}))


def arrays_from_bytes(data: bytes) -> OrderedDict[str, np.ndarray]:
    """The inverse of `arrays_to_bytes`."""
    try:
        tensors = load(data)
        header_len = int.from_bytes(data[:8], "little")
        header = json.loads(data[8 : 8 + header_len])
        names = json.loads(header["__metadata__"]["consortium.plain"])["names"]
    except Exception as exc:  # safetensors raises several types for bad bytes
        raise VaultError(f"not a plaintext update blob: {exc}") from exc
    return OrderedDict((n, tensors[n]) for n in names)


class PlainVault:
    """The `Vault` operations on plaintext (see the module docstring: baseline only)."""

    can_decrypt = True

    def encrypt(self, arrays: Arrays) -> bytes:
        return arrays_to_bytes(arrays)

    def decrypt(self, blob: bytes) -> OrderedDict[str, np.ndarray]:
        return arrays_from_bytes(blob)

    def open_update(self, blob: bytes) -> OrderedDict[str, np.ndarray]:
        return self.decrypt(blob)  # any tensors sum in the clear

    def replace(self, blob: bytes, tensor_blob: bytes) -> bytes:
        arrays = arrays_from_bytes(blob)
        for name, value in arrays_from_bytes(tensor_blob).items():
            if name not in arrays or arrays[name].shape != value.shape:
                raise VaultError(f"tensor {name} does not fit the update")
            arrays[name] = value
        return arrays_to_bytes(arrays)

    def weighted_sum(self, blobs: Sequence[bytes], weights_ppm: Sequence[int]) -> bytes:
        if not blobs or len(blobs) != len(weights_ppm):
            raise VaultError("need as many weights as blobs, at least one")
        total: OrderedDict[str, np.ndarray] | None = None
        for blob, w in zip(blobs, weights_ppm, strict=True):
            arrays = arrays_from_bytes(blob)
            scaled = OrderedDict((k, v * (w / 1_000_000)) for k, v in arrays.items())
            total = (
                scaled if total is None else OrderedDict((k, total[k] + scaled[k]) for k in total)
            )
        assert total is not None
        return arrays_to_bytes(total)

    def seal_model(self, safetensors_bytes: bytes) -> bytes:
        return safetensors_bytes

    def open_model(self, blob: bytes) -> bytes:
        return blob
