"""When the simulation's monitor calls a run done: every hospital has sent what it planned or can
send nothing more, by the trainer's own count (`trainer.budget_left`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from consortium.simulate.config import SimConfig
from consortium.simulate.runner import Monitor


class _Admin:
    """The admin's session as `Monitor.done` reads it: nothing pending or left to aggregate."""

    task_id = "heart"

    def q(self, fn: str, **args: Any) -> Any:
        assert fn == "ListUpdates"
        return []

    def task(self) -> dict[str, Any]:
        return {}

    def head(self) -> dict[str, Any]:
        return {"height": 3}


def _monitor(root: Path, records: dict[str, list[dict[str, Any]]]) -> Monitor:
    """A monitor of a run whose hospitals left these submission records, planning 3 each."""
    for site, recs in records.items():
        path = root / "members" / site / "state" / "tasks" / "heart" / "submissions.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({str(r["base"]): r for r in recs}))
    monitor = Monitor.__new__(Monitor)  # no ledger or cohorts: `done` reads neither
    monitor.cfg = SimConfig(sites=tuple(records), planned_updates=3)
    monitor.root, monitor.s = root, _Admin()  # type: ignore[assignment]
    return monitor


def _sent(base: int) -> dict[str, Any]:
    return {"base": base, "update_id": f"u{base}", "revealed": True}


@pytest.mark.parametrize(
    ("last", "done"),
    [
        ({"status": "refused", "reason": "past the site's budget"}, True),  # refused again later
        ({"status": "spent", "reason": "past the task's budget"}, True),
        ({"status": "abandoned", "code": "BUDGET_EXCEEDED"}, True),  # ε only grows: final
        ({"status": "abandoned", "code": "STALE_BASE"}, False),  # one sent; it trains again
        ({"model_digest": "d" * 64}, False),  # trained, not submitted yet
    ],
)
def test_a_hospital_short_of_its_plan_is_done_only_when_it_can_send_nothing_more(
    tmp_path: Path, last: dict[str, Any], done: bool
) -> None:
    # Arrange: one hospital sent all it planned; the other sent one, then this happened
    monitor = _monitor(tmp_path, {"cleveland": [_sent(0), _sent(1), _sent(2)],
                                  "hungary": [_sent(0), {"base": 1, **last}]})  # fmt: skip
    # Act / Assert: a site refused by its cap is refused at every later version (its histories
    # only grow) and the cap cannot change during the run: waiting for it would last until
    # max_seconds
    assert monitor.done() is done


def test_the_trainer_counts_the_same_way(tmp_path: Path) -> None:
    from consortium.federation.trainer import budget_left

    refused = {"0": _sent(0), "1": {"base": 1, "status": "refused"}}
    assert budget_left(refused, 3)  # the node tries again on the next version ...
    assert not budget_left(refused, 3, cap_fixed=True)  # ... in vain while its cap stays
    assert budget_left({"0": {"base": 0, "status": "refused"}}, 1)  # not an update sent
    # the contract refused the ε declared: a later update declares more, and is refused too
    over = {"0": _sent(0), "1": {"base": 1, "status": "abandoned", "code": "BUDGET_EXCEEDED"}}
    assert not budget_left(over, 3)


def test_an_accepted_update_grown_too_stale_does_not_keep_the_run_going(tmp_path: Path) -> None:
    # Arrange: every hospital sent all it planned; one accepted update is on version 1, two
    # versions behind the head with max_staleness 1: the contract lets no aggregate include it
    class _Stale(_Admin):
        def q(self, fn: str, **args: Any) -> Any:
            assert fn == "ListUpdates"
            update = {"update_id": "u1", "member_id": "cleveland", "base_version": 1}
            return [{"update": update, "status": "accepted", "endorsements": []}]

        def task(self) -> dict[str, Any]:
            return {"max_staleness": 1}

    monitor = _monitor(tmp_path, {"cleveland": [_sent(0), _sent(1), _sent(2)]})
    monitor.s = _Stale()  # type: ignore[assignment]
    # Act / Assert: nothing is left that could still enter a block
    assert monitor.done() is True
    monitor.s.task = lambda: {"max_staleness": 2}  # type: ignore[method-assign]
    assert monitor.done() is False  # 2 behind, max 2: it can still be aggregated


def test_a_site_that_only_verifies_does_not_keep_the_run_going(tmp_path: Path) -> None:
    # Arrange: Hungary sent all it planned; Cleveland is an evaluation lab (verifier only) and
    # has no submission records at all, as it never trains
    monitor = _monitor(tmp_path, {"hungary": [_sent(0), _sent(1), _sent(2)]})
    monitor.cfg = SimConfig(sites=("cleveland", "hungary"), planned_updates=3,
                            roles={"cleveland": ("verifier",)})  # fmt: skip
    # Act / Assert
    assert monitor.done() is True
    monitor.cfg = SimConfig(sites=("cleveland", "hungary"), planned_updates=3)
    assert monitor.done() is False  # a hospital that sent nothing yet: not done


def test_roles_name_sites_and_roles_of_the_simulation() -> None:
    from pydantic import ValidationError

    cfg = SimConfig(sites=("cleveland", "hungary", "va"),
                    roles={"cleveland": ("verifier",), "va": ("hospital",)})  # fmt: skip
    assert cfg.site_roles("cleveland") == ("verifier",)
    assert cfg.site_roles("hungary") == ("hospital", "verifier")  # unnamed: both, as before
    assert cfg.hospitals == ("hungary", "va")
    with pytest.raises(ValidationError, match=r"'bern'.*not among the sites"):
        SimConfig(sites=("cleveland", "hungary"), roles={"bern": ("verifier",)})
    with pytest.raises(ValidationError, match=r"'cleveland' has no role"):
        SimConfig(sites=("cleveland", "hungary"), roles={"cleveland": ()})
    with pytest.raises(ValidationError, match="hospital"):
        SimConfig(sites=("cleveland",), roles={"cleveland": ("aggregator",)})  # type: ignore[arg-type]


def test_roles_that_would_fail_the_consortium_later_are_refused_up_front() -> None:
    """A repeated role (the genesis refused it: "members.5: roles must not repeat", no site named)
    and a simulation in which no site trains (the task refused buffer_size 0 with --sync; without
    it the run stopped at once with no version) are refused by SimConfig, saying what to do."""
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=r"'va' repeats a role.*give each role once"):
        SimConfig(roles={"va": ("hospital", "hospital")})
    only_labs = {site: ("verifier",) for site in ("cleveland", "hungary")}
    with pytest.raises(ValidationError, match=r"no site has the role 'hospital'"):
        SimConfig(sites=("cleveland", "hungary"), roles=only_labs)  # type: ignore[arg-type]
    # one hospital is enough
    assert SimConfig(sites=("cleveland", "hungary"), roles={"cleveland": ("verifier",)}).hospitals


def test_an_attack_or_a_speed_for_a_site_that_does_not_train_is_refused() -> None:
    """A verifier-only site sends no update to attack with or to slow down: such an entry would
    be ignored while still taking the site's rows out of the honest AUROC, so it is refused."""
    from pydantic import ValidationError

    lab = {"cleveland": ("verifier",)}
    with pytest.raises(ValidationError, match=r"attacks.*'cleveland'.*does not train"):
        SimConfig(sites=("cleveland", "hungary"), roles=lab, attacks={"cleveland": "scale10"})  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"speeds.*'cleveland'.*does not train"):
        SimConfig(sites=("cleveland", "hungary"), roles=lab, speeds={"cleveland": 5.0})  # type: ignore[arg-type]
    ok = SimConfig(sites=("cleveland", "hungary"), roles=lab, attacks={"hungary": "scale10"})  # type: ignore[arg-type]
    assert ok.attacks == {"hungary": "scale10"}


def test_a_sync_round_deadline_must_be_a_positive_number_of_seconds() -> None:
    """Refused by SimConfig itself (the nodes' settings refused it only once a node read its
    node.toml, in its own process, after the consortium was created)."""
    from pydantic import ValidationError

    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValidationError, match="sync_round_seconds"):
            SimConfig(sync=True, sync_round_seconds=bad)
    assert SimConfig(sync=True, sync_round_seconds=7.5).sync_round_seconds == 7.5


class _Chain:
    """The admin's session as `Monitor.poll` reads it: a head, and each version's updates."""

    task_id = "heart"

    def __init__(self, height: int) -> None:
        self.height = height

    def head(self) -> dict[str, Any]:
        return {"height": self.height}

    def version(self, height: int) -> int:
        return height  # what `_aurocs` is handed; it is patched below

    def q(self, fn: str, **args: Any) -> Any:
        assert fn == "GetVersion"
        return {"updates": ["u"] * int(args["version"])}


def test_a_version_sealed_while_the_monitor_measured_another_is_still_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the head moved from 2 to 4 between two polls: version 3 was missing from the progress
    # lines, from report.json's versions and from auroc.png
    monitor = Monitor.__new__(Monitor)  # no ledger or cohorts: `poll` is given both below
    monitor.cfg, monitor.root = SimConfig(), tmp_path
    monitor.started, monitor.nodes_up, monitor.points = 0.0, 1.0, []
    chain = _Chain(2)
    monitor.s = chain  # type: ignore[assignment]
    monkeypatch.setattr(
        Monitor, "_aurocs", lambda self, arrays: (0.5 + arrays / 100, 0.5, {"va": 0.4})
    )
    assert [p.height for p in monitor.poll()] == [2]
    chain.height = 4
    seen = monitor.poll()
    assert [p.height for p in seen] == [3, 4]
    assert [p.auroc for p in seen] == [0.53, 0.54] and [p.n_updates for p in seen] == [3, 4]
    assert monitor.poll() == [] and [p.height for p in monitor.points] == [2, 3, 4]


def test_the_rows_and_positives_behind_the_pooled_aurocs() -> None:
    # the report gave AUROCs without the held-out rows they stand on
    import numpy as np

    from consortium.simulate.config import HeldOut

    monitor = Monitor.__new__(Monitor)  # no ledger: the held-out rows are given below
    monitor.cfg = SimConfig(sites=("cleveland", "hungary", "va"), attacks={"va": "sign_flip"})
    labels = {"cleveland": [1, 0, 1, 1], "hungary": [0, 1, 0], "va": [1, 1]}
    monitor.tests = {s: (np.zeros((len(y), 2)), np.array(y, dtype=float))
                     for s, y in labels.items()}  # fmt: skip
    everyone, honest, by_site = monitor.held_out()
    assert everyone == HeldOut(sites=("cleveland", "hungary", "va"), n=9, positives=6)
    assert honest == HeldOut(sites=("cleveland", "hungary"), n=7, positives=4)
    assert by_site == {"cleveland": HeldOut(sites=("cleveland",), n=4, positives=3),
                       "hungary": HeldOut(sites=("hungary",), n=3, positives=1),
                       "va": HeldOut(sites=("va",), n=2, positives=2)}  # fmt: skip


def test_each_version_is_measured_on_each_sites_own_rows_as_well_as_pooled() -> None:
    # the report gave each version's AUROC on pooled rows only: no metric over time per site
    import numpy as np

    from consortium.learning.evaluate import evaluate
    from consortium.learning.models import ModelSpec, build_model, load_arrays

    spec = ModelSpec(in_features=3, hidden=(4,))

    class _Spec:
        def spec(self) -> ModelSpec:
            return spec

    monitor = Monitor.__new__(Monitor)
    monitor.cfg = SimConfig(sites=("cleveland", "hungary", "va"), attacks={"va": "sign_flip"})
    monitor.s = _Spec()  # type: ignore[assignment]
    rng = np.random.default_rng(3)
    labels = {"cleveland": [1, 0, 1, 1, 0, 0], "hungary": [0, 1, 0, 1, 1], "va": [1, 1, 1]}
    monitor.tests = {s: (rng.normal(size=(len(y), 3)).astype(np.float32),
                         np.array(y, dtype=float)) for s, y in labels.items()}  # fmt: skip
    arrays = {k: v.detach().numpy() for k, v in build_model(spec, seed=5).state_dict().items()}
    pooled, honest, by_site = monitor._aurocs(arrays)

    model = build_model(spec, seed=0)
    load_arrays(model, arrays)
    for site in ("cleveland", "hungary"):
        assert by_site[site] == evaluate(model, *monitor.tests[site]).auroc
    assert by_site["va"] is None  # its rows hold one class: no AUROC, not a number made up
    X = np.concatenate([monitor.tests[s][0] for s in labels])
    y = np.concatenate([monitor.tests[s][1] for s in labels])
    assert pooled == evaluate(model, X, y).auroc
    assert honest == evaluate(model, X[:11], y[:11]).auroc
    assert len({pooled, honest, by_site["cleveland"], by_site["hungary"]}) > 1
