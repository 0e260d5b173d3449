"""The persisted accountant: Opacus' numbers, composition across runs, refusal past the budget."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opacus.accountants import PRVAccountant, RDPAccountant

from consortium.learning.models import ModelSpec, build_model
from consortium.learning.train import train_local
from consortium.privacy.accountant import (
    AccountantStore,
    BudgetExceeded,
    epsilon_of,
    left_text,
    noise_for_budget,
    spent_text,
)

SPEC = ModelSpec(in_features=4, hidden=(8,))


def _data(n: int = 120) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    return X, (X[:, 0] + 0.3 * rng.normal(size=n) > 0).astype(np.float32)


def _store(tmp_path: Path, mechanism: str = "rdp", budget: float = 50.0) -> AccountantStore:
    return AccountantStore(
        tmp_path,
        member_id="hosp-a",
        task_id="heart",
        accountant=mechanism,  # type: ignore[arg-type]
        epsilon_budget=budget,
        delta=1e-5,
    )


def _train(store: AccountantStore, *, epochs: int = 1, sigma: float = 1.1, seed: int = 0):  # type: ignore[no-untyped-def]
    X, y = _data()
    return train_local(
        model=build_model(SPEC, seed=0),
        X=X,
        y=y,
        epochs=epochs,
        lr=0.1,
        batch_size=20,
        noise_multiplier=sigma,
        max_grad_norm=1.0,
        accountant_store=store,
        seed=seed,
    )


@pytest.mark.parametrize("mechanism", ["rdp", "prv"])
def test_epsilon_after_training_matches_opacus_stepping_its_own_accountant(
    tmp_path: Path, mechanism: str
) -> None:
    result = _train(_store(tmp_path, mechanism), epochs=2)
    opacus = RDPAccountant() if mechanism == "rdp" else PRVAccountant()
    for _ in range(result.steps):  # what DPOptimizer's hook does after every step
        opacus.step(noise_multiplier=1.1, sample_rate=result.sample_rate)
    expected = opacus.get_epsilon(delta=1e-5)
    reread = _store(tmp_path, mechanism).epsilon_spent()  # from the JSON file on disk
    assert result.steps == 12 and result.sample_rate == pytest.approx(1 / 6)
    assert result.epsilon_spent_total == pytest.approx(expected, rel=1e-9)
    assert reread == pytest.approx(expected, rel=1e-9)


def test_two_runs_of_three_updates_compose_to_six(tmp_path: Path) -> None:
    store = _store(tmp_path)
    for seed in range(3):
        _train(store, seed=seed)
    after_three = store.epsilon_spent()
    second = _store(tmp_path)  # a new process reading the same state dir
    for seed in range(3, 6):
        last = _train(second, seed=seed)
    six = epsilon_of([(1.1, 1 / 6, 36)], delta=1e-5, accountant="rdp")
    assert last.epsilon_spent_total == pytest.approx(six, rel=1e-9)
    assert second.epsilon_spent() == pytest.approx(six, rel=1e-9)
    assert six > after_three * 1.2  # not the ε of three updates
    assert last.epsilon_this_run is not None and last.epsilon_this_run < six


def test_training_past_the_budget_is_refused_and_spends_nothing(tmp_path: Path) -> None:
    store = _store(tmp_path, budget=1.0)
    _train(store, sigma=4.0)
    before_bytes = store.path.read_bytes()
    spent = store.epsilon_spent()
    with pytest.raises(BudgetExceeded) as err:
        _train(store, epochs=5, sigma=0.8)
    message = str(err.value)
    assert f"spent so far {spent_text(spent)}" in message
    assert f"remaining {left_text(1.0 - spent)}" in message and "nothing was spent" in message
    assert "more noise per step" in message  # something still fits
    assert store.path.read_bytes() == before_bytes


def test_a_spent_budget_is_called_spent_not_fixable_by_more_noise() -> None:
    from consortium.privacy.accountant import SpendPlan

    def refusal(before: float) -> str:
        return SpendPlan(accountant="rdp", delta=1e-5, epsilon_budget=3.0, epsilon_before=before,
                         epsilon_after=3.2, epsilon_this_run=0.5, steps=10).refusal()  # fmt: skip

    assert "budget for these patients is spent" in refusal(2.995)
    assert "more noise" not in refusal(2.995)
    assert "more noise per step" in refusal(2.0) and "remaining 1.000" in refusal(2.0)


def test_a_store_refuses_a_changed_accountant(tmp_path: Path) -> None:
    _train(_store(tmp_path))
    with pytest.raises(ValueError, match="accountant"):
        _store(tmp_path, "prv").epsilon_spent()


def test_noise_for_budget_paces_n_updates_within_the_budget() -> None:
    sigma = noise_for_budget(3.0, 1e-5, 0.1, 50, 4, "rdp")
    spent = epsilon_of([(sigma, 0.1, 200)], delta=1e-5, accountant="rdp")
    assert 2.98 <= spent <= 3.0
    assert epsilon_of([(sigma * 0.97, 0.1, 200)], delta=1e-5, accountant="rdp") > 3.0
    first = epsilon_of([(sigma, 0.1, 50)], delta=1e-5, accountant="rdp")
    assert first < 3.0 / 2  # a fast hospital's first update spends a fraction only


def test_noise_for_budget_accounts_for_history() -> None:
    fresh = noise_for_budget(3.0, 1e-5, 0.1, 50, 2, "rdp")
    later = noise_for_budget(3.0, 1e-5, 0.1, 50, 2, "rdp", history=[(fresh, 0.1, 50)])
    assert later > fresh


def test_prv_paces_a_budget_below_the_floor_of_rdp() -> None:
    """RDP's ε does not go below about 0.103 at δ = 1e-5 however large σ is; PRV does. Its
    search used to start from RDP's answer and so refused a budget of 0.1 that PRV meets."""
    with pytest.raises(BudgetExceeded):
        noise_for_budget(0.1, 1e-5, 0.1, 8, 1, "rdp")
    sigma = noise_for_budget(0.1, 1e-5, 0.1, 8, 1, "prv")
    assert 0.09 <= epsilon_of([(sigma, 0.1, 8)], delta=1e-5, accountant="prv") <= 0.1


@settings(max_examples=15, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0.7, 5.0), st.floats(0.01, 0.5), st.integers(1, 60)),
        min_size=1,
        max_size=4,
    ),
    st.tuples(st.floats(0.7, 5.0), st.floats(0.01, 0.5), st.integers(1, 60)),
)
def test_epsilon_never_decreases_with_more_steps(
    history: list[tuple[float, float, int]], extra: tuple[float, float, int]
) -> None:
    before = epsilon_of(history, delta=1e-5, accountant="rdp")
    assert epsilon_of([*history, extra], delta=1e-5, accountant="rdp") >= before


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_epsilon_matches_opacus_privacy_engine_on_the_same_data(tmp_path: Path) -> None:
    """Opacus' own end-to-end route (make_private + Poisson DataLoader) reports the same ε for the
    same data, batch size, epochs and noise: our sample rate and step count follow its rules."""
    import torch
    from opacus import PrivacyEngine
    from torch.utils.data import DataLoader, TensorDataset

    X, y = _data()
    ours = _train(_store(tmp_path), epochs=2)
    engine = PrivacyEngine(accountant="rdp")
    model = build_model(SPEC, seed=0)
    module, optimizer, loader = engine.make_private(
        module=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        data_loader=DataLoader(
            TensorDataset(torch.as_tensor(X), torch.as_tensor(y)), batch_size=20
        ),
        noise_multiplier=1.1,
        max_grad_norm=1.0,
        poisson_sampling=True,
    )
    for _ in range(2):
        for xb, yb in loader:
            optimizer.zero_grad()
            if len(xb):
                loss = torch.nn.functional.binary_cross_entropy_with_logits(module(xb), yb)
                loss.backward()
            optimizer.step()
    assert ours.epsilon_spent_total == pytest.approx(engine.get_epsilon(1e-5), rel=1e-9)


def test_open_reads_a_store_from_its_file(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _train(store)
    reader = AccountantStore.open(store.path)
    assert (reader.accountant, reader.delta, reader.epsilon_budget) == ("rdp", 1e-5, 50.0)
    assert reader.epsilon_spent() == pytest.approx(store.epsilon_spent())


@pytest.mark.parametrize("mechanism", [PRVAccountant, RDPAccountant])
def test_runs_of_one_mechanism_are_composed_as_their_total_steps(mechanism: type) -> None:
    runs = [(1.1, 0.28, 8), (1.1, 0.28, 8), (0.9, 0.5, 4), (1.1, 0.28, 8)]
    unmerged = mechanism()
    unmerged.history = list(runs)
    ours = epsilon_of(runs, delta=1e-5, accountant=unmerged.mechanism())
    assert ours == pytest.approx(unmerged.get_epsilon(delta=1e-5), rel=1e-6)
    # a different mechanism is not merged away: dropping it lowers ε
    same = [r for r in runs if r[0] == 1.1]
    assert epsilon_of(same, delta=1e-5, accountant=unmerged.mechanism()) < ours


def test_printed_epsilon_never_understates_a_spend_or_overstates_what_is_left() -> None:
    assert spent_text(2.9996) == "3.000" and spent_text(2.9991) == "3.000"  # rounded up
    assert spent_text(2.999) == "2.999"
    assert spent_text(2.98) == "2.980"  # exact decimals stay as they are
    assert spent_text(1.0001) == "1.001"
    assert left_text(0.0009) == "0.000" and left_text(0.4999) == "0.499"
    assert left_text(-0.2) == "0.000"


# Opacus warns when the best order is the first or last it tries (its bound is then loose, on the
# safe side); the drawn histories reach both ends, and what is compared here is the number.
@pytest.mark.filterwarnings("ignore:Optimal order is the")
@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([0.6, 0.9, 1.1, 2.5, 7.0]),
            st.sampled_from([0.01, 0.1, 0.28, 1.0]),
            st.integers(min_value=0, max_value=400),
        ),
        min_size=1,
        max_size=6,
    ),
    st.sampled_from([1e-5, 1e-6]),
)
def test_rdp_epsilon_is_opacus_number_exactly(
    runs: list[tuple[float, float, int]], delta: float
) -> None:
    merged: dict[tuple[float, float], int] = {}
    for s, q, n in runs:  # epsilon_of composes runs of one mechanism as their total (see above)
        if n > 0:
            merged[(s, q)] = merged.get((s, q), 0) + n
    theirs = RDPAccountant()
    theirs.history = [(s, q, n) for (s, q), n in merged.items()]
    expected = theirs.get_epsilon(delta=delta) if theirs.history else 0.0
    assert epsilon_of(runs, delta=delta, accountant="rdp") == expected


def test_rdp_of_a_mechanism_is_computed_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """A node asks for ε at every poll and a pacing search asks dozens of times: the RDP curve of
    one (σ, q) does not depend on the step count, so it is computed once and scaled."""
    from opacus.accountants.analysis import rdp as analysis

    calls: list[tuple[float, float]] = []
    real = analysis._compute_rdp

    def counting(q: float, sigma: float, alpha: float) -> float:
        calls.append((q, sigma))
        return real(q, sigma, alpha)

    monkeypatch.setattr(analysis, "_compute_rdp", counting)
    sigma = 1.2345678  # a σ no other test uses, so the cache is cold for it
    first = epsilon_of([(sigma, 0.05, 40)], delta=1e-5, accountant="rdp")
    cold = len(calls)
    assert cold > 0
    later = [epsilon_of([(sigma, 0.05, n)], delta=1e-5, accountant="rdp") for n in (40, 80, 120)]
    assert len(calls) == cold  # no new RDP evaluation for the same mechanism
    assert later[0] == first and later[0] < later[1] < later[2]
