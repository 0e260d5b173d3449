"""Model weights <-> safetensors bytes, deterministically.

The ledger records ``model_digest = sha256(bytes)``, so the same weights must always give the same
bytes, on every machine and in every process. safetensors sorts tensors by dtype and name, but
keeps its ``__metadata__`` in a hash map whose order changes from call to call when it holds more
than one key (seen with safetensors 0.8). We therefore write exactly one metadata entry,
``"consortium"``, whose value is canonical JSON (`consortium.canonical`) holding the tensor order
of the module (safetensors' own order is alphabetical, so ``layers.10`` would sort before
``layers.2``) and, optionally, the model spec.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy as np
from safetensors.numpy import load, save

from consortium.canonical import canonical_json, sha256_hex

__all__ = ["from_safetensors", "model_digest", "to_safetensors"]

_META_KEY = "consortium"


def to_safetensors(arrays: Mapping[str, np.ndarray], spec: Any = None) -> bytes:
    """Serialize ``arrays`` (name -> float array) to safetensors bytes; same input, same bytes.

    ``spec`` (a pydantic model or plain JSON value without floats) is stored in the metadata.
    """
    tensors = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in arrays.items()}
    meta: dict[str, Any] = {"names": list(arrays)}
    if spec is not None:
        meta["spec"] = spec
    header = canonical_json(meta).decode("utf-8")
    return bytes(save(tensors, metadata={_META_KEY: header}))


def from_safetensors(data: bytes) -> tuple[OrderedDict[str, np.ndarray], dict[str, Any] | None]:
    """Parse bytes written by `to_safetensors`: (arrays in the module's order, spec or None)."""
    tensors = load(data)
    header = _read_metadata(data).get(_META_KEY)
    if header is None:
        return OrderedDict(sorted(tensors.items())), None
    meta = json.loads(header)
    names: list[str] = meta["names"]
    if sorted(names) != sorted(tensors):
        raise ValueError("safetensors metadata names do not match the stored tensors")
    spec = meta.get("spec")
    return OrderedDict((n, tensors[n]) for n in names), spec


def model_digest(data: bytes) -> str:
    """The digest the ledger records for a model: SHA-256 hex of its safetensors bytes."""
    return sha256_hex(data)


def _read_metadata(data: bytes) -> dict[str, str]:
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    meta: dict[str, str] = header.get("__metadata__") or {}
    return meta
