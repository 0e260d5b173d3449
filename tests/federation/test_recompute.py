"""A third party's recomputation of a version decrypts only the sum it recomputed itself."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from consortium.blobs.local import LocalBlobStore
from consortium.canonical import sha256_hex
from consortium.federation.recompute import recompute_version
from consortium.federation.vault import PlainVault, arrays_to_bytes
from consortium.federation.versions import version_bytes
from consortium.learning.serialize import to_safetensors


class _Recording(PlainVault):
    """A vault that remembers every blob it was asked to decrypt."""

    def __init__(self) -> None:
        self.decrypted: list[bytes] = []

    def decrypt(self, blob: bytes) -> OrderedDict[str, np.ndarray]:
        self.decrypted.append(blob)
        return super().decrypt(blob)


class _Ledger:
    """GetTask, GetVersion and GetUpdate of a task with one update and one block."""

    def __init__(self, versions: list[dict[str, Any]], update: dict[str, Any]) -> None:
        self.versions, self.update = versions, update

    def evaluate(self, fn: str, args: dict[str, Any]) -> Any:
        if fn == "GetTask":
            return {"task_id": "heart", "server_lr_bp": 10_000, "staleness_exponent_bp": 5_000}
        if fn == "GetVersion":
            return self.versions[int(args["version"])]
        assert fn == "GetUpdate"
        return {"update": self.update}


def _ledger_with_block(
    blobs: LocalBlobStore, vault: _Recording, aggregate: bytes | None
) -> tuple[_Ledger, bytes]:
    """Version 0, one update, and block 1 formed from ``aggregate`` (None: the update's sum,
    as an honest aggregator and sealer make it). Returns the ledger and the recomputed sum."""
    base = OrderedDict(w=np.zeros(3, dtype=np.float32))
    genesis = to_safetensors(base)
    delta = OrderedDict(w=np.array([0.1, -0.2, 0.3], dtype=np.float32))
    update = {"model_digest": blobs.put(vault.encrypt(delta)), "base_version": 0,
              "unmapped_digest": blobs.put(vault.encrypt(delta))}  # fmt: skip
    honest = vault.weighted_sum([vault.encrypt(delta)], [1_000_000])
    stored = honest if aggregate is None else aggregate
    version = version_bytes(vault, base, stored, [1_000_000], 10_000, [1_000_000])
    versions = [
        {"blob_digest": blobs.put(genesis), "model_digest": sha256_hex(genesis)},
        {"aggregate_digest": blobs.put(stored), "updates": ["u1"], "weights_ppm": [1_000_000],
         "model_digest": sha256_hex(version), "blob_digest": blobs.put(version)},
    ]  # fmt: skip
    vault.decrypted.clear()
    return _Ledger(versions, update), honest


def test_a_block_whose_aggregate_is_not_the_sum_of_its_updates_is_not_decrypted(
    tmp_path: Path,
) -> None:
    # Arrange: an aggregator and a sealer that agree on another ciphertext than the weighted sum
    blobs, vault = LocalBlobStore(tmp_path), _Recording()
    chosen = arrays_to_bytes(OrderedDict(w=np.array([7.0, 7.0, 7.0])))
    ledger, _ = _ledger_with_block(blobs, vault, aggregate=chosen)
    # Act
    check = recompute_version(ledger, blobs, vault, "heart", 1)
    # Assert: the mismatch is reported, and nothing was decrypted (neither the chosen ciphertext
    # nor the recomputed sum: the block is refused at the aggregate already)
    assert not check.aggregate_ok and check.model_ok is None and not check.ok
    assert chosen not in vault.decrypted
    assert vault.decrypted == []


def test_an_honest_block_recomputes_byte_for_byte(tmp_path: Path) -> None:
    blobs, vault = LocalBlobStore(tmp_path), _Recording()
    ledger, honest = _ledger_with_block(blobs, vault, aggregate=None)
    check = recompute_version(ledger, blobs, vault, "heart", 1)
    assert (check.aggregate_ok, check.model_ok, check.blob_ok) == (True, True, True)
    assert vault.decrypted == [honest]
