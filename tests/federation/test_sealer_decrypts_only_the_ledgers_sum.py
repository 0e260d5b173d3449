"""The sealer and the attesters decrypt only the weighted sum the ledger's updates and weights
define, never a blob the aggregator chose: a chosen ciphertext such as (0, c) decrypts to c·s, and
one released version (with its parent) then gives the CKKS secret key."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
import pytest

from consortium.blobs import LocalBlobStore
from consortium.federation import attester, sealer
from consortium.federation.he import HEVault
from consortium.federation.vault import VaultError


class _Session:
    task_id = "heart"

    def __init__(self, vault: HEVault, blobs: LocalBlobStore, updates: dict[str, str]) -> None:
        self.vault, self.blobs, self._updates = vault, blobs, updates
        self.ledger = self
        self.theta = OrderedDict([("w", np.zeros(300, dtype=np.float32))])

    def evaluate(self, fn: str, args: dict[str, Any]) -> Any:
        assert fn == "GetUpdate"
        digest = self._updates[args["update_id"]]
        return {"update": {"model_digest": digest, "unmapped_digest": digest}}

    def task(self) -> dict[str, Any]:
        return {"server_lr_bp": 10_000}

    def version(self, height: int) -> OrderedDict[str, np.ndarray]:
        return self.theta


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[_Session, dict[str, Any], str]:
    from consortium.crypto.context import CkksContext
    from consortium.crypto.keywrap import KeyBundle

    bundle = KeyBundle.generate()
    member = HEVault(bundle.ckks, bundle.model_key)
    aggregator = HEVault(CkksContext.from_public_bytes(bundle.ckks.public_bytes()), None)
    blobs = LocalBlobStore(tmp_path_factory.mktemp("blobs"))
    rng = np.random.default_rng(0)
    u1, u2 = (member.encrypt({"w": rng.normal(0, 0.05, 300)}) for _ in range(2))
    ids = {"tx1": blobs.put(u1), "tx2": blobs.put(u2)}
    weights = [600_000, 400_000]
    honest = blobs.put(aggregator.weighted_sum([u1, u2], weights))
    # what a dishonest aggregator can post instead: any ciphertext under the public key
    chosen = blobs.put(aggregator.weighted_sum([aggregator.encrypt({"w": np.full(300, 3.0)})],
                                               [1_000_000]))  # fmt: skip
    agg = {"updates": ["tx1", "tx2"], "weights_ppm": weights, "aggregate_digest": honest}
    return _Session(member, blobs, ids), agg, chosen


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


def test_an_attester_rejects_a_proposal_built_on_another_aggregate(
    setup: tuple[_Session, dict[str, Any], str],
) -> None:
    s, agg, chosen = setup
    # the sealer colludes: it decrypts the chosen blob itself and proposes the result
    from consortium.canonical import sha256_hex
    from consortium.federation.versions import version_bytes

    data = version_bytes(s.vault, s.theta, s.blobs.get(chosen), agg["weights_ppm"], 10_000)
    proposal = {**agg, "aggregate_digest": chosen, "height": 1, "model_digest": sha256_hex(data),
                "blob_digest": s.blobs.put(s.vault.seal_model(data))}  # fmt: skip
    assert attester._consistent(s, proposal) is False  # type: ignore[arg-type]
