"""Personalization: a hospital fine-tunes the consortium's model on its own rows, privately.

The consortium's model is one model for four hospitals whose patients differ (label shift from
6 % to 94 % positive, different missing measurements). After the federation a hospital may adapt
it to its own patients with DP-SGD, on its own rows, without sending anything anywhere.

Privacy: the fine-tune is another DP-SGD run on the same patients, so it spends from the **same**
accountant as the hospital's federated updates (one `AccountantStore` per member and task).
`fine_tune` picks the noise at which this one run brings the composed ε of the whole history
(every federated update plus the fine-tune) to the budget, minus a small margin, and reserves it
before the first step (`consortium.privacy.accountant`); with nothing left it raises
`BudgetExceeded` and spends nothing. Composition is Opacus' (RDP or PRV over the whole history),
never a sum of ε's. The hospital's total ε for the task is therefore what its accountant reports
after the fine-tune, and a task that plans a fine-tune must leave room for it in the federation
(federated updates paced at ε_f < budget).

Two forms:

- ``head_only=False``: every weight is trained, starting from the global model;
- ``head_only=True``: only the last layer (the logistic read-out over the hidden units) is trained,
  the hidden layers are frozen. The frozen layers are a fixed function of each row, so DP-SGD on
  the read-out over the hidden activations is DP-SGD on the rows; fewer trained weights means the
  same noise std per coordinate hurts less in total.

A bias-only fine-tune is not offered: shifting the logit by a constant does not change any
ranking, so it cannot change an AUROC (it only recalibrates).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from consortium.learning.models import ModelSpec, build_model, load_arrays
from consortium.learning.train import train_local
from consortium.privacy.accountant import (
    AccountantName,
    AccountantStore,
    noise_for_budget,
)

__all__ = ["FineTuneResult", "fine_tune", "hidden_features"]

MARGIN = 0.995  # as the federation's pacing: rounding never crosses the budget


@dataclass(frozen=True)
class FineTuneResult:
    """The personalized weights and what the fine-tune spent."""

    state: OrderedDict[str, np.ndarray]
    noise_multiplier: float
    epsilon_total: float  # composed over the member's whole history for the task
    epsilon_before: float
    steps: int


@lru_cache(maxsize=256)
def _noise(
    budget: float,
    delta: float,
    q: float,
    steps: int,
    accountant: AccountantName,
    history: tuple[tuple[float, float, int], ...],
) -> float:
    return noise_for_budget(budget, delta, q, steps, 1, accountant, history=history)


def hidden_features(base: Mapping[str, np.ndarray], spec: ModelSpec, X: np.ndarray) -> np.ndarray:
    """The last hidden layer's activations of the model ``base`` for rows ``X``."""
    if not spec.hidden:
        raise ValueError("a model without hidden layers has no read-out to fine-tune alone")
    model = build_model(spec, seed=0)
    load_arrays(model, base)
    x = torch.as_tensor(np.asarray(X, dtype=np.float32))
    with torch.no_grad():
        for layer in model.layers[:-1]:
            x = model.act(layer(x))
    out: np.ndarray = x.numpy().astype(np.float32)
    return out


def _head_names(spec: ModelSpec) -> tuple[str, str]:
    last = len(spec.hidden)
    return f"layers.{last}.weight", f"layers.{last}.bias"


def fine_tune(
    *,
    base: Mapping[str, np.ndarray],
    spec: ModelSpec,
    X: np.ndarray,
    y: np.ndarray,
    store: AccountantStore,
    epochs: int,
    lr: float,
    batch_size: int,
    head_only: bool = False,
    max_grad_norm: float = 1.0,
    seed: int | None = None,
) -> FineTuneResult:
    """Fine-tune ``base`` on ``X``, ``y`` with DP-SGD within what ``store`` has left.

    Raises `BudgetExceeded` (nothing spent) when the store's budget leaves no room.
    """
    steps = epochs * math.ceil(len(X) / batch_size)
    q = 1.0 / math.ceil(len(X) / batch_size)
    history = tuple(store.history())
    before = store.epsilon_spent()
    sigma = _noise(store.epsilon_budget * MARGIN, store.delta, q, steps, store.accountant, history)
    weight, bias = _head_names(spec)
    if head_only:
        head_spec = ModelSpec(in_features=spec.hidden[-1], hidden=(), activation=spec.activation)
        head = OrderedDict([("layers.0.weight", base[weight]), ("layers.0.bias", base[bias])])
        inputs, model, model_spec = hidden_features(base, spec, X), head, head_spec
    else:
        inputs, model, model_spec = X, OrderedDict(base), spec
    result = train_local(
        model=model, spec=model_spec, X=inputs, y=y, epochs=epochs, lr=lr,
        batch_size=batch_size, noise_multiplier=sigma, max_grad_norm=max_grad_norm,
        accountant_store=store, seed=seed,
    )  # fmt: skip
    state = OrderedDict((k, np.array(v, dtype=np.float32)) for k, v in base.items())
    if head_only:
        state[weight], state[bias] = result.state["layers.0.weight"], result.state["layers.0.bias"]
    else:
        state = result.state
    assert result.epsilon_spent_total is not None and result.noise_multiplier is not None
    return FineTuneResult(
        state=state,
        noise_multiplier=result.noise_multiplier,
        epsilon_total=result.epsilon_spent_total,
        epsilon_before=before,
        steps=result.steps,
    )
