"""Model versions: forming version v+1 from v and the aggregate, exactly, and reading versions.

``θ(v+1) = θ(v) + η · S · 10⁶ / D`` where ``S = Σ (w_k/10⁶)·Δ_k`` is the decrypted aggregate
(`consortium.federation.vault`), ``η = server_lr_bp / 10⁴``, ``w_k = s(τ_k)·c_k`` the ledger's
integer weights (staleness × contribution, `consortium.federation.weights`) and
``D = Σ w_k / s(τ_k)``, the weights with their staleness taken out (``s`` as integer ppm, τ_k the
versions between update k's base and v). So the step is ``η · Σ s(τ_k)·c_k·Δ_k / Σ c_k``: the
contribution-weighted mean of the updates, each shrunk by its own staleness, as FedAsync and
FedBuff shrink a stale update's step; when every update is fresh ``D = Σ w_k`` (the weighted
mean). Dividing by ``Σ w_k`` instead would make staleness a relative weight only: a buffer of
equally stale updates, above all a straggler's update flushed on its own, would move the model by
the full ``η·Δ`` (docs/decisions/0007-bafl.md, "Staleness shrinks the step").

The decrypted aggregate is first rounded to a multiple of `RELEASE_GRID` (2⁻²⁰): CKKS
decryption adds noise (about 10⁻⁸ per value here) that depends on the secret key, and a decryption
published beside its ciphertext can give the key away (Li & Micciancio, EUROCRYPT 2021). A version
leaves the consortium (`consortium model pull`) and its parent may too, so the step between them,
S·factor, must not carry those noise bits; rounding S to a grid far above the noise drops them
(a heuristic countermeasure: noise flooding is the provable one, and would make versions
non-reproducible; docs/decisions/0005-encryption.md, "Limits"). The grid is far below the
updates' own precision (DP noise of order 10⁻³).

The arithmetic is exact rational for the factor ``η·10⁶/D`` (rounded once to float64), float64
for the step, then rounded once to float32, in tensor order, so the same ledger integers give
the same bytes on any machine: the version's digest is recomputable
(`consortium.federation.recompute`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

import numpy as np

__all__ = [
    "RELEASE_GRID",
    "SUM_TOLERANCE",
    "apply_aggregate",
    "global_step",
    "is_weighted_mean",
    "step_factor",
    "step_staleness",
    "version_bytes",
]

# Per parameter, how far the decrypted homomorphic sum may lie from the plaintext weighted sum
# (docs/decisions/0005-encryption.md, "Precision": measured 9.6e-9 over 10⁶ parameters; the tests
# of `consortium.crypto.update` hold every sum to this bound).
SUM_TOLERANCE = 1e-6
# The decrypted aggregate is rounded to multiples of this before it forms a version (module
# docstring): 2⁻²⁰ ≈ 9.5e-7, about a hundred times the decryption noise, and exact in float64.
RELEASE_GRID = 2.0**-20


def step_factor(
    weights_ppm: Sequence[int], staleness_ppm: Sequence[int], server_lr_bp: int
) -> float:
    """``η·10⁶/D`` with ``D = Σ w_k·10⁶/s_k`` (module docstring), computed exactly and rounded
    once: it depends on the ledger's integers only, never on a platform's rounding."""
    if len(weights_ppm) != len(staleness_ppm):
        raise ValueError(f"{len(weights_ppm)} weights but {len(staleness_ppm)} staleness factors")
    if any(int(w) <= 0 for w in weights_ppm) or not weights_ppm:
        raise ValueError("weights must be positive integers")
    if any(int(s) <= 0 or int(s) > 1_000_000 for s in staleness_ppm):
        raise ValueError("staleness factors must be in (0, 10⁶] ppm")
    divisor = sum(
        (
            Fraction(int(w) * 1_000_000, int(s))
            for w, s in zip(weights_ppm, staleness_ppm, strict=True)
        ),
        Fraction(0),
    )
    return float(Fraction(int(server_lr_bp), 10_000) * 1_000_000 / divisor)


def step_staleness(base_versions: Sequence[int], head: int, exponent_bp: int) -> list[int]:
    """``s(τ_k)`` in ppm for the updates of an aggregate formed on version ``head``, from their
    ledger ``base_version``s and the task's ``staleness_exponent_bp`` (τ_k = head − base)."""
    from consortium.federation.weights import staleness_ppm

    return [staleness_ppm(head - int(b), exponent_bp) for b in base_versions]


def apply_aggregate(
    base: Mapping[str, np.ndarray],
    aggregate: Mapping[str, np.ndarray],
    weights_ppm: Sequence[int],
    server_lr_bp: int,
    staleness_ppm: Sequence[int],
) -> OrderedDict[str, np.ndarray]:
    """``θ + η·S·10⁶/D`` tensor by tensor, float64 arithmetic, float32 result."""
    if set(base) != set(aggregate):
        raise ValueError(
            f"aggregate tensors {list(aggregate)} differ from the model's {list(base)}"
        )
    factor = step_factor(weights_ppm, staleness_ppm, server_lr_bp)
    out: OrderedDict[str, np.ndarray] = OrderedDict()
    for name, theta in base.items():
        step = np.asarray(aggregate[name], dtype=np.float64).reshape(theta.shape)
        step = np.round(step / RELEASE_GRID) * RELEASE_GRID  # drops the decryption's noise bits
        out[name] = (np.asarray(theta, dtype=np.float64) + factor * step).astype(np.float32)
    return out


def version_bytes(
    vault: Any,
    base: Mapping[str, np.ndarray],
    aggregate_blob: bytes,
    weights_ppm: Sequence[int],
    server_lr_bp: int,
    staleness_ppm: Sequence[int],
) -> bytes:
    """The safetensors bytes of the version formed from ``base`` and an encrypted aggregate: what
    the sealer stores, each attester checks and any member recomputes (one definition)."""
    from consortium.learning.serialize import to_safetensors

    total = vault.decrypt(aggregate_blob)
    stepped = apply_aggregate(base, total, weights_ppm, server_lr_bp, staleness_ppm)
    return bytes(to_safetensors(stepped))


def is_weighted_mean(
    version: Mapping[str, np.ndarray],
    base: Mapping[str, np.ndarray],
    deltas: Sequence[Mapping[str, np.ndarray]],
    weights_ppm: Sequence[int],
    server_lr_bp: int,
    staleness_ppm: Sequence[int],
) -> bool:
    """Is ``version`` the version formed from ``base`` and these plaintext deltas, up to CKKS noise?

    What `version_bytes` computes from the decrypted aggregate, computed instead from the deltas
    in the clear: ``θ + η·Σ w_k·Δ_k / D`` in float64, and each parameter of ``version`` within
    ``η·10⁶/D · (SUM_TOLERANCE + RELEASE_GRID/2)`` (the sum's noise and the rounding to the grid,
    scaled as `apply_aggregate` scales them) plus
    one float32 rounding of it. An attester that holds the deltas checks a proposal this way
    without decrypting the aggregate (`consortium.federation.attester`). A mean that is not finite
    (a delta of ±inf, or weighted deltas that overflow) is the mean of no version: its bound would
    be infinite too.
    """
    if len(deltas) != len(weights_ppm) or set(version) != set(base):
        return False
    try:
        factor = step_factor(weights_ppm, staleness_ppm, server_lr_bp)
    except ValueError:
        return False
    with np.errstate(over="ignore", invalid="ignore"):  # a mean that is not finite is refused
        return _within(base, deltas, weights_ppm, version, factor)


def _within(
    base: Mapping[str, np.ndarray],
    deltas: Sequence[Mapping[str, np.ndarray]],
    weights_ppm: Sequence[int],
    version: Mapping[str, np.ndarray],
    factor: float,
) -> bool:
    for name, theta in base.items():
        step = np.zeros(theta.shape, dtype=np.float64)
        for delta, w in zip(deltas, weights_ppm, strict=True):
            if name not in delta or delta[name].size != theta.size:
                return False
            step += (int(w) / 1_000_000) * np.asarray(delta[name], dtype=np.float64).reshape(
                theta.shape
            )
        expected = np.asarray(theta, dtype=np.float64) + factor * step
        got = np.asarray(version[name], dtype=np.float64)
        if got.shape != expected.shape or not np.all(np.isfinite(expected)):
            return False  # an infinite mean would make the bound infinite: anything would pass
        bound = factor * (SUM_TOLERANCE + RELEASE_GRID / 2) + np.abs(expected) * 2.0**-23
        if not bool(np.all(np.abs(got - expected) <= bound)):
            return False
    return True


def global_step(
    new: Mapping[str, np.ndarray], old: Mapping[str, np.ndarray]
) -> OrderedDict[str, np.ndarray]:
    """``new − old`` in float64 (a verifier's reference for resubmitted global models)."""
    return OrderedDict(
        (k, np.asarray(new[k], dtype=np.float64) - np.asarray(old[k], dtype=np.float64))
        for k in old
    )
