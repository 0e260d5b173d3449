"""Model specs as data, built in torch, and the tensor plumbing the federation needs.

A task publishes its model as a `ModelSpec` (plain data, canonical-JSON friendly: no floats), so
every member builds the same architecture. Models are small MLPs for tabular cohorts: only
``nn.Linear`` layers and element-wise activations, no BatchNorm (BatchNorm mixes samples in a batch,
which breaks per-sample gradients and so DP-SGD; Opacus refuses it too).

The model outputs one logit per row with shape ``[B]``, never ``[B, 1]``: Opacus' ghost clipping
with ``[B, 1]`` logits and ``BCEWithLogitsLoss`` computes silently wrong gradients, and a flat
output removes that trap for every caller.

Weights travel as an ordered mapping ``name -> numpy float32 array`` (`state_arrays`), in the
module's own parameter order; deltas and their application are defined on that form, which is what
is encrypted and aggregated.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Mapping
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

__all__ = [
    "MLP",
    "ModelSpec",
    "add_delta",
    "build_model",
    "delta",
    "load_arrays",
    "state_arrays",
]


_ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}


class ModelSpec(BaseModel):
    """An MLP for tabular cohorts: ``in_features -> hidden... -> 1 logit``.

    ``in_features`` is the width of the design matrix (`consortium.learning.data`); the output is
    always one logit (binary label).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["mlp"] = "mlp"
    in_features: int = Field(ge=1)
    hidden: tuple[int, ...] = (32, 16)
    activation: Literal["relu", "tanh", "gelu"] = "relu"


class MLP(nn.Module):
    """Linear layers with an activation between them; `forward` returns logits of shape [B]."""

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        widths = [spec.in_features, *spec.hidden, 1]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(widths))
        self.act = _ACTIVATIONS[spec.activation]()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers[:-1]:
            x = self.act(layer(x))
        out: torch.Tensor = self.layers[-1](x)
        return out.squeeze(-1)

    @property
    def first_layer(self) -> nn.Linear:
        """The layer the Secure Mapping Layer composes with."""
        layer = self.layers[0]
        assert isinstance(layer, nn.Linear)
        return layer


def build_model(spec: ModelSpec, *, seed: int) -> MLP:
    """Build the model of ``spec`` with weights drawn from ``seed`` (same seed, same weights).

    A private generator is used, so the global torch RNG is neither read nor disturbed.
    """
    with torch.random.fork_rng(devices=[]):  # nn.Linear's own init draws from the global RNG
        model = MLP(spec)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in model.layers:
            assert isinstance(layer, nn.Linear)
            bound = 1.0 / float(np.sqrt(layer.in_features))  # PyTorch's default Linear init
            layer.weight.uniform_(-bound, bound, generator=gen)
            layer.bias.uniform_(-bound, bound, generator=gen)
    return model


def state_arrays(model: nn.Module) -> OrderedDict[str, np.ndarray]:
    """The model's parameters as an ordered ``name -> float32 numpy array`` (copies)."""
    return OrderedDict(
        (name, t.detach().cpu().numpy().astype(np.float32, copy=True))
        for name, t in model.state_dict().items()
    )


def load_arrays(model: nn.Module, arrays: Mapping[str, np.ndarray]) -> None:
    """Load ``arrays`` into ``model``; names and shapes must match exactly."""
    own = model.state_dict()
    if list(own) != list(arrays):
        raise ValueError(f"tensor names differ: model has {list(own)}, arrays have {list(arrays)}")
    tensors = {}
    for name, value in arrays.items():
        if tuple(value.shape) != tuple(own[name].shape):
            raise ValueError(f"{name}: shape {value.shape} != model's {tuple(own[name].shape)}")
        tensors[name] = torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))
    model.load_state_dict(tensors)


def _same_layout(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray]) -> None:
    if list(a) != list(b):
        raise ValueError(f"tensor names differ: {list(a)} vs {list(b)}")
    for name in a:
        if a[name].shape != b[name].shape:
            raise ValueError(f"{name}: shape {a[name].shape} vs {b[name].shape}")


def delta(
    new: Mapping[str, np.ndarray], base: Mapping[str, np.ndarray]
) -> OrderedDict[str, np.ndarray]:
    """``new - base`` tensor by tensor (float32), in ``base``'s order."""
    _same_layout(new, base)
    return OrderedDict((k, (new[k].astype(np.float32) - base[k].astype(np.float32))) for k in base)


def add_delta(
    base: Mapping[str, np.ndarray], step: Mapping[str, np.ndarray], scale: float = 1.0
) -> OrderedDict[str, np.ndarray]:
    """``base + scale * step`` tensor by tensor (float32), in ``base``'s order."""
    _same_layout(base, step)
    return OrderedDict(
        (k, (base[k].astype(np.float32) + np.float32(scale) * step[k].astype(np.float32)))
        for k in base
    )
