"""A site's cap on all its DP training: runs that fit their own task's budget are refused when,
composed with everything else spent on the same patients, they would pass the site's."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from consortium.privacy.accountant import AccountantStore, BudgetExceeded, epsilon_of, spent_text
from consortium.privacy.site import SiteBudget

RUN = {"noise_multiplier": 2.0, "sample_rate": 0.1, "steps": 50}  # ε ≈ 1.66 alone at δ = 1e-5
TWO_RUNS = epsilon_of([(2.0, 0.1, 100)], delta=1e-5, accountant="prv")  # ≈ 2.35


def _store(root: Path, task: str, site: SiteBudget | None, member: str = "h1") -> AccountantStore:
    return AccountantStore(root, member_id=member, task_id=task, accountant="prv",
                           epsilon_budget=3.0, delta=1e-5, site=site)  # fmt: skip


def test_each_task_alone_lets_the_patients_spend_past_any_one_budget(tmp_path: Path) -> None:
    _store(tmp_path, "task-a", None).reserve(**RUN)
    _store(tmp_path, "task-b", None).reserve(**RUN)  # fits task-b's budget of 3
    total = SiteBudget(2.0, 1e-5, (tmp_path,)).epsilon_spent()
    assert total == pytest.approx(TWO_RUNS) and total > 2.0  # what the site cap is for


def test_a_run_that_fits_its_task_but_not_the_site_is_refused_and_spends_nothing(
    tmp_path: Path,
) -> None:
    site = SiteBudget(2.0, 1e-5, (tmp_path,))
    _store(tmp_path, "task-a", site).reserve(**RUN)
    b = _store(tmp_path, "task-b", site)

    with pytest.raises(BudgetExceeded) as refused:
        b.reserve(**RUN)

    message = str(refused.value)
    assert "site's budget ε=2" in message and "task-a/h1 1.663" in message
    assert f"to {spent_text(TWO_RUNS)}" in message and "nothing was spent" in message
    assert b.history() == []  # task-b's accountant is untouched
    assert [label for label in site.spent()] == ["task-a/h1"]


def test_a_run_within_the_site_budget_is_reserved_in_its_task(tmp_path: Path) -> None:
    site = SiteBudget(2.5, 1e-5, (tmp_path,))
    _store(tmp_path, "task-a", site).reserve(**RUN)
    plan = _store(tmp_path, "task-b", site).reserve(**RUN)
    assert plan.epsilon_after == pytest.approx(1.663, abs=1e-3)  # the task's own ε
    assert sorted(site.spent()) == ["task-a/h1", "task-b/h1"]


def test_local_training_beside_the_cohort_counts_against_the_site(tmp_path: Path) -> None:
    state, cohort = tmp_path / "state", tmp_path / "cohort"
    # what `consortium train --cohort COHORT` keeps: COHORT/privacy/local/local.json
    _store(cohort, "local", None, member="local").reserve(**RUN)
    site = SiteBudget(2.0, 1e-5, (state, cohort))
    with pytest.raises(BudgetExceeded, match=r"local/local 1\.663"):
        _store(state, "task-a", site).reserve(**RUN)
    assert SiteBudget(2.0, 1e-5, (state,)).spent() == {}  # the cohort folder is what counted it


def test_two_tasks_reserving_at_once_cannot_both_pass_the_cap(tmp_path: Path) -> None:
    site = SiteBudget(2.0, 1e-5, (tmp_path,))
    stores = [_store(tmp_path, f"task-{k}", site) for k in range(2)]
    start, outcomes = threading.Barrier(2), []

    def reserve(store: AccountantStore) -> None:
        start.wait()
        try:
            store.reserve(**RUN)
            outcomes.append("reserved")
        except BudgetExceeded:
            outcomes.append("refused")

    threads = [threading.Thread(target=reserve, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["refused", "reserved"]


@pytest.mark.parametrize(("epsilon", "delta"), [(0.0, 1e-5), (-1.0, 1e-5), (2.0, 0.0), (2.0, 1.0)])
def test_a_site_budget_must_be_a_budget(epsilon: float, delta: float, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="site_"):
        SiteBudget(epsilon, delta, (tmp_path,))


def test_the_node_caps_every_task_and_the_cohorts_local_training(tmp_path: Path) -> None:
    from consortium.federation.trainer import site_budget
    from consortium.node.settings import NodeSettings

    state = SimpleNamespace(root=tmp_path / "state")
    cohort = SimpleNamespace(folder=tmp_path / "cohort")
    unset = SimpleNamespace(settings=NodeSettings(), state=state, cohort=cohort)
    assert site_budget(unset) is None  # type: ignore[arg-type]

    settings = NodeSettings(site_epsilon_budget=4.0, site_delta=1e-6)
    site = site_budget(SimpleNamespace(settings=settings, state=state, cohort=cohort))  # type: ignore[arg-type]
    assert site == SiteBudget(4.0, 1e-6, (tmp_path / "state", tmp_path / "cohort"))
    with pytest.raises(ValueError):
        NodeSettings(site_epsilon_budget=0)


def test_the_node_says_how_much_of_the_site_budget_is_spent_when_it_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from consortium.cli.node import _say_site_budget
    from consortium.node.settings import NodeSettings

    _store(tmp_path / "state", "task-a", None).reserve(**RUN)
    session = SimpleNamespace(settings=NodeSettings(site_epsilon_budget=4.0),
                              state=SimpleNamespace(root=tmp_path / "state"),
                              cohort=SimpleNamespace(folder=tmp_path / "cohort"))  # fmt: skip
    _say_site_budget(session)
    out = capsys.readouterr().out
    assert "site budget: ε 1.663 of 4 (δ=1e-05)" in out and "task-a/h1 1.663" in out

    _say_site_budget(SimpleNamespace(settings=NodeSettings(), state=session.state, cohort=None))
    assert capsys.readouterr().out == ""  # no cap set: nothing to say


def test_the_same_task_and_member_under_both_folders_count_twice(tmp_path: Path) -> None:
    state, cohort = tmp_path / "state", tmp_path / "cohort"
    _store(state, "heart", None).reserve(**RUN)
    _store(cohort, "heart", None).reserve(**RUN)  # `consortium train --task-id heart`, say
    site = SiteBudget(4.0, 1e-5, (state, cohort))
    assert len(site.spent()) == 2
    assert site.epsilon_spent() == pytest.approx(TWO_RUNS)
