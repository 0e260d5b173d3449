"""train_local: determinism, fast path equals Opacus, DP utility on the heart cohort."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from consortium.datasets.heart import heart_cohort_table
from consortium.learning.data import DesignMatrix, load_definition, train_test
from consortium.learning.evaluate import evaluate
from consortium.learning.models import ModelSpec, build_model, load_arrays, state_arrays
from consortium.learning.train import train_local
from consortium.privacy.accountant import AccountantStore

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@lru_cache(maxsize=1)
def _pooled() -> tuple[DesignMatrix, DesignMatrix]:
    return train_test(heart_cohort_table(), load_definition("heart"))


def _store(tmp_path: Path, budget: float = 3.0) -> AccountantStore:
    return AccountantStore(
        tmp_path,
        member_id="m",
        task_id="heart",
        accountant="prv",
        epsilon_budget=budget,
        delta=1e-5,
    )


def _small() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(150, 6)).astype(np.float32)
    return X, (X[:, 0] - X[:, 1] > 0).astype(np.float32)


def test_same_seed_same_model_and_the_input_model_is_untouched(tmp_path: Path) -> None:
    X, y = _small()
    spec = ModelSpec(in_features=6, hidden=(8,))
    base = build_model(spec, seed=0)
    before = state_arrays(base)
    runs = [
        train_local(
            model=base,
            X=X,
            y=y,
            epochs=2,
            lr=0.1,
            batch_size=25,
            noise_multiplier=1.0,
            accountant_store=_store(tmp_path / str(i), 50.0),
            seed=11,
        )
        for i in range(2)
    ]
    assert all(np.array_equal(runs[0].state[k], runs[1].state[k]) for k in before)
    assert all(np.array_equal(state_arrays(base)[k], before[k]) for k in before)
    assert any(not np.array_equal(runs[0].state[k], before[k]) for k in before)


def test_fast_path_trains_exactly_like_opacus_grad_sample_module(tmp_path: Path) -> None:
    X, y = _small()
    spec = ModelSpec(in_features=6, hidden=(8, 4), activation="tanh")
    states = {}
    for how in ("fast", "opacus"):
        result = train_local(
            model=build_model(spec, seed=2),
            X=X,
            y=y,
            epochs=3,
            lr=0.2,
            batch_size=30,
            noise_multiplier=0.9,
            accountant_store=_store(tmp_path / how, 50.0),
            seed=5,
            clipping=how,  # type: ignore[arg-type]
        )
        assert result.clipping == how
        states[how] = result.state
    for name, value in states["fast"].items():
        assert np.allclose(value, states["opacus"][name], atol=1e-5), name


def test_opacus_path_runs_for_a_module_that_is_not_our_mlp(tmp_path: Path) -> None:
    X, y = _small()

    class Flat(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = torch.nn.Linear(6, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.lin(x).reshape(-1)

    result = train_local(
        model=Flat(),
        X=X,
        y=y,
        epochs=1,
        lr=0.1,
        batch_size=30,
        noise_multiplier=1.0,
        accountant_store=_store(tmp_path, 50.0),
        seed=0,
    )
    assert result.clipping == "opacus" and result.steps == 5


def test_dp_needs_a_store_and_one_noise_setting(tmp_path: Path) -> None:
    X, y = _small()
    model = build_model(ModelSpec(in_features=6), seed=0)
    with pytest.raises(ValueError, match="accountant_store"):
        train_local(model=model, X=X, y=y, epochs=1, lr=0.1, batch_size=10, noise_multiplier=1.0)
    with pytest.raises(ValueError, match="exactly one of noise_multiplier or target_epsilon"):
        train_local(
            model=model,
            X=X,
            y=y,
            epochs=1,
            lr=0.1,
            batch_size=10,
            accountant_store=_store(tmp_path),
        )


def test_pooled_heart_at_epsilon_3_is_within_002_auroc_of_non_private(tmp_path: Path) -> None:
    train, test = _pooled()
    spec = ModelSpec(in_features=train.X.shape[1], hidden=(16,))
    common = {
        "model": build_model(spec, seed=0),
        "X": train.X,
        "y": train.y,
        "epochs": 20,
        "lr": 0.05,
        "batch_size": 64,
        "seed": 0,
    }
    plain = train_local(dp=False, **common)  # type: ignore[arg-type]
    private = train_local(
        target_epsilon=3.0, max_grad_norm=1.0, accountant_store=_store(tmp_path), **common
    )  # type: ignore[arg-type]
    scores = {}
    for name, result in (("non-private", plain), ("DP ε=3", private)):
        model = build_model(spec, seed=0)
        load_arrays(model, result.state)
        scores[name] = evaluate(model, test.X, test.y)
        print(f"{name:12s} {scores[name].summary()}")
    print(f"ε spent {private.epsilon_spent_total:.3f} (σ={private.noise_multiplier:.3f})")
    assert private.epsilon_spent_total is not None and private.epsilon_spent_total <= 3.0
    auroc_plain, auroc_dp = scores["non-private"].auroc, scores["DP ε=3"].auroc
    assert auroc_plain is not None and auroc_dp is not None
    assert auroc_plain > 0.8
    assert abs(auroc_plain - auroc_dp) <= 0.02


def test_inconsistent_arguments_are_refused_before_spending(tmp_path: Path) -> None:
    X, y = _small()
    model = build_model(ModelSpec(in_features=6), seed=0)
    store = _store(tmp_path, 50.0)
    common = {"model": model, "epochs": 1, "lr": 0.1, "batch_size": 10}
    with pytest.raises(ValueError, match="one label per row"):
        train_local(X=X, y=y[:-1], noise_multiplier=1.0, accountant_store=store, **common)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dp=False with a noise setting"):
        train_local(X=X, y=y, dp=False, noise_multiplier=1.0, **common)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="SML layer"):
        train_local(X=X, y=y, noise_multiplier=1.0, accountant_store=store, sml=np.eye(5), **common)  # type: ignore[arg-type]
    assert store.epsilon_spent() == 0.0 and not store.path.exists()


# A BatchNorm without affine parameters or running statistics passes Opacus' ModuleValidator
# (it only looks at trainable modules) but mixes the rows of a batch: refused before any ε.
class _BatchNormed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.l1 = nn.Linear(4, 8)
        self.bn = nn.BatchNorm1d(8, affine=False, track_running_stats=False)
        self.l2 = nn.Linear(8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.l2(torch.relu(self.bn(self.l1(x))))
        return out.squeeze(-1)


def test_batchnorm_model_is_refused_and_nothing_is_spent(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.float32)
    store = AccountantStore(
        tmp_path, member_id="m", task_id="t", accountant="rdp", epsilon_budget=50.0, delta=1e-5
    )
    with pytest.raises(ValueError, match="per-sample"):
        train_local(model=_BatchNormed(), X=X, y=y, epochs=1, lr=0.1, batch_size=32,
                    noise_multiplier=1.0, accountant_store=store, seed=1)  # fmt: skip
    assert store.history() == []


def test_poisson_sampling_never_includes_a_row_more_often_than_the_accountant_is_told(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # torch.rand draws float32 uniforms on a grid of 2**-24; handing the sampler every point of
    # that grid once makes the share of rows it selects its exact inclusion probability.
    from consortium.learning import train

    grid = torch.arange(2**24, dtype=torch.float32) / 2**24
    monkeypatch.setattr(torch, "rand", lambda n, generator: grid[:n])
    for q in (1 / 3, 1 / 7, 1 / 22, 0.1, 0.5, 1.0):
        rate = len(train._poisson_batch(2**24, q, torch.Generator())) / 2**24
        assert rate <= q, f"q={q}: rows are sampled at {rate!r}, the accountant is told {q!r}"


# Running statistics of a norm layer are updated from the rows in every forward pass and leave
# with the model (state_arrays holds the state_dict): a data-dependent release without noise.
class _RunningStats(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.l1 = nn.Linear(4, 8)
        self.norm = nn.InstanceNorm1d(1, affine=False, track_running_stats=True)
        self.l2 = nn.Linear(8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(self.l1(x).unsqueeze(1)).squeeze(1)
        out: torch.Tensor = self.l2(torch.relu(h))
        return out.squeeze(-1)


def test_a_model_with_buffers_is_refused_under_dp_and_nothing_is_spent(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.float32)
    store = AccountantStore(
        tmp_path, member_id="m", task_id="t", accountant="rdp", epsilon_budget=50.0, delta=1e-5
    )
    with pytest.raises(ValueError, match=r"buffers.*norm\.running_mean"):
        train_local(model=_RunningStats(), X=X, y=y, epochs=1, lr=0.1, batch_size=32,
                    noise_multiplier=1.0, accountant_store=store, seed=1)  # fmt: skip
    assert store.history() == []


@pytest.mark.parametrize("bad", [np.inf, np.nan, 1e39])  # 1e39: finite, but not in float32
def test_a_non_finite_feature_is_refused_before_anything_is_spent(
    tmp_path: Path, bad: float
) -> None:
    # Clipping bounds finite gradients only: one row with an infinite feature made every
    # parameter NaN, so the update told whoever decrypts it that such a row was trained on.
    X, y = _small()
    X64 = X.astype(np.float64)
    X64[7, 2] = bad
    store = _store(tmp_path, 50.0)
    with pytest.raises(ValueError, match="not finite"):
        model = build_model(ModelSpec(in_features=6), seed=0)
        train_local(model=model, X=X64, y=y, epochs=1, lr=0.1, batch_size=10,
                    noise_multiplier=1.0, accountant_store=store)  # fmt: skip
    assert store.history() == []
