"""Staleness, entropy weight method and the integer weights that go on the ledger."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from consortium.crypto import CkksContext, decrypt_update, encrypt_update, weighted_sum
from consortium.crypto.params import MAX_WEIGHT_SUM_PPM
from consortium.federation.weights import (
    BufferedUpdate,
    buffer_weights,
    entropy_scores,
    shares_ppm,
    staleness_factor,
)


def _u(
    i: int, base: int = 0, n: int = 200, metric: int = 8000, cos: int = 3000, z: int = 0
) -> BufferedUpdate:
    return BufferedUpdate(
        update_id=f"u{i:02d}",
        member_id=f"m{i}",
        base_version=base,
        n_samples=n,
        metric_bp=metric,
        cosine_bp=cos,
        norm_z_bp=z,
    )


def test_staleness_is_fedasync_polynomial() -> None:
    assert staleness_factor(0, 5000) == 1.0
    assert staleness_factor(3, 5000) == pytest.approx(0.5)
    assert staleness_factor(8, 10000) == pytest.approx(1 / 9)
    with pytest.raises(ValueError):
        staleness_factor(-1, 5000)


def test_entropy_weights_favour_the_dispersed_indicator() -> None:
    # column 0 differs a lot between items, column 1 is identical: all weight on column 0
    w, scores = entropy_scores([[100.0, 5.0], [300.0, 5.0], [200.0, 5.0]])
    assert w[1] == pytest.approx(0.0)
    assert w[0] == pytest.approx(1.0)
    assert scores[1] > scores[2] > scores[0]


def test_entropy_single_item_and_uniform_buffer() -> None:
    w, scores = entropy_scores([[10.0, 2.0]])
    assert scores == [pytest.approx(1.0)]
    assert w == [0.5, 0.5]
    _, same = entropy_scores([[1.0, 1.0]] * 3)
    assert same == [pytest.approx(1.0)] * 3


def test_deviation_counts_against() -> None:
    items = [_u(0, z=0), _u(1, z=30000), _u(2, z=5000)]
    bw = buffer_weights(items, head=0, exponent_bp=5000)
    by_id = dict(zip(bw.updates, bw.weights_ppm, strict=True))
    assert by_id["u00"] > by_id["u02"] > by_id["u01"]


def test_more_data_and_fresher_weigh_more() -> None:
    bw = buffer_weights([_u(0, n=300), _u(1, n=100)], head=0, exponent_bp=5000)
    assert bw.weights_ppm[0] > bw.weights_ppm[1]
    bw = buffer_weights([_u(0, base=5), _u(1, base=1)], head=5, exponent_bp=5000)
    assert bw.weights_ppm[0] == pytest.approx(bw.weights_ppm[1] * math.sqrt(5), rel=1e-5)


@given(st.lists(st.floats(min_value=0.001, max_value=1e6), min_size=1, max_size=30))
def test_shares_sum_to_a_million(values: list[float]) -> None:
    shares = shares_ppm(values)
    assert sum(shares) == 1_000_000
    assert all(s >= 0 for s in shares)


@given(
    st.lists(
        st.tuples(
            st.integers(0, 5),
            st.integers(1, 5000),
            st.integers(0, 10000),
            st.integers(-10000, 10000),
            st.integers(-100000, 100000),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_weights_are_positive_integers_in_update_order(
    rows: list[tuple[int, int, int, int, int]],
) -> None:
    items = [
        BufferedUpdate(
            update_id=f"x{i:03d}",
            member_id="m",
            base_version=b,
            n_samples=n,
            metric_bp=mb,
            cosine_bp=c,
            norm_z_bp=z,
        )
        for i, (b, n, mb, c, z) in enumerate(rows)
    ]
    bw = buffer_weights(list(reversed(items)), head=5, exponent_bp=5000)
    assert bw.updates == sorted(bw.updates)
    assert all(isinstance(w, int) and 1 <= w <= 1_000_000 for w in bw.weights_ppm)
    assert sum(bw.contribution_ppm) == 1_000_000


def test_a_large_buffer_is_scaled_into_the_range_of_the_encrypted_sum() -> None:
    """Each weight is at most 10⁶ ppm, so 17 fresh updates summed past the 16·10⁶ the CKKS sum
    allows and the aggregator stopped at every step; the weights are now scaled down together,
    their ratios kept, and the encrypted sum takes them."""
    small = buffer_weights([_u(i, n=100 + i) for i in range(4)], head=0, exponent_bp=5000)
    large = buffer_weights([_u(i, n=100 + i) for i in range(40)], head=0, exponent_bp=5000)
    assert sum(small.weights_ppm) < MAX_WEIGHT_SUM_PPM  # below the range: not scaled
    assert len(large.weights_ppm) == 40 and sum(large.weights_ppm) <= MAX_WEIGHT_SUM_PPM
    ratio = large.weights_ppm[39] / large.weights_ppm[0]
    assert ratio == pytest.approx(139 / 100, rel=0.05)  # more rows, more weight, as before

    secret_ctx = CkksContext.generate()
    public_ctx = CkksContext.from_public_bytes(secret_ctx.public_bytes())
    rng = np.random.default_rng(0)
    deltas = [{"w": rng.uniform(-1, 1, 64)} for _ in large.weights_ppm]
    summed = weighted_sum([encrypt_update(d, secret_ctx) for d in deltas], large.weights_ppm,
                          public_ctx)  # fmt: skip
    want = sum(w / 1e6 * d["w"] for w, d in zip(large.weights_ppm, deltas, strict=True))
    assert np.abs(decrypt_update(summed, secret_ctx)["w"] - want).max() < 1e-6
