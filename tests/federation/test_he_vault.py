"""The aggregator's vault cannot decrypt; the homomorphic weighted sum matches the plaintext one."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

from consortium.canonical import sha256_hex
from consortium.federation.he import HEVault
from consortium.federation.vault import PlainVault
from consortium.federation.versions import apply_aggregate


@pytest.fixture(scope="module")
def vaults() -> tuple[HEVault, HEVault]:
    from consortium.crypto.context import CkksContext
    from consortium.crypto.keywrap import KeyBundle

    bundle = KeyBundle.generate()
    member = HEVault(bundle.ckks, bundle.model_key)
    aggregator = HEVault(CkksContext.from_public_bytes(bundle.ckks.public_bytes()), None)
    return member, aggregator


def _update(rng: np.random.Generator) -> OrderedDict[str, np.ndarray]:
    return OrderedDict(
        [
            ("layers.0.weight", rng.normal(scale=0.05, size=(16, 20))),
            ("layers.0.bias", rng.normal(scale=0.05, size=16)),
            ("layers.1.weight", rng.normal(scale=0.05, size=(1, 16))),
            ("layers.1.bias", rng.normal(scale=0.05, size=1)),
        ]
    )


def test_aggregator_cannot_decrypt(vaults: tuple[HEVault, HEVault]) -> None:
    member, aggregator = vaults
    blob = member.encrypt(_update(np.random.default_rng(0)))
    assert not aggregator.can_decrypt
    with pytest.raises(PermissionError):
        aggregator.decrypt(blob)
    with pytest.raises(PermissionError):
        aggregator.decrypt(aggregator.weighted_sum([blob], [500_000]))
    with pytest.raises(PermissionError):
        aggregator.open_model(member.seal_model(b"model bytes"))


def test_homomorphic_sum_equals_plaintext_sum(vaults: tuple[HEVault, HEVault]) -> None:
    member, aggregator = vaults
    rng = np.random.default_rng(1)
    updates = [_update(rng) for _ in range(4)]
    weights = [700_000, 123_457, 1, 999_999]
    he = member.decrypt(aggregator.weighted_sum([member.encrypt(u) for u in updates], weights))
    plain = PlainVault()
    expected = plain.decrypt(plain.weighted_sum([plain.encrypt(u) for u in updates], weights))
    for name, value in expected.items():
        assert np.max(np.abs(he[name] - value)) < 1e-6, name


def test_aggregate_bytes_are_recomputable(vaults: tuple[HEVault, HEVault]) -> None:
    member, aggregator = vaults
    rng = np.random.default_rng(2)
    blobs = [member.encrypt(_update(rng)) for _ in range(3)]
    first = aggregator.weighted_sum(blobs, [1, 2, 3])
    again = aggregator.weighted_sum(list(blobs), [1, 2, 3])
    assert sha256_hex(first) == sha256_hex(again)
    assert sha256_hex(aggregator.weighted_sum(blobs, [1, 2, 4])) != sha256_hex(first)


def test_replace_swaps_in_the_revealed_layer(vaults: tuple[HEVault, HEVault]) -> None:
    member, aggregator = vaults
    rng = np.random.default_rng(3)
    update = _update(rng)
    unmapped = rng.normal(size=(16, 20))
    swapped = aggregator.replace(
        member.encrypt(update), member.encrypt({"layers.0.weight": unmapped})
    )
    out = member.decrypt(swapped)
    assert np.max(np.abs(out["layers.0.weight"] - unmapped)) < 1e-6
    assert np.max(np.abs(out["layers.1.weight"] - update["layers.1.weight"])) < 1e-6


def test_version_formula_is_exact_and_deterministic() -> None:
    rng = np.random.default_rng(4)
    base = OrderedDict((k, v.astype(np.float32)) for k, v in _update(rng).items())
    agg = _update(rng)
    a = apply_aggregate(base, agg, [250_000, 250_000], 5000)
    b = apply_aggregate(base, OrderedDict(reversed(list(agg.items()))), [250_000, 250_000], 5000)
    for name in base:
        want = (base[name].astype(np.float64) + 0.5 * agg[name] * 2.0).astype(np.float32)
        assert np.array_equal(a[name], want)
        assert np.array_equal(a[name], b[name])
    assert list(a) == list(base)
