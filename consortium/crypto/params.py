"""CKKS parameters of the consortium, and the contexts built from them.

Why these numbers (the full argument, with the measurements, is docs/decisions/0005-encryption.md):

- **Security.** The HomomorphicEncryption.org Security Standard (Albrecht et al., Nov 2018,
  Table 1, ternary secret, classical 128-bit) bounds the total coefficient modulus: log2 Q <= 27
  for N = 1024, 54 for 2048, 109 for 4096, 218 for 8192, 438 for 16384, 881 for 32768. SEAL (inside
  TenSEAL) refuses parameters above that bound at its default 128-bit level, and
  `make_secret_context` asserts it too. We use N = 4096 with 48 + 40 + 21 = 109 bits: exactly at the
  bound, so 128-bit security.
- **Depth.** The only homomorphic work is one ciphertext x plaintext-scalar product (the public
  weight) followed by additions: multiplicative depth 1, so two data primes: q0 (48 bits, what is
  left after the one rescale) and q1 (40 bits = the scale, dropped by the rescale), plus the special
  prime P (21 bits). P is only used to lower the noise of public-key encryption (SEAL encrypts at
  the key level and divides by P); no relinearization or Galois key is ever made, so P need not be
  as large as the data primes.
- **Precision.** Scale 2^40: fresh encryption noise and the rescale rounding stay below ~1e-8 per
  slot (measured by tests/crypto/test_update.py), two orders of magnitude inside the 1e-6 budget.
  After the rescale a slot value z is stored as z * 2^40 modulo q0 < 2^48, so |z| must stay below
  2^7; `MAX_ABS_VALUE` per plaintext entry and `MAX_WEIGHT_SUM_PPM` over a weighted sum keep each
  real and imaginary part of a sum <= 4 * 16 = 64, so |z| <= 64 * sqrt(2) (a 1.4x margin; updates
  carry two values per complex slot, `consortium.crypto.update`).
- **Size.** Ciphertext bytes per parameter depend on the data-level modulus bits, not on N:
  2 polynomials x (48 + 40) bits per N coefficients over N values (two per complex slot) = 22
  bytes, and 11 for a seeded update (c1 stored as its seed), which `consortium.crypto.packing`
  achieves; 12 bytes for a weighted sum (one prime left); `python -m consortium.crypto.bench`
  measures both. N = 4096 rather than 8192 halves the padding of the last ciphertext of each
  tensor (4096 values instead of 8192).
- **TenSEAL's rescale.** After `ct * w` TenSEAL sets the ciphertext scale back to the global scale
  2^40 although the exact scale is 2^80 / q1. With q1 = 1099511480321 = 2^40 - 36 * 2^12 + 1 this
  is a systematic relative error of 1.34e-7. `exact_weight_scalar` multiplies the weight by
  q1 / 2^40 so the result is exactly w * v (up to noise); q1 is recomputed here the way SEAL picks
  it (`CoeffModulus::Create`: the largest primes below 2^bits that are 1 mod 2N, handed out
  smallest first among equal bit sizes) and checked against the context.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections import Counter
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    import tenseal as ts

__all__ = [
    "HE_STANDARD_MAX_LOG_Q_128",
    "MAX_ABS_VALUE",
    "MAX_WEIGHT_SUM_PPM",
    "PARAMS",
    "CkksParams",
    "coeff_primes",
    "context_digest",
    "exact_weight_scalar",
    "load_context",
    "make_secret_context",
    "public_context_bytes",
    "secret_context_bytes",
]

# HomomorphicEncryption.org Security Standard (2018), Table 1: classical 128-bit, ternary secret.
HE_STANDARD_MAX_LOG_Q_128: dict[int, int] = {
    1024: 27,
    2048: 54,
    4096: 109,
    8192: 218,
    16384: 438,
    32768: 881,
}

MAX_ABS_VALUE = 4
"""Largest |entry| accepted by `encrypt_update` (model deltas are ~1e-2..1)."""

MAX_WEIGHT_SUM_PPM = 16_000_000
"""Largest sum of weights (ppm) in one `weighted_sum`, so |result| <= 64 < 2^7."""


class CkksParams(BaseModel):
    """The CKKS parameter set; frozen, one per consortium (it is part of the context digest)."""

    model_config = ConfigDict(frozen=True)

    poly_modulus_degree: int
    coeff_mod_bit_sizes: tuple[int, ...]
    scale_bits: int

    @property
    def slots(self) -> int:
        """Number of real values packed into one ciphertext (N/2)."""
        return self.poly_modulus_degree // 2

    @property
    def log_q(self) -> int:
        """Total coefficient modulus bits, special prime included (what the standard bounds)."""
        return sum(self.coeff_mod_bit_sizes)


PARAMS = CkksParams(poly_modulus_degree=4096, coeff_mod_bit_sizes=(48, 40, 21), scale_bits=40)


def _is_prime(n: int) -> bool:
    """Deterministic Miller-Rabin for n < 3.3e24 (the first 12 prime bases suffice)."""
    bases = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)
    if n < 2:
        return False
    for p in bases:
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for a in bases:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def coeff_primes(params: CkksParams = PARAMS) -> list[int]:
    """The primes SEAL's ``CoeffModulus::Create`` picks for ``params``, in modulus order."""
    return list(_coeff_primes(params))


@functools.lru_cache(maxsize=8)
def _coeff_primes(params: CkksParams) -> tuple[int, ...]:
    factor = 2 * params.poly_modulus_degree
    pools: dict[int, list[int]] = {}
    for bits, count in Counter(params.coeff_mod_bit_sizes).items():
        value = ((1 << bits) - 1) // factor * factor + 1
        found: list[int] = []
        while len(found) < count and value > (1 << (bits - 1)):
            if _is_prime(value):
                found.append(value)
            value -= factor
        pools[bits] = found
    return tuple(pools[bits].pop() for bits in params.coeff_mod_bit_sizes)  # SEAL: from the back


def exact_weight_scalar(weight_ppm: int, params: CkksParams = PARAMS) -> float:
    """The plaintext scalar that makes TenSEAL's ``ct * s`` equal ``(weight_ppm / 1e6) * ct``.

    See the module docstring: TenSEAL labels the rescaled product with scale 2^40 although it is
    2^80 / q1, so the scalar is pre-multiplied by q1 / 2^40. SEAL encodes it as the integer
    round(s * 2^40) = round(weight_ppm * q1 / 1e6), the same on every machine.
    """
    q1 = coeff_primes(params)[-2]
    return weight_ppm * q1 / (1_000_000 * 2.0**params.scale_bits)


def make_secret_context(params: CkksParams = PARAMS) -> ts.Context:
    """A fresh CKKS context with a new secret key (done once per consortium, at ``init``)."""
    import tenseal as ts

    bound = HE_STANDARD_MAX_LOG_Q_128.get(params.poly_modulus_degree)
    if bound is None or params.log_q > bound:
        raise ValueError(
            f"log2 Q = {params.log_q} exceeds the 128-bit bound {bound} for "
            f"N = {params.poly_modulus_degree} (HE Security Standard, Table 1)"
        )
    ctx = ts.context(
        ts.SCHEME_TYPE.CKKS,
        params.poly_modulus_degree,
        coeff_mod_bit_sizes=list(params.coeff_mod_bit_sizes),
    )
    ctx.global_scale = 2.0**params.scale_bits
    _check_primes(ctx, params)
    return ctx


def _check_primes(ctx: ts.Context, params: CkksParams) -> None:
    """Refuse to run if SEAL picked other primes than `coeff_primes` (the weight fix needs q1)."""
    primes = coeff_primes(params)
    seal = ctx.seal_context().data
    q0: int = seal.last_context_data().total_coeff_modulus()
    low64: int = seal.first_context_data().total_coeff_modulus()
    if q0 != primes[0] or low64 != math.prod(primes[:-1]) % 2**64:
        raise ValueError("this context has other coefficient primes than the consortium parameters")


def secret_context_bytes(ctx: ts.Context) -> bytes:
    """Serialize with the secret and public keys; no Galois or relinearization keys (never used)."""
    if not ctx.is_private():
        raise ValueError("this context holds no secret key")
    return bytes(
        ctx.serialize(
            save_public_key=True,
            save_secret_key=True,
            save_galois_keys=False,
            save_relin_keys=False,
        )
    )


def public_context_bytes(ctx: ts.Context) -> bytes:
    """The aggregator's context: parameters and public key only (no secret, Galois, relin keys).

    The public key stays so that the context digest names this consortium's key pair, not only a
    parameter set; it lets anyone encrypt, which reveals nothing. Serialization is deterministic,
    so the digest of these bytes is the ``public_context_digest`` on the ledger.
    """
    public = ctx.copy()
    if public.is_private():
        public.make_context_public(generate_galois_keys=False, generate_relin_keys=False)
    return bytes(
        public.serialize(
            save_public_key=True,
            save_secret_key=False,
            save_galois_keys=False,
            save_relin_keys=False,
        )
    )


def load_context(data: bytes, params: CkksParams = PARAMS) -> ts.Context:
    """Load a serialized (public or secret) context and set the consortium's global scale."""
    import tenseal as ts

    ctx = ts.context_from(data)
    ctx.global_scale = 2.0**params.scale_bits
    _check_primes(ctx, params)
    return ctx


def context_digest(data: bytes) -> str:
    """SHA-256 (hex) of serialized public-context bytes: the ``public_context_digest``."""
    return hashlib.sha256(data).hexdigest()
