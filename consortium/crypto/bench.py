"""Measurements of the CKKS overhead, for ``bench/he_overhead.py`` and the crypto tests.

`measure_he` encrypts ``n_updates`` synthetic model deltas of ``n_params`` parameters, decrypts
one of them (what a verifier does), sums them with public weights on the public context, decrypts
the sum and reports sizes, times and the largest error against the plaintext weighted sum. Times
are wall-clock seconds on this machine (a report, never an assertion); sizes and errors are exact
properties of the format. ``tenseal_bytes_per_param`` is the size of the same values encrypted
the usual TenSEAL way under the same parameters (``ts.ckks_vector`` per N/2 values, public key,
``serialize()``: SEAL + zstd, one value per slot), to show what complex packing, seeding and
`consortium.crypto.packing` save together.

``python -m consortium.crypto.bench [n_params] [tutorial]`` prints one measurement as JSON
(``tutorial``: with `TENSEAL_TUTORIAL_PARAMS` instead of the consortium's).
"""

from __future__ import annotations

import time

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel

from consortium.crypto.context import CkksContext
from consortium.crypto.params import PARAMS, CkksParams
from consortium.crypto.update import decrypt_update, encrypt_update, weighted_sum

__all__ = ["TENSEAL_TUTORIAL_PARAMS", "HeOverhead", "measure_he", "synthetic_delta"]

TENSEAL_TUTORIAL_PARAMS = CkksParams(
    poly_modulus_degree=8192, coeff_mod_bit_sizes=(60, 40, 40, 60), scale_bits=40
)
"""The parameters of TenSEAL's CKKS tutorials (depth 2, ~81 B/param): the usual baseline."""


class HeOverhead(BaseModel):
    """One measurement of the CKKS overhead (floats: a benchmark report, never hashed)."""

    n_params: int
    n_updates: int
    poly_modulus_degree: int
    coeff_mod_bit_sizes: tuple[int, ...]
    plaintext_bytes_per_param: float
    public_context_bytes: int
    update_bytes: int
    update_bytes_per_param: float
    tenseal_bytes_per_param: float
    sum_bytes_per_param: float
    encrypt_s_per_update: float
    sum_s: float
    decrypt_update_s: float
    decrypt_s: float
    max_abs_error: float


def synthetic_delta(n_params: int, seed: int) -> dict[str, NDArray[np.float32]]:
    """A model delta of exactly ``n_params`` float32 values in three tensors, entries ~1e-2..1."""
    rng = np.random.default_rng(seed)
    rows = max(1, n_params // 1000)
    first = rows * min(900, n_params // rows)
    bias = min(rows, n_params - first)
    rest = n_params - first - bias
    shapes = {"fc1.weight": (rows, first // rows), "fc1.bias": (bias,), "fc2.weight": (rest,)}
    return {
        name: (rng.uniform(-1, 1, shape) * 10 ** rng.uniform(-2, 0, shape)).astype(np.float32)
        for name, shape in shapes.items()
    }


def _plain_sum(
    deltas: list[dict[str, NDArray[np.float32]]], weights: list[int], name: str
) -> NDArray[np.float64]:
    total = np.zeros(deltas[0][name].shape)
    for w, d in zip(weights, deltas, strict=True):
        total += w / 1e6 * d[name].astype(np.float64)
    return total


def measure_he(
    n_params: int = 1_000_000,
    n_updates: int = 2,
    seed: int = 0,
    ctx: CkksContext | None = None,
    params: CkksParams = PARAMS,
) -> HeOverhead:
    """Encrypt, weighted-sum and decrypt synthetic deltas; return sizes, times and the error.

    ``ctx`` reuses a secret context; otherwise one is made with ``params`` (e.g.
    `TENSEAL_TUTORIAL_PARAMS`, for a side-by-side comparison).
    """
    import tenseal as ts

    secret = ctx or CkksContext.generate(params)
    public = CkksContext.from_public_bytes(secret.public_bytes(), secret.params)
    deltas = [synthetic_delta(n_params, seed + k) for k in range(n_updates)]
    weights = [1_000_000 - 123_457 * k for k in range(n_updates)]
    start = time.perf_counter()
    blobs = [encrypt_update(d, secret).to_bytes() for d in deltas]
    encrypt_s = (time.perf_counter() - start) / n_updates
    start = time.perf_counter()
    decrypt_update(blobs[0], secret, dtype="float64")
    decrypt_update_s = time.perf_counter() - start
    start = time.perf_counter()
    summed = weighted_sum(blobs, weights, public).to_bytes()
    sum_s = time.perf_counter() - start
    start = time.perf_counter()
    got = decrypt_update(summed, secret, dtype="float64")
    decrypt_s = time.perf_counter() - start
    error = max(float(np.abs(got[name] - _plain_sum(deltas, weights, name)).max()) for name in got)
    slots = secret.params.slots
    tenseal_bytes = 0
    for array in deltas[0].values():
        flat = array.astype(np.float64).ravel()
        for i in range(0, flat.size, slots):
            tenseal_bytes += len(ts.ckks_vector(public.context, flat[i : i + slots]).serialize())
    return HeOverhead(
        n_params=n_params,
        n_updates=n_updates,
        poly_modulus_degree=secret.params.poly_modulus_degree,
        coeff_mod_bit_sizes=secret.params.coeff_mod_bit_sizes,
        plaintext_bytes_per_param=4.0,
        public_context_bytes=len(secret.public_bytes()),
        update_bytes=len(blobs[0]),
        update_bytes_per_param=len(blobs[0]) / n_params,
        tenseal_bytes_per_param=tenseal_bytes / n_params,
        sum_bytes_per_param=len(summed) / n_params,
        encrypt_s_per_update=encrypt_s,
        sum_s=sum_s,
        decrypt_update_s=decrypt_update_s,
        decrypt_s=decrypt_s,
        max_abs_error=error,
    )


if __name__ == "__main__":
    import sys

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    chosen = TENSEAL_TUTORIAL_PARAMS if sys.argv[2:] == ["tutorial"] else PARAMS
    print(measure_he(n, params=chosen).model_dump_json(indent=1))
