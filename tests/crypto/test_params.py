"""The parameter set: 128-bit bound, SEAL's primes, and the rescale-scale correction."""

from __future__ import annotations

import numpy as np
import pytest
import tenseal as ts

from consortium.crypto.context import CkksContext
from consortium.crypto.params import (
    HE_STANDARD_MAX_LOG_Q_128,
    PARAMS,
    CkksParams,
    _is_prime,
    coeff_primes,
    exact_weight_scalar,
    make_secret_context,
)


def test_parameters_are_within_the_128_bit_bound() -> None:
    assert PARAMS.log_q <= HE_STANDARD_MAX_LOG_Q_128[PARAMS.poly_modulus_degree]
    assert PARAMS.coeff_mod_bit_sizes[-2] == PARAMS.scale_bits  # q1 is the rescale prime


def test_one_bit_more_is_refused_by_us_and_by_seal() -> None:
    too_big = CkksParams(poly_modulus_degree=4096, coeff_mod_bit_sizes=(49, 40, 21), scale_bits=40)
    with pytest.raises(ValueError, match="128-bit bound 109"):
        make_secret_context(too_big)
    with pytest.raises(ValueError, match="encryption parameters are not set correctly"):
        ts.context(ts.SCHEME_TYPE.CKKS, 4096, coeff_mod_bit_sizes=[49, 40, 21])


def test_coeff_primes_are_seal_style_ntt_primes() -> None:
    primes = coeff_primes()
    for p, bits in zip(primes, PARAMS.coeff_mod_bit_sizes, strict=True):
        assert _is_prime(p) and p.bit_length() == bits
        assert p % (2 * PARAMS.poly_modulus_degree) == 1
    assert not _is_prime(primes[0] * primes[1])


def test_weight_correction_removes_tenseal_scale_bias(secret_ctx: CkksContext) -> None:
    x = np.random.default_rng(3).uniform(-1, 1, PARAMS.slots)
    ct = ts.ckks_vector(secret_ctx.context, x)
    naive = np.asarray((ct * 0.9).decrypt()) - 0.9 * x
    fixed = np.asarray((ct * exact_weight_scalar(900_000)).decrypt()) - 0.9 * x
    # The naive product is off by a relative 1.34e-7 (the scale label), the corrected one is not.
    assert np.abs(naive).max() > 5e-8
    assert np.abs(fixed).max() < 2e-8
