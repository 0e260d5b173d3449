"""How a version's step depends on the staleness of the updates it is formed from."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

from consortium.federation.versions import (
    RELEASE_GRID,
    apply_aggregate,
    is_weighted_mean,
    step_factor,
    step_staleness,
)
from consortium.federation.weights import BufferedUpdate, buffer_weights, staleness_ppm

HALF = 5_000  # the simulations' staleness exponent a = 0.5


def _weighted_sum(deltas: list[np.ndarray], weights_ppm: list[int]) -> np.ndarray:
    """S = Σ (w/10⁶)·Δ, what the decrypted aggregate holds."""
    return sum((w / 1_000_000) * d for d, w in zip(deltas, weights_ppm, strict=True))  # type: ignore[return-value]


def _stepped(deltas: list[np.ndarray], weights: list[int], staleness: list[int]) -> np.ndarray:
    base = OrderedDict(w=np.zeros(4, dtype=np.float32))
    agg = OrderedDict(w=_weighted_sum(deltas, weights))
    return apply_aggregate(base, agg, weights, 10_000, staleness)["w"].astype(np.float64)


def test_a_lone_stale_update_moves_the_model_by_its_staleness_not_by_the_full_step() -> None:
    # A straggler's update, 3 versions behind the head, flushed on its own: s(3) = 4^-0.5 = ½.
    delta = np.array([0.4, -0.2, 0.1, 0.8])
    [s] = step_staleness([2], head=5, exponent_bp=HALF)
    assert s == 500_000
    straggler = BufferedUpdate(
        update_id="u", member_id="va", base_version=2, n_samples=150, metric_bp=7_000
    )
    [w] = buffer_weights([straggler], head=5, exponent_bp=HALF).weights_ppm
    assert w == 500_000  # staleness × a contribution of 1 (one update: every indicator is its max)
    got = _stepped([delta], [w], [s])
    # Dividing by Σw would give the whole Δ whatever the staleness
    np.testing.assert_allclose(got, 0.5 * delta, rtol=0, atol=1e-6)


def test_fresh_updates_give_the_weighted_mean() -> None:
    d1, d2 = np.array([1.0, 0.0, -1.0, 2.0]), np.array([0.0, 3.0, 1.0, -2.0])
    weights = [750_000, 250_000]
    got = _stepped([d1, d2], weights, [1_000_000, 1_000_000])
    np.testing.assert_allclose(got, 0.75 * d1 + 0.25 * d2, rtol=0, atol=1e-6)
    assert step_factor(weights, [1_000_000, 1_000_000], 10_000) == 1.0


def test_in_a_mixed_buffer_each_update_is_shrunk_by_its_own_staleness() -> None:
    # Equal contributions; the second update is 3 versions old: w = [10⁶, ½·10⁶].
    d1, d2 = np.array([1.0, 1.0, 1.0, 1.0]), np.array([-1.0, 2.0, 0.0, 4.0])
    got = _stepped([d1, d2], [1_000_000, 500_000], [1_000_000, 500_000])
    # Σ s·c·Δ / Σ c, with c = 1 each: (Δ1 + ½·Δ2) / 2 (Σw would divide by 1.5)
    np.testing.assert_allclose(got, (d1 + 0.5 * d2) / 2, rtol=0, atol=1e-6)


def test_the_step_factor_is_exact_whatever_the_order_of_the_updates() -> None:
    weights = [333_333, 1_000_000, 707_107, 12]
    staleness = [577_350, 1_000_000, 707_107, 1]
    forward = step_factor(weights, staleness, 10_000)
    backward = step_factor(weights[::-1], staleness[::-1], 10_000)
    assert forward == backward
    exact = 1_000_000 / sum(w * 1_000_000 / s for w, s in zip(weights, staleness, strict=True))
    assert forward == pytest.approx(exact, rel=1e-15)


@pytest.mark.parametrize(
    ("weights", "staleness", "problem"),
    [
        ([1_000_000], [1_000_000, 1_000_000], "2 staleness factors"),
        ([0], [1_000_000], "positive"),
        ([1_000_000], [0], "staleness"),
        ([1_000_000], [1_000_001], "staleness"),
        ([], [], "positive"),
    ],
)
def test_a_step_factor_from_numbers_no_ledger_gives_is_refused(
    weights: list[int], staleness: list[int], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        step_factor(weights, staleness, 10_000)


def test_staleness_in_ppm_matches_fedasyncs_polynomial() -> None:
    assert [staleness_ppm(t, HALF) for t in range(4)] == [1_000_000, 707_107, 577_350, 500_000]
    assert staleness_ppm(7, 0) == 1_000_000  # a = 0: no discount
    assert staleness_ppm(10**9, 30_000) == 1  # never 0: the step divides by it


def test_an_attester_refuses_a_version_formed_with_the_full_step_from_a_stale_update() -> None:
    # The sealer's step and the attester's check in the clear use the same rule: a sealer that
    # ignored staleness (divided by Σw) proposes a version no attester takes for the mean.
    base = OrderedDict(w=np.zeros(4, dtype=np.float32))
    delta = OrderedDict(w=np.array([0.4, -0.2, 0.1, 0.8]))
    weights, staleness = [500_000], [500_000]
    honest = OrderedDict(w=(0.5 * delta["w"]).astype(np.float32))
    full = OrderedDict(w=delta["w"].astype(np.float32))
    assert is_weighted_mean(honest, base, [delta], weights, 10_000, staleness)
    assert not is_weighted_mean(full, base, [delta], weights, 10_000, staleness)


def test_the_decryptions_noise_does_not_reach_the_version() -> None:
    # Two decryptions of sums that differ only by CKKS-sized noise (1e-8) form the same version:
    # the step between a released version and its parent carries no bits of the noise, which
    # depends on the secret key (Li & Micciancio).
    rng = np.random.default_rng(7)
    clean = rng.integers(-(2**22), 2**22, size=64) * RELEASE_GRID  # on the grid, |S| < 4
    noisy = clean + rng.uniform(-1e-8, 1e-8, size=64)
    base = OrderedDict(w=rng.normal(size=64).astype(np.float32))
    weights, fresh = [1_000_000], [1_000_000]
    a = apply_aggregate(base, OrderedDict(w=clean), weights, 10_000, fresh)
    b = apply_aggregate(base, OrderedDict(w=noisy), weights, 10_000, fresh)
    assert a["w"].tobytes() == b["w"].tobytes()
    # and an attester still takes it for the mean of the plaintext deltas (noise and grid within
    # the bound it allows)
    assert is_weighted_mean(b, base, [OrderedDict(w=noisy)], weights, 10_000, fresh)
    assert is_weighted_mean(b, base, [OrderedDict(w=clean + 4e-7)], weights, 10_000, fresh)
