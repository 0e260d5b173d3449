"""A refused `consortium train` leaves no empty ``--out`` (or ``--state-dir``) folder behind that
the run made, and never removes a folder the user had."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from consortium.cli import app

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

DP = ("--epsilon", "1", "--accountant", "rdp")


def _train(cohort: Path, out: Path, *extra: str) -> object:
    args = ["train", "--cohort", str(cohort), "--out", str(out), "--epochs", "1", "--seed", "1"]
    return CliRunner().invoke(app, [*args, *extra])


def test_a_run_refused_for_a_spent_budget_leaves_no_out_folder(
    cohort: Path, tmp_path: Path
) -> None:
    assert _train(cohort, tmp_path / "first", *DP).exit_code == 0  # type: ignore[attr-defined]

    again = _train(cohort, tmp_path / "runs" / "second", *DP)

    assert again.exit_code == 2 and "refused" in again.output  # type: ignore[attr-defined]
    assert not (tmp_path / "runs").exists()  # nor the parent it made on the way


def test_a_run_refused_for_another_epsilon_leaves_no_out_folder(
    cohort: Path, tmp_path: Path
) -> None:
    assert _train(cohort, tmp_path / "first", *DP).exit_code == 0  # type: ignore[attr-defined]

    again = _train(cohort, tmp_path / "second", "--epsilon", "3", "--accountant", "rdp")

    assert again.exit_code == 2 and "--task-id" in again.output  # type: ignore[attr-defined]
    assert not (tmp_path / "second").exists()


def test_a_refused_run_keeps_an_empty_out_folder_the_user_made(
    cohort: Path, tmp_path: Path
) -> None:
    assert _train(cohort, tmp_path / "first", *DP).exit_code == 0  # type: ignore[attr-defined]
    mine = tmp_path / "mine"
    mine.mkdir()

    again = _train(cohort, mine, *DP)

    assert again.exit_code == 2, again.output  # type: ignore[attr-defined]
    assert mine.is_dir()


def test_a_refused_run_leaves_no_new_state_dir(cohort: Path, tmp_path: Path) -> None:
    assert _train(cohort, tmp_path / "out", "--no-dp").exit_code == 0  # type: ignore[attr-defined]
    state = tmp_path / "state"

    # a model is already in --out: refused once both folders were checked
    again = _train(cohort, tmp_path / "out", *DP, "--state-dir", str(state))

    assert again.exit_code == 2 and "--force" in again.output  # type: ignore[attr-defined]
    assert not state.exists()
    assert (tmp_path / "out" / "model.safetensors").is_file()
