"""`consortium train` with a wrong --out or a damaged cohort folder: one `error:` line, and no ε
spent on a model that cannot be written."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from consortium.cli import app
from consortium.datasets.heart import heart_cohort_table

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture()
def cohort(tmp_path: Path) -> Path:
    folder = tmp_path / "cleveland"
    folder.mkdir()
    heart_cohort_table("cleveland").to_parquet(folder / "cohort.parquet", index=False)
    return folder


def _train(cohort: Path, out: Path, *extra: str) -> object:
    args = ["train", "--cohort", str(cohort), "--out", str(out), "--epochs", "2", "--seed", "1"]
    return CliRunner().invoke(app, [*args, *extra])


def test_an_out_that_is_a_file_is_refused_before_any_epsilon_is_spent(
    cohort: Path, tmp_path: Path
) -> None:
    out = tmp_path / "model-file"
    out.write_text("keep me")
    state = tmp_path / "state"
    result = _train(cohort, out, "--epsilon", "3", "--state-dir", str(state))
    assert result.exit_code == 2, result.output  # type: ignore[attr-defined]
    assert "error:" in result.output  # type: ignore[attr-defined]
    assert not (state / "privacy").exists()  # no ε spent
    assert out.read_text() == "keep me"
    ok = _train(cohort, tmp_path / "models", "--epsilon", "3", "--state-dir", str(state))
    assert ok.exit_code == 0, ok.output  # type: ignore[attr-defined]


def test_an_out_that_is_a_file_with_the_default_state_dir(cohort: Path, tmp_path: Path) -> None:
    out = tmp_path / "model-file"
    out.write_text("keep me")
    result = _train(cohort, out, "--epsilon", "3")
    assert result.exit_code == 2, result.output  # type: ignore[attr-defined]
    assert "is a file" in result.output  # type: ignore[attr-defined]


@pytest.mark.parametrize("damaged", ["cohort.parquet", "report.json"])
def test_a_damaged_cohort_folder_is_one_error_line(
    cohort: Path, tmp_path: Path, damaged: str
) -> None:
    (cohort / damaged).write_text("pid,site\n{oops")
    result = _train(cohort, tmp_path / "out", "--no-dp")
    assert result.exit_code == 2, result.output  # type: ignore[attr-defined]
    assert "cannot read the cohort" in result.output  # type: ignore[attr-defined]
