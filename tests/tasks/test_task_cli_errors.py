"""`consortium task publish|list`: a user's mistakes end in one `error:` line (exit 2), never a
traceback."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from consortium.cli import app
from consortium.federation.publish import TaskParams

runner = CliRunner()


@pytest.fixture(scope="module")
def consortium_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("c") / "c"
    result = runner.invoke(app, ["init", str(root), "--member", "a", "--member", "b"])
    assert result.exit_code == 0, result.output
    return root


def _params(tmp_path: Path, **overrides: object) -> Path:
    params = TaskParams(task_id="t1", title="heart", seed=7).model_dump(mode="json") | overrides
    path = tmp_path / "task.json"
    path.write_text(json.dumps(params))
    return path


def _fails_cleanly(args: list[str], expected: str) -> None:
    result = runner.invoke(app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and expected in result.output


def test_task_list_outside_a_consortium_directory(tmp_path: Path) -> None:
    _fails_cleanly(["task", "list", "--dir", str(tmp_path / "nope")], "consortium init")


def test_task_publish_outside_a_consortium_directory(tmp_path: Path) -> None:
    path = _params(tmp_path)
    _fails_cleanly(["task", "publish", str(path), "--dir", str(tmp_path / "nope")], "init")


def test_task_publish_as_an_unknown_identity(consortium_dir: Path, tmp_path: Path) -> None:
    path = _params(tmp_path, task_id="t-as")
    args = ["task", "publish", str(path), "--dir", str(consortium_dir), "--as", "nobody"]
    _fails_cleanly(args, "no identity named 'nobody'")


def test_task_publish_given_a_folder(consortium_dir: Path, tmp_path: Path) -> None:
    _fails_cleanly(["task", "publish", str(tmp_path), "--dir", str(consortium_dir)], "folder")


def test_task_publish_with_an_unknown_cohort(consortium_dir: Path, tmp_path: Path) -> None:
    path = _params(tmp_path, task_id="t-cohort", cohort="nosuch")
    _fails_cleanly(["task", "publish", str(path), "--dir", str(consortium_dir)], "nosuch")


def test_task_publish_with_a_zero_width_layer(consortium_dir: Path, tmp_path: Path) -> None:
    path = _params(tmp_path, task_id="t-hidden", hidden=[0])
    _fails_cleanly(["task", "publish", str(path), "--dir", str(consortium_dir)], "hidden")
