"""Model versions: forming version v+1 from v and the aggregate, exactly, and reading versions.

``θ(v+1) = θ(v) + η · S · 10⁶ / Σ w_k`` where ``S = Σ (w_k/10⁶)·Δ_k`` is the decrypted aggregate
(`consortium.federation.vault`), ``η = server_lr_bp / 10⁴`` and ``w_k`` the ledger's integer
weights. The arithmetic is float64 then rounded once to float32, in tensor order, so the same
inputs give the same bytes on any machine: the version's digest is recomputable
(`consortium.federation.recompute`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["SUM_TOLERANCE", "apply_aggregate", "global_step", "is_weighted_mean", "version_bytes"]

# Per parameter, how far the decrypted homomorphic sum may lie from the plaintext weighted sum
# (docs/decisions/0005-encryption.md, "Precision": measured 9.6e-9 over 10⁶ parameters; the tests
# of `consortium.crypto.update` hold every sum to this bound).
SUM_TOLERANCE = 1e-6


def apply_aggregate(
    base: Mapping[str, np.ndarray],
    aggregate: Mapping[str, np.ndarray],
    weights_ppm: Sequence[int],
    server_lr_bp: int,
) -> OrderedDict[str, np.ndarray]:
    """``θ + η·S·10⁶/Σw`` tensor by tensor, float64 arithmetic, float32 result."""
    total = sum(int(w) for w in weights_ppm)
    if total <= 0:
        raise ValueError("weights must sum to a positive number")
    if set(base) != set(aggregate):
        raise ValueError(
            f"aggregate tensors {list(aggregate)} differ from the model's {list(base)}"
        )
    factor = (server_lr_bp / 10_000) * (1_000_000 / total)
    out: OrderedDict[str, np.ndarray] = OrderedDict()
    for name, theta in base.items():
        step = np.asarray(aggregate[name], dtype=np.float64).reshape(theta.shape)
        out[name] = (np.asarray(theta, dtype=np.float64) + factor * step).astype(np.float32)
    return out


def version_bytes(
    vault: Any,
    base: Mapping[str, np.ndarray],
    aggregate_blob: bytes,
    weights_ppm: Sequence[int],
    server_lr_bp: int,
) -> bytes:
    """The safetensors bytes of the version formed from ``base`` and an encrypted aggregate: what
    the sealer stores, each attester checks and any member recomputes (one definition)."""
    from consortium.learning.serialize import to_safetensors

    total = vault.decrypt(aggregate_blob)
    return bytes(to_safetensors(apply_aggregate(base, total, weights_ppm, server_lr_bp)))


def is_weighted_mean(
    version: Mapping[str, np.ndarray],
    base: Mapping[str, np.ndarray],
    deltas: Sequence[Mapping[str, np.ndarray]],
    weights_ppm: Sequence[int],
    server_lr_bp: int,
) -> bool:
    """Is ``version`` the version formed from ``base`` and these plaintext deltas, up to CKKS noise?

    What `version_bytes` computes from the decrypted aggregate, computed instead from the deltas
    in the clear: ``θ + η·Σ w_k·Δ_k / Σ w_k`` in float64, and each parameter of ``version`` within
    ``η·10⁶/Σw · SUM_TOLERANCE`` (the sum's noise, scaled as `apply_aggregate` scales it) plus
    one float32 rounding of it. An attester that holds the deltas checks a proposal this way
    without decrypting the aggregate (`consortium.federation.attester`). A mean that is not finite
    (a delta of ±inf, or weighted deltas that overflow) is the mean of no version: its bound would
    be infinite too.
    """
    total = sum(int(w) for w in weights_ppm)
    if total <= 0 or len(deltas) != len(weights_ppm) or set(version) != set(base):
        return False
    factor = (server_lr_bp / 10_000) * (1_000_000 / total)
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
        bound = factor * SUM_TOLERANCE + np.abs(expected) * 2.0**-23
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
