"""The 1,000,000-parameter measurement that bench/he_overhead.py reports (printed with -s)."""

from __future__ import annotations

from consortium.crypto import CkksContext
from consortium.crypto.bench import TENSEAL_TUTORIAL_PARAMS, measure_he, synthetic_delta


def test_synthetic_delta_has_exactly_n_params() -> None:
    for n in (1, 999, 1_000_000):
        assert sum(a.size for a in synthetic_delta(n, 0).values()) == n


def test_one_million_parameters(secret_ctx: CkksContext) -> None:
    m = measure_he(1_000_000, n_updates=2, ctx=secret_ctx)
    print(
        f"\nCKKS N={m.poly_modulus_degree} bits={list(m.coeff_mod_bit_sizes)}: "
        f"update {m.update_bytes_per_param:.1f} B/param (TenSEAL's serialization "
        f"{m.tenseal_bytes_per_param:.1f}; float32: 4), "
        f"sum {m.sum_bytes_per_param:.1f} B/param; encrypt {m.encrypt_s_per_update:.2f} s/update, "
        f"decrypt an update {m.decrypt_update_s:.2f} s, sum of 2 {m.sum_s:.2f} s, decrypt the sum "
        f"{m.decrypt_s:.2f} s; max error {m.max_abs_error:.1e}"
    )
    assert m.max_abs_error < 1e-6
    # A fresh update stores c0 only (48 + 40 bits per coefficient, 4096 coefficients per 4096
    # values with two values per complex slot: 11 B/param) and c1 as its seed; a sum stores both
    # polynomials at one prime left (12 B/param). The usual TenSEAL encryption of the same values
    # (one per slot, full size, zstd) is about 4.7 times larger.
    assert 11 <= m.update_bytes_per_param < 0.25 * m.tenseal_bytes_per_param
    assert 12 <= m.sum_bytes_per_param < 13


def test_smaller_than_tenseal_tutorial_parameters(secret_ctx: CkksContext) -> None:
    ours = measure_he(4096 * 5, n_updates=2, ctx=secret_ctx)
    usual = measure_he(4096 * 5, n_updates=2, params=TENSEAL_TUTORIAL_PARAMS)
    print(
        f"\nB/param update: ours {ours.update_bytes_per_param:.1f}, "
        f"TenSEAL tutorial parameters, the usual way {usual.tenseal_bytes_per_param:.1f}"
    )
    assert usual.max_abs_error < 1e-6 and ours.max_abs_error < 1e-6
    assert ours.update_bytes_per_param < 0.25 * usual.tenseal_bytes_per_param
