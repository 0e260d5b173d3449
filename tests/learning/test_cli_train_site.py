"""`consortium train` under a hospital's site budget (node.toml ``site_epsilon_budget``): a local
run is checked against the cap before it trains, and a run without DP is refused unless the user
says it stays outside the cap, in which case the site's record shows it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from consortium.cli import app
from consortium.datasets.heart import heart_cohort_table
from consortium.federation.publish import TaskParams
from consortium.node.settings import NodeSettings, save_settings
from consortium.privacy.accountant import AccountantStore, spent_text
from consortium.privacy.site import SiteBudget

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

TASK_RUN = {"noise_multiplier": 2.0, "sample_rate": 0.1, "steps": 50}  # ε ≈ 1.663 at δ = 1e-5


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    """A consortium with hospital ``a``, its cohort where `consortium node run` reads it."""
    root = tmp_path / "c"
    init = CliRunner().invoke(app, ["init", str(root), "--member", "a", "--auditor", "aud"])
    assert init.exit_code == 0, init.output
    cohort = root / "members" / "a" / "cohort"
    cohort.mkdir()
    heart_cohort_table("cleveland").to_parquet(cohort / "cohort.parquet", index=False)
    return root


def _member(root: Path) -> Path:
    return root / "members" / "a"


def _cap(root: Path, epsilon: float, *, spent_in_a_task: bool = False) -> SiteBudget:
    """Set the site budget in a's node.toml (and spend ε ≈ 1.663 in a federated task)."""
    mdir = _member(root)
    save_settings(mdir, NodeSettings(site_epsilon_budget=epsilon))
    if spent_in_a_task:
        AccountantStore(mdir / "state", member_id="a", task_id="heart", accountant="prv",
                        epsilon_budget=3.0, delta=1e-5).reserve(**TASK_RUN)  # fmt: skip
    return SiteBudget(epsilon, 1e-5, (mdir / "state", mdir / "cohort"))


def _train(root: Path, out: Path, *extra: str, member: bool = True) -> object:
    args = ["train", "--cohort", str(_member(root) / "cohort"), "--out", str(out),
            "--epochs", "1", "--seed", "1"]  # fmt: skip
    if member:
        args += ["--member", "a", "--dir", str(root)]
    return CliRunner().invoke(app, [*args, *extra])


@pytest.fixture()
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run refused before training never reaches a DP step."""

    def trained(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a DP step ran")

    monkeypatch.setattr("consortium.learning.train.fast_dp_steps", trained)
    monkeypatch.setattr("consortium.learning.train.opacus_dp_steps", trained)


def test_a_run_within_the_site_budget_trains_and_is_counted(root: Path, tmp_path: Path) -> None:
    site = _cap(root, 3.0, spent_in_a_task=True)

    result = _train(root, tmp_path / "out", "--epsilon", "0.5")

    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    spent = site.spent()
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert spent["local/local"] == pytest.approx(float(report["epsilon_spent"]), abs=1e-3)
    composed = site.epsilon_spent()
    assert composed > spent["heart/a"] and composed <= 3.0
    assert f"site budget: ε {spent_text(composed)} of 3" in result.output  # type: ignore[attr-defined]


def test_a_run_past_the_site_budget_is_refused_before_training_and_spends_nothing(
    root: Path, tmp_path: Path, no_training: None
) -> None:
    site = _cap(root, 1.8, spent_in_a_task=True)

    # ε ≈ 1 alone, within its own --epsilon; composed with the task's 1.663 it passes 1.8
    result = _train(root, tmp_path / "out", "--epsilon", "1")

    assert result.exit_code == 2, result.output  # type: ignore[attr-defined]
    message = " ".join(result.output.split())  # type: ignore[attr-defined]
    assert "past the site's budget ε=1.8" in message and "heart/a 1.663" in message
    assert re.search(r"\(\d+ steps, ε 0\.99\d alone\)", message)  # what this run would spend
    assert "smaller --epsilon" in message and str(_member(root) / "node.toml") in message
    assert "nothing was spent" in message
    assert list(site.spent()) == ["heart/a"]  # no local accountant was written
    assert not (tmp_path / "out" / "model.safetensors").exists()


def test_the_node_toml_beside_the_cohort_folder_caps_a_run_without_member(
    root: Path, tmp_path: Path, no_training: None
) -> None:
    site = _cap(root, 1.8, spent_in_a_task=True)

    result = _train(root, tmp_path / "out", "--epsilon", "1", member=False)

    assert result.exit_code == 2, result.output  # type: ignore[attr-defined]
    assert "past the site's budget ε=1.8" in result.output  # type: ignore[attr-defined]
    assert list(site.spent()) == ["heart/a"]


def test_without_a_node_config_there_is_no_cap_and_the_output_says_so_once(
    tmp_path: Path,
) -> None:
    cohort = tmp_path / "cleveland"
    cohort.mkdir()
    heart_cohort_table("cleveland").to_parquet(cohort / "cohort.parquet", index=False)
    args = ["train", "--cohort", str(cohort), "--out", str(tmp_path / "out"), "--epochs", "1",
            "--seed", "1", "--epsilon", "1"]  # fmt: skip

    result = CliRunner().invoke(app, args)

    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert result.output.count("no site budget") == 1  # type: ignore[attr-defined]


def test_an_accountant_kept_where_the_site_budget_does_not_look_is_refused(
    root: Path, tmp_path: Path, no_training: None
) -> None:
    _cap(root, 3.0)
    elsewhere = tmp_path / "elsewhere"

    result = _train(root, tmp_path / "out", "--epsilon", "1", "--state-dir", str(elsewhere))

    assert result.exit_code == 2, result.output  # type: ignore[attr-defined]
    assert "--state-dir" in result.output and "would not count" in result.output  # type: ignore[attr-defined]
    assert not (elsewhere / "privacy").exists()


def test_a_run_without_dp_under_a_site_budget_needs_saying_so_and_is_recorded(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = _cap(root, 3.0)

    refused = _train(root, tmp_path / "plain", "--no-dp")

    assert refused.exit_code == 2, refused.output  # type: ignore[attr-defined]
    assert "--outside-site-budget" in refused.output  # type: ignore[attr-defined]
    assert not (tmp_path / "plain" / "model.safetensors").exists()

    accepted = _train(root, tmp_path / "plain", "--no-dp", "--outside-site-budget")

    assert accepted.exit_code == 0, accepted.output  # type: ignore[attr-defined]
    report = json.loads((tmp_path / "plain" / "report.json").read_text())
    runs = site.non_private_runs()
    assert [run.model_digest for run in runs] == [report["model_digest"]]
    assert site.spent() == {}  # no ε: a non-private run is recorded, not accounted

    from consortium.cli.node import _say_site_budget

    mdir = _member(root)
    _say_site_budget(SimpleNamespace(settings=NodeSettings(site_epsilon_budget=3.0),
                                     state=SimpleNamespace(root=mdir / "state"),
                                     cohort=SimpleNamespace(folder=mdir / "cohort")))  # fmt: skip
    assert "1 non-private local run (not bounded by ε)" in capsys.readouterr().out


def test_outside_site_budget_is_only_for_runs_without_dp(root: Path, tmp_path: Path) -> None:
    result = _train(root, tmp_path / "out", "--epsilon", "1", "--outside-site-budget")
    assert result.exit_code == 2, result.output  # type: ignore[attr-defined]
    assert "--no-dp" in result.output  # type: ignore[attr-defined]


def test_the_node_counts_local_training_without_a_cohort_file(root: Path) -> None:
    """A node whose cohort comes from ``site =`` (no file, as in the demo) still counts what
    `consortium train` spent in the node's default cohort folder, the folder train checks."""
    from consortium.federation.trainer import site_budget
    from consortium.node.open import open_session

    (_member(root) / "cohort" / "cohort.parquet").unlink()
    save_settings(_member(root), NodeSettings(site="cleveland", site_epsilon_budget=3.0))
    AccountantStore(_member(root) / "cohort", member_id="a", task_id="local", accountant="prv",
                    epsilon_budget=3.0, delta=1e-5).reserve(**TASK_RUN)  # fmt: skip
    params = root.parent / "task.json"
    params.write_text(
        json.dumps(TaskParams(task_id="t1", title="t", seed=7).model_dump(mode="json"))
    )
    assert (
        CliRunner().invoke(app, ["task", "publish", str(params), "--dir", str(root)]).exit_code == 0
    )

    session = open_session(root, "a")
    try:
        assert session.cohort is not None  # from site =, no file
        assert site_budget(session).epsilon_spent() == pytest.approx(1.663, abs=0.01)
    finally:
        session.ledger.close()


def test_a_node_without_its_cohort_table_is_said_before_its_site_budget(
    root: Path, tmp_path: Path
) -> None:
    _cap(root, 3.0)
    (_member(root) / "cohort" / "cohort.parquet").unlink()

    result = _train(root, tmp_path / "out", "--epsilon", "1")

    assert result.exit_code == 2, result.output  # type: ignore[attr-defined]
    assert result.output.startswith("error: no cohort table at")  # type: ignore[attr-defined]
    assert "site budget" not in result.output  # type: ignore[attr-defined]
