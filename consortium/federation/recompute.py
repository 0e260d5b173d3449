"""A third party recomputes each version from the ledger and the blobs, and compares digests.

For a learning block at height h (docs/decisions/0001-protocol.md, "Versions and their blobs"):

1. **aggregate** — from each included update's blobs (the mapped delta with its revealed first
   layer swapped in) and the block's integer weights, ``Σ (w/10⁶)·Enc(Δ)`` is recomputed with the
   public context only and its SHA-256 compared with ``aggregate_digest``: CKKS additions and
   plaintext-scalar products are deterministic, so this is a byte-for-byte check that anyone
   (an auditor, the aggregator) can run;
2. **version** — a member (it needs the secret key) decrypts the aggregate it recomputed, applies
   it to version h−1 (`consortium.federation.versions.version_bytes`) and compares the SHA-256
   of the resulting safetensors with ``model_digest``; it also checks that the stored blob opens
   to those bytes (``blob_digest``). When step 1 fails nothing is decrypted: the blob
   ``aggregate_digest`` names is then a ciphertext the ledger's updates do not define, and a
   member decrypts no ciphertext someone else chose (docs/decisions/0005-encryption.md, "Members
   decrypt only ciphertexts the ledger defines").
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from consortium.canonical import sha256_hex
from consortium.federation.vault import Vault, VaultError
from consortium.federation.versions import step_staleness, version_bytes

__all__ = [
    "VersionCheck",
    "base_versions",
    "recompute_aggregate",
    "recompute_all",
    "recompute_version",
]


class VersionCheck(BaseModel):
    """What the recomputation of one version found."""

    height: int
    aggregate_ok: bool
    model_ok: bool | None  # None: this party cannot decrypt (public context only)
    blob_ok: bool | None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.aggregate_ok and self.model_ok is not False and self.blob_ok is not False


def recompute_aggregate(
    ledger: Any, blobs: Any, vault: Vault, task_id: str, block: dict[str, Any]
) -> bytes:
    """The aggregate blob of ``block`` recomputed from the update blobs and the weights."""
    parts = []
    for update_id in block["updates"]:
        view = ledger.evaluate("GetUpdate", {"task_id": task_id, "update_id": update_id})
        u = view["update"]
        parts.append(vault.replace(blobs.get(u["model_digest"]), blobs.get(u["unmapped_digest"])))
    return vault.weighted_sum(parts, block["weights_ppm"])


def base_versions(ledger: Any, task_id: str, update_ids: list[str]) -> list[int]:
    """The ledger's ``base_version`` of each update."""
    views = [ledger.evaluate("GetUpdate", {"task_id": task_id, "update_id": u}) for u in update_ids]
    return [int(v["update"]["base_version"]) for v in views]


def _model_bytes(
    ledger: Any, blobs: Any, vault: Vault, task: dict[str, Any], height: int, block: Any, agg: bytes
) -> bytes:
    """Version ``height`` formed from its parent and ``agg``, the aggregate recomputed from the
    ledger (never the stored blob: see the module docstring)."""
    from consortium.learning.serialize import from_safetensors

    prev = ledger.evaluate("GetVersion", {"task_id": task["task_id"], "version": height - 1})
    base, _ = from_safetensors(vault.open_model(blobs.get(prev["blob_digest"])))
    staleness = step_staleness(
        base_versions(ledger, task["task_id"], block["updates"]),
        height - 1,
        int(task["staleness_exponent_bp"]),
    )
    return version_bytes(vault, base, agg, block["weights_ppm"], int(task["server_lr_bp"]),
                         staleness)  # fmt: skip


def recompute_version(
    ledger: Any, blobs: Any, vault: Vault, task_id: str, height: int
) -> VersionCheck:
    """Recompute version ``height`` ≥ 1 (see the module docstring)."""
    task = ledger.evaluate("GetTask", {"task_id": task_id})
    block = ledger.evaluate("GetVersion", {"task_id": task_id, "version": height})
    try:
        agg = recompute_aggregate(ledger, blobs, vault, task_id, block)
    except (VaultError, ValueError, OSError) as exc:
        return VersionCheck(height=height, aggregate_ok=False, model_ok=None, blob_ok=None,
                            detail=f"aggregate: {exc}")  # fmt: skip
    aggregate_ok = sha256_hex(agg) == block["aggregate_digest"]
    if not aggregate_ok:
        return VersionCheck(height=height, aggregate_ok=False, model_ok=None, blob_ok=None,
                            detail="aggregate: not the weighted sum of the block's updates; "
                                   "not decrypted")  # fmt: skip
    if not vault.can_decrypt:
        return VersionCheck(height=height, aggregate_ok=True, model_ok=None, blob_ok=None)
    data = _model_bytes(ledger, blobs, vault, task, height, block, agg)
    model_ok = sha256_hex(data) == block["model_digest"]
    try:
        blob_ok = vault.open_model(blobs.get(block["blob_digest"])) == data
    except VaultError:
        blob_ok = False
    return VersionCheck(height=height, aggregate_ok=aggregate_ok, model_ok=model_ok,
                        blob_ok=blob_ok)  # fmt: skip


def recompute_all(ledger: Any, blobs: Any, vault: Vault, task_id: str) -> list[VersionCheck]:
    """Recompute every version after version 0."""
    head = ledger.evaluate("GetHead", {"task_id": task_id})
    return [
        recompute_version(ledger, blobs, vault, task_id, h) for h in range(1, head["height"] + 1)
    ]
