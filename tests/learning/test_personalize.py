"""Fine-tuning the consortium's model within what the member's accountant has left."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch

from consortium.learning.models import ModelSpec, build_model, state_arrays
from consortium.learning.personalize import fine_tune, hidden_features
from consortium.privacy.accountant import AccountantStore, BudgetExceeded, noise_for_budget

SPEC = ModelSpec(in_features=5, hidden=(4,))


def _data(n: int = 96) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 5)).astype(np.float32)
    y = (X[:, 0] + 0.5 * rng.normal(size=n) > 0).astype(np.float32)
    return X, y


def _store(tmp_path: Path, budget: float = 3.0) -> AccountantStore:
    return AccountantStore(
        tmp_path, member_id="h", task_id="t", accountant="rdp", epsilon_budget=budget, delta=1e-5
    )


def _base() -> OrderedDict[str, np.ndarray]:
    return state_arrays(build_model(SPEC, seed=1))


def test_the_fine_tune_spends_what_the_federated_updates_left_and_no_more(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.reserve(noise_multiplier=3.0, sample_rate=0.25, steps=24)  # the federated updates
    before = store.epsilon_spent()
    X, y = _data()

    result = fine_tune(
        base=_base(), spec=SPEC, X=X, y=y, store=store, epochs=3, lr=0.05, batch_size=32, seed=0
    )

    assert 0 < before < result.epsilon_total <= 3.0
    assert result.epsilon_total >= 0.98 * 3.0  # the remainder is used, not wasted
    assert result.epsilon_before == pytest.approx(before)
    assert len(store.history()) == 2 and store.epsilon_spent() == pytest.approx(
        result.epsilon_total
    )


def test_nothing_is_spent_when_the_budget_is_used_up(tmp_path: Path) -> None:
    store = _store(tmp_path, budget=1.0)
    sigma = noise_for_budget(1.0, 1e-5, 0.25, 24, 1, "rdp", tolerance=0.001)
    store.reserve(noise_multiplier=sigma, sample_rate=0.25, steps=24)  # ε in [0.999, 1]
    history = store.history()
    assert store.epsilon_spent() > 1.0 * 0.995
    X, y = _data()

    with pytest.raises(BudgetExceeded):
        fine_tune(base=_base(), spec=SPEC, X=X, y=y, store=store, epochs=1, lr=0.05, batch_size=32)

    assert store.history() == history


def test_head_only_trains_the_read_out_and_keeps_the_hidden_layers(tmp_path: Path) -> None:
    base = _base()
    X, y = _data()

    result = fine_tune(
        base=base, spec=SPEC, X=X, y=y, store=_store(tmp_path), epochs=3, lr=0.05,
        batch_size=32, head_only=True, seed=0,
    )  # fmt: skip

    assert list(result.state) == list(base)
    for name in ("layers.0.weight", "layers.0.bias"):
        np.testing.assert_array_equal(result.state[name], base[name])
    assert not np.array_equal(result.state["layers.1.weight"], base["layers.1.weight"])


def test_hidden_features_are_what_the_read_out_sees() -> None:
    base = _base()
    X, _ = _data(8)
    model = build_model(SPEC, seed=1)

    h = hidden_features(base, SPEC, X)

    logits = h @ base["layers.1.weight"].T + base["layers.1.bias"]
    with torch.no_grad():
        expected = model(torch.as_tensor(X)).numpy()
    np.testing.assert_allclose(logits.reshape(-1), expected, rtol=1e-5, atol=1e-6)


def test_a_model_without_hidden_layers_has_no_read_out_to_fine_tune_alone() -> None:
    spec = ModelSpec(in_features=5, hidden=())
    with pytest.raises(ValueError, match="no read-out"):
        hidden_features(state_arrays(build_model(spec, seed=0)), spec, _data(4)[0])
