"""The Secure Mapping Layer (SML): a frozen, secret-until-revealed rotation in front of a model.

Construction (protocol: docs/decisions/0001-protocol.md, "The Secure Mapping Layer in the protocol")

1. The member draws a 32-byte nonce (`new_nonce`) and commits to it on the ledger with
   ``commitment = sha256("consortium/sml-commit/v1|" + nonce)`` (`commitment`).
2. ``seed = sha256(canonical_json({task_id, base_digest, member_id, nonce}))`` (`sml_seed`). Binding
   the base version's digest means the layer cannot exist before that version does (no
   precomputed submissions); binding the member id and task means A's layer is not B's; the nonce
   keeps it unpredictable to others until the reveal.
3. ``dim x dim`` standard normal numbers are drawn from SHAKE-256(seed) by Box-Muller (a fully
   specified stream, the same in any language, unlike a library RNG whose algorithm may change),
   ``G = QR``, and ``M = Q·diag(sign(diag R))``. The sign correction makes M Haar-distributed
   (Mezzadri 2007, "How to generate random matrices from the classical compact groups").

Why this matrix: M is orthogonal, so it is invertible with ``M⁻¹ = Mᵀ`` and perfectly conditioned
(all singular values 1, condition number 1): mapping and unmapping lose nothing numerically. Behind
the layer the model sees ``Mx``; its first layer ``W'`` acts as ``W'M`` in global coordinates, so
mapping a global model is ``W' = W·Mᵀ`` (then ``f(Mx) = g(x)``) and unmapping is ``W = W'·M``. The
per-sample gradient of ``W'`` is ``g·(Mx)ᵀ``, whose norm is ``‖g‖·‖x‖``: clipping, and so DP-SGD's
sensitivity and privacy, are exactly those of training without the layer; with (momentum) SGD the
unmapped trajectory equals training without the layer up to a rotation of the Gaussian noise,
which has the same distribution. The layer costs no accuracy in expectation (tests/pole).

What it defends against: a submitted (mapped) model only works behind its own layer. A copy of
another member's update, a replay of an earlier one, or a model prepared before the base version
existed, evaluated behind the submitter's layer (rebuilt by verifiers after `RevealNonce`), sees its
inputs rotated at random and scores at chance (AUROC ≈ 0.5): ``SML_MISMATCH``.

What it does not defend against: an adversary who, before the reveal, estimates another member's
layer by least squares from the public base model's first layer ``W`` and that member's mapped
first layer ``W' ≈ W·Mᵀ`` (the update is small next to W), then converts the model to its own
layer. The layer is a speed bump, not a secret that survives inspection; such a converted copy is
caught by the duplicate check on unmapped deltas, which does not depend on the layer being secret.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from consortium.canonical import canonical_json
from consortium.learning.evaluate import Metrics, evaluate

__all__ = [
    "COMMIT_PREFIX",
    "behind",
    "commitment",
    "consistent_reveal",
    "evaluate_behind",
    "first_layer_name",
    "map_state",
    "mapped_inputs",
    "new_nonce",
    "sml_layer",
    "sml_seed",
    "unmap_state",
    "verify_commitment",
]

COMMIT_PREFIX = "consortium/sml-commit/v1|"


def new_nonce() -> str:
    """A fresh 32-byte nonce (64 hex characters) from the OS CSPRNG."""
    return secrets.token_hex(32)


def commitment(nonce: str) -> str:
    """``sha256("consortium/sml-commit/v1|" + nonce)`` hex: hides the nonce until the reveal."""
    return hashlib.sha256((COMMIT_PREFIX + nonce).encode("utf-8")).hexdigest()


def verify_commitment(nonce: str, expected: str) -> bool:
    """Does ``nonce`` open ``expected`` (constant-time comparison)?"""
    return hmac.compare_digest(commitment(nonce), expected)


def sml_seed(task_id: str, base_digest: str, member_id: str, nonce: str) -> bytes:
    """The 32-byte seed of a member's layer for one task and base version."""
    record = {
        "base_digest": base_digest,
        "member_id": member_id,
        "nonce": nonce,
        "task_id": task_id,
    }
    return hashlib.sha256(canonical_json(record)).digest()


def _gaussians(seed: bytes, count: int) -> np.ndarray:
    """``count`` standard normals: SHAKE-256(seed) as 64-bit words, 53-bit uniforms, Box-Muller."""
    n_pairs = (count + 1) // 2
    words = np.frombuffer(hashlib.shake_256(seed).digest(16 * n_pairs), dtype="<u8")
    uniforms = (words >> np.uint64(11)).astype(np.float64) / float(2**53)  # in [0, 1)
    u1 = 1.0 - uniforms[0::2]  # in (0, 1]: log is finite
    u2 = uniforms[1::2]
    radius = np.sqrt(-2.0 * np.log(u1))
    angle = 2.0 * np.pi * u2
    return np.concatenate([radius * np.cos(angle), radius * np.sin(angle)])[:count]


def sml_layer(task_id: str, base_digest: str, member_id: str, nonce: str, dim: int) -> np.ndarray:
    """The member's ``dim x dim`` Haar-random orthogonal matrix (float64), see the module doc."""
    if dim < 1:
        raise ValueError("dim must be >= 1")
    seed = sml_seed(task_id, base_digest, member_id, nonce)
    gauss = _gaussians(seed, dim * dim).reshape(dim, dim)
    q, r = np.linalg.qr(gauss)
    signs = np.where(np.diag(r) < 0, -1.0, 1.0)
    return np.asarray(q * signs[None, :], dtype=np.float64)


def mapped_inputs(X: np.ndarray, layer: np.ndarray) -> np.ndarray:
    """The frozen layer applied to rows: ``x -> Mx`` (float32 out)."""
    mapped: np.ndarray = np.asarray(X, dtype=np.float64) @ layer.T
    return mapped.astype(np.float32)


def first_layer_name(arrays: Mapping[str, np.ndarray]) -> str:
    """The first two-dimensional tensor: the weight the layer composes with."""
    for name, value in arrays.items():
        if value.ndim == 2:
            return name
    raise ValueError("the model has no 2-D (Linear) weight")


def _with_first(
    arrays: Mapping[str, np.ndarray], new_first: np.ndarray
) -> OrderedDict[str, np.ndarray]:
    name = first_layer_name(arrays)
    out = OrderedDict((k, np.array(v, dtype=np.float32, copy=True)) for k, v in arrays.items())
    out[name] = new_first.astype(np.float32)
    return out


def map_state(arrays: Mapping[str, np.ndarray], layer: np.ndarray) -> OrderedDict[str, np.ndarray]:
    """A global model into the member's coordinates: first layer ``W -> W·Mᵀ`` (f(Mx) = g(x))."""
    first = np.asarray(arrays[first_layer_name(arrays)], dtype=np.float64)
    return _with_first(arrays, first @ layer.T)


def unmap_state(
    arrays: Mapping[str, np.ndarray], layer: np.ndarray
) -> OrderedDict[str, np.ndarray]:
    """A mapped model (or delta) back to global coordinates: first layer ``W' -> W'·M``."""
    first = np.asarray(arrays[first_layer_name(arrays)], dtype=np.float64)
    return _with_first(arrays, first @ layer)


def consistent_reveal(
    mapped_first: np.ndarray, unmapped_first: np.ndarray, layer: np.ndarray, *, atol: float = 1e-5
) -> bool:
    """Verifier check: is the revealed unmapped first layer the mapped one times the layer?"""
    expected = np.asarray(mapped_first, dtype=np.float64) @ layer
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    diff = float(np.abs(expected - np.asarray(unmapped_first, dtype=np.float64)).max(initial=0.0))
    return diff <= atol * scale


class _Behind(nn.Module):
    """A mapped model with its frozen layer in front: ``x -> model(Mx)``."""

    def __init__(self, model: nn.Module, layer: np.ndarray) -> None:
        super().__init__()
        self.sml = nn.Linear(layer.shape[1], layer.shape[0], bias=False)
        with torch.no_grad():
            self.sml.weight.copy_(torch.as_tensor(np.asarray(layer, dtype=np.float32)))
        self.sml.weight.requires_grad_(False)
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.model(self.sml(x))
        return out


def behind(model: nn.Module, layer: np.ndarray) -> nn.Module:
    """``model`` with the frozen layer in front, as an ``nn.Module`` (for inference)."""
    return _Behind(model, layer)


def evaluate_behind(model: nn.Module, layer: np.ndarray, X: np.ndarray, y: np.ndarray) -> Metrics:
    """Verifier: metrics of a submitted (mapped) model behind the submitter's layer."""
    return evaluate(model, mapped_inputs(X, layer), y)
