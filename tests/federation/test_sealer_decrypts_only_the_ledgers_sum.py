"""The sealer decrypts only the weighted sum the ledger's updates and weights define, never a blob
the aggregator chose: a chosen ciphertext such as (0, c) decrypts to c·s, and one released version
(with its parent) then gives the CKKS secret key. An attester decrypts no aggregate at all: it
checks the proposed version against the updates in the clear."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from consortium.blobs import LocalBlobStore
from consortium.federation import attester, sealer
from consortium.federation.he import HEVault
from consortium.federation.vault import VaultError
from consortium.node.state import StateDir


class _CountingVault(HEVault):
    """Records the digest of every blob it decrypts (an aggregate, or an update it opens)."""

    opened: list[str]

    def decrypt(self, blob: bytes) -> OrderedDict[str, np.ndarray]:
        from consortium.canonical import sha256_hex

        self.opened.append(sha256_hex(blob))
        return super().decrypt(blob)

    def open_update(self, blob: bytes) -> OrderedDict[str, np.ndarray]:
        from consortium.canonical import sha256_hex

        self.opened.append(sha256_hex(blob))
        return super().open_update(blob)


class _Session:
    task_id, member_id = "heart", "attester"

    def __init__(
        self,
        vault: HEVault,
        blobs: LocalBlobStore,
        updates: dict[str, tuple[str, str]],
        state: Path,
    ) -> None:
        self.vault, self.blobs, self._updates = vault, blobs, updates
        self.ledger = self
        self.state = StateDir(state)
        self.theta = OrderedDict([("w", np.zeros((20, 15), dtype=np.float32))])

    def evaluate(self, fn: str, args: dict[str, Any]) -> Any:
        assert fn == "GetUpdate"
        mapped, unmapped = self._updates[args["update_id"]]
        return {"update": {"update_id": args["update_id"], "member_id": "hospital",
                           "base_version": 0, "model_digest": mapped,
                           "unmapped_digest": unmapped}}  # fmt: skip

    def q(self, fn: str, **args: Any) -> Any:
        return self.evaluate(fn, args)

    def task(self) -> dict[str, Any]:
        return {"server_lr_bp": 10_000, "staleness_exponent_bp": 5_000}

    def version(self, height: int) -> OrderedDict[str, np.ndarray]:
        return self.theta


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[_Session, dict[str, Any], str]:
    from consortium.crypto.context import CkksContext
    from consortium.crypto.keywrap import KeyBundle

    bundle = KeyBundle.generate()
    member = _CountingVault(bundle.ckks, bundle.model_key)
    member.opened = []
    aggregator = HEVault(CkksContext.from_public_bytes(bundle.ckks.public_bytes()), None)
    blobs = LocalBlobStore(tmp_path_factory.mktemp("blobs"))
    rng = np.random.default_rng(0)
    deltas = [{"w": rng.normal(0, 0.05, (20, 15))} for _ in range(2)]
    # (mapped blob, revealed first layer): the model has one layer, so both hold all of it
    ids = {f"tx{k}": (blobs.put(member.encrypt(d)), blobs.put(member.encrypt(d)))
           for k, d in enumerate(deltas, start=1)}  # fmt: skip
    weights = [600_000, 400_000]
    swapped = [aggregator.replace(blobs.get(m), blobs.get(r)) for m, r in ids.values()]
    honest = blobs.put(aggregator.weighted_sum(swapped, weights))
    # what a dishonest aggregator can post instead: any ciphertext under the public key
    chosen = blobs.put(aggregator.weighted_sum([aggregator.encrypt({"w": np.full((20, 15), 3.0)})],
                                               [1_000_000]))  # fmt: skip
    agg = {"aggregate_id": "agg1", "updates": ["tx1", "tx2"], "weights_ppm": weights,
           "aggregate_digest": honest}  # fmt: skip
    return _Session(member, blobs, ids, tmp_path_factory.mktemp("state")), agg, chosen


@pytest.fixture(autouse=True)
def _weights_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about the sum; the weights check has its own (tests/federation/
    test_aggregator.py), and this fake ledger holds no endorsements to recompute them from."""
    from consortium.federation import aggregator

    monkeypatch.setattr(aggregator, "weights_as_ledger_says", lambda *args: True)


def test_the_sealer_decrypts_the_ledgers_sum(setup: tuple[_Session, dict[str, Any], str]) -> None:
    s, agg, _ = setup
    assert sealer.form_version(s, agg, 0)  # type: ignore[arg-type]


def test_the_sealer_refuses_an_aggregate_that_is_not_the_sum_of_its_updates(
    setup: tuple[_Session, dict[str, Any], str],
) -> None:
    s, agg, chosen = setup
    with pytest.raises(VaultError, match="not the weighted sum"):
        sealer.form_version(s, {**agg, "aggregate_digest": chosen}, 0)  # type: ignore[arg-type]


def _proposal(s: _Session, agg: dict[str, Any], data: bytes, **fields: Any) -> dict[str, Any]:
    from consortium.canonical import sha256_hex

    return {**agg, "height": 1, "model_digest": sha256_hex(data),
            "blob_digest": s.blobs.put(s.vault.seal_model(data)), **fields}  # fmt: skip


def test_an_attester_accepts_the_sealers_version_without_decrypting_the_aggregate(
    setup: tuple[_Session, dict[str, Any], str],
) -> None:
    s, agg, _ = setup
    proposal = _proposal(s, agg, sealer.form_version(s, agg, 0))  # type: ignore[arg-type]
    assert isinstance(s.vault, _CountingVault)
    s.vault.opened.clear()

    assert attester._consistent(s, proposal) is None  # type: ignore[arg-type]
    assert agg["aggregate_digest"] not in s.vault.opened
    update_blobs = {d for pair in s._updates.values() for d in pair}
    assert set(s.vault.opened) == update_blobs  # what a verifier opens anyway
    s.vault.opened.clear()
    assert attester._consistent(s, proposal) is None  # type: ignore[arg-type]
    assert s.vault.opened == []  # opened once, then read from the member's state


def test_an_attester_rejects_a_proposal_built_on_another_aggregate(
    setup: tuple[_Session, dict[str, Any], str],
) -> None:
    s, agg, chosen = setup
    # the sealer colludes: it decrypts the chosen blob itself and proposes the result
    from consortium.federation.versions import version_bytes

    fresh = [1_000_000] * len(agg["weights_ppm"])
    data = version_bytes(s.vault, s.theta, s.blobs.get(chosen), agg["weights_ppm"], 10_000, fresh)
    proposal = _proposal(s, agg, data, aggregate_digest=chosen)
    assert attester._consistent(s, proposal) == "VERSION_MISMATCH"  # type: ignore[arg-type]


def test_an_attester_rejects_a_version_nudged_beyond_the_sums_noise(
    setup: tuple[_Session, dict[str, Any], str],
) -> None:
    from consortium.learning.serialize import from_safetensors, to_safetensors

    s, agg, _ = setup
    honest, _ = from_safetensors(sealer.form_version(s, agg, 0))  # type: ignore[arg-type]
    for step, failed in ((2e-7, None), (1e-5, "VERSION_MISMATCH")):  # bound: 1e-6 a parameter
        nudged = OrderedDict((k, v.copy()) for k, v in honest.items())
        nudged["w"][3, 4] += np.float32(step)
        proposal = _proposal(s, agg, bytes(to_safetensors(nudged)))
        assert attester._consistent(s, proposal) == failed  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "data",
    [
        b"not a safetensors file",  # the safetensors reader raises its own error type
        b"\x0f\x00\x00\x00\x00\x00\x00\x00[1, 2, 3, 4, 5]",  # a header that is not a table
    ],
)
def test_an_attester_rejects_a_version_that_is_not_a_model_without_stopping(
    setup: tuple[_Session, dict[str, Any], str], data: bytes
) -> None:
    # The sealer chooses these bytes and seals them; their digest is on the proposal, so they pass
    # the digest check. Parsing them must give a reject, not an exception that stops the node at
    # every poll while the proposal is open.
    s, agg, _ = setup
    assert attester._consistent(s, _proposal(s, agg, data)) == "NOT_CANONICAL"  # type: ignore[arg-type]


def test_an_attester_rejects_a_model_whose_metadata_lacks_the_tensor_names(
    setup: tuple[_Session, dict[str, Any], str],
) -> None:
    from safetensors.numpy import save

    from consortium.learning.serialize import from_safetensors

    s, agg, _ = setup
    honest, _ = from_safetensors(sealer.form_version(s, agg, 0))  # type: ignore[arg-type]
    data = bytes(save(dict(honest), metadata={"consortium": "{}"}))
    assert attester._consistent(s, _proposal(s, agg, data)) == "NOT_CANONICAL"  # type: ignore[arg-type]


def test_an_attester_rejects_the_right_weights_in_other_bytes(
    setup: tuple[_Session, dict[str, Any], str],
) -> None:
    # The version's digest goes on the ledger, and `ledger verify` / `consortium trace` recompute
    # it as `to_safetensors` writes it (float32, its metadata only). Numbers equal to the weighted
    # mean but stored as float64 (29 spare bits a parameter), or with a header carrying anything
    # the sealer likes, are another version: a block nobody can recompute.
    from safetensors.numpy import save

    from consortium.learning.serialize import from_safetensors

    s, agg, _ = setup
    honest_bytes = sealer.form_version(s, agg, 0)  # type: ignore[arg-type]
    honest, _ = from_safetensors(honest_bytes)
    header = {"consortium": '{"names":["w"]}'}
    wide = bytes(save({"w": honest["w"].astype(np.float64)}, metadata=header))
    extra = bytes(save(dict(honest), metadata={**header, "note": "anything at all " * 64}))
    for data in (wide, extra):
        assert from_safetensors(data)[0]["w"].tolist() == honest["w"].tolist()
        assert attester._consistent(s, _proposal(s, agg, data)) == "NOT_CANONICAL"  # type: ignore[arg-type]
    assert attester._consistent(s, _proposal(s, agg, honest_bytes)) is None  # type: ignore[arg-type]


def test_an_attester_rejects_a_proposal_whose_version_blob_is_not_in_the_store(
    setup: tuple[_Session, dict[str, Any], str],
) -> None:
    # The contract cannot see the blob store: a sealer may name any blob_digest. A blob the store
    # does not hold is a reject (BlobNotFoundError is a KeyError, not an OSError), not an
    # exception that stops every attester of the committee while the proposal is open.
    from consortium.canonical import sha256_hex

    s, agg, _ = setup
    data = sealer.form_version(s, agg, 0)  # type: ignore[arg-type]
    proposal = {**agg, "height": 1, "model_digest": sha256_hex(data), "blob_digest": "0" * 64}
    assert attester._consistent(s, proposal) == "BLOB_UNREADABLE"  # type: ignore[arg-type]


class _Ledger:
    """A ledger holding version 0 and one block whose ``aggregate_digest`` the caller chooses."""

    def __init__(self, s: _Session, agg: dict[str, Any], aggregate_digest: str) -> None:
        from consortium.canonical import sha256_hex
        from consortium.learning.serialize import to_safetensors

        honest = sealer.form_version(s, agg, 0)  # type: ignore[arg-type]
        self._s = s
        self._versions = {
            0: {"blob_digest": s.blobs.put(s.vault.seal_model(bytes(to_safetensors(s.theta))))},
            1: {**agg, "aggregate_digest": aggregate_digest, "model_digest": sha256_hex(honest),
                "blob_digest": s.blobs.put(s.vault.seal_model(honest))},
        }  # fmt: skip

    def evaluate(self, fn: str, args: dict[str, Any]) -> Any:
        if fn == "GetTask":
            return {"task_id": "heart", "server_lr_bp": 10_000, "staleness_exponent_bp": 5_000}
        if fn == "GetVersion":
            return self._versions[args["version"]]
        return self._s.evaluate(fn, args)


def test_recomputing_a_version_never_decrypts_an_aggregate_that_is_not_the_sum(
    setup: tuple[_Session, dict[str, Any], str],
) -> None:
    # `recompute_all` (the Fabric run's check) opened the blob the ledger's aggregate_digest names
    # even after finding that it is not the weighted sum of the block's updates: a member then
    # decrypted a ciphertext the aggregator chose. Only the recomputed sum may be decrypted.
    from consortium.federation.recompute import recompute_version

    s, agg, chosen = setup
    assert isinstance(s.vault, _CountingVault)
    ledger = _Ledger(s, agg, chosen)
    s.vault.opened.clear()

    check = recompute_version(ledger, s.blobs, s.vault, "heart", 1)

    assert check.aggregate_ok is False and not check.ok
    assert chosen not in s.vault.opened
    assert s.vault.opened == []


def test_recomputing_a_version_decrypts_the_recomputed_sum(
    setup: tuple[_Session, dict[str, Any], str],
) -> None:
    from consortium.federation.recompute import recompute_version

    s, agg, _ = setup
    assert isinstance(s.vault, _CountingVault)
    ledger = _Ledger(s, agg, agg["aggregate_digest"])
    s.vault.opened.clear()

    check = recompute_version(ledger, s.blobs, s.vault, "heart", 1)

    assert check.aggregate_ok and check.model_ok and check.ok
    assert s.vault.opened == [agg["aggregate_digest"]]
