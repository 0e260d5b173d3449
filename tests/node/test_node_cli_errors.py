"""`consortium node run` for a member that cannot do any work refuses to start with a line saying
what to do, instead of running silently forever."""

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from consortium.cli import app
from consortium.federation.publish import TaskParams
from consortium.node.runner import MemberRevoked, Node

runner = CliRunner()


@pytest.fixture(scope="module")
def consortium_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("c") / "c"
    init = runner.invoke(app, ["init", str(root), "--member", "a", "--auditor", "aud"])
    assert init.exit_code == 0, init.output
    params = root.parent / "task.json"
    params.write_text(
        json.dumps(TaskParams(task_id="t1", title="t", seed=7).model_dump(mode="json"))
    )
    assert runner.invoke(app, ["task", "publish", str(params), "--dir", str(root)]).exit_code == 0
    return root


@pytest.fixture(autouse=True)
def no_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the fix the node would run forever: stop it at once instead."""
    monkeypatch.setattr(Node, "run", lambda self, until: None)


def _run(root: Path, member: str) -> tuple[int, str]:
    result = runner.invoke(app, ["node", "run", "--member", member, "-C", str(root), "--wait", "1"])
    return result.exit_code, result.output


def test_a_hospital_without_cohort_data_is_told_where_to_put_it(consortium_dir: Path) -> None:
    code, output = _run(consortium_dir, "a")
    assert code == 2, output
    assert "no cohort data" in output and "cohort" in output


def test_a_node_toml_naming_a_missing_cohort_file(consortium_dir: Path, tmp_path: Path) -> None:
    toml = consortium_dir / "members" / "a" / "node.toml"
    toml.write_text(f'cohort = "{tmp_path / "typo" / "cohort.parquet"}"\n')
    try:
        code, output = _run(consortium_dir, "a")
    finally:
        toml.unlink()
    assert code == 2, output
    assert "typo" in output


def test_a_node_toml_naming_a_task_that_does_not_exist(consortium_dir: Path) -> None:
    toml = consortium_dir / "members" / "a" / "node.toml"
    toml.write_text('task_id = "nosuch"\n')
    try:
        code, output = _run(consortium_dir, "a")
    finally:
        toml.unlink()
    assert code == 2, output
    assert "'nosuch'" in output and "t1" in output


@pytest.mark.parametrize("member", ["admin", "aud"])
def test_a_member_without_node_work_is_refused(consortium_dir: Path, member: str) -> None:
    code, output = _run(consortium_dir, member)
    assert code == 2, output
    assert "no work for a node" in output


def _with_toml(root: Path, text: str, *extra: str) -> tuple[int, str]:
    toml = root / "members" / "a" / "node.toml"
    toml.write_text(text)
    try:
        result = runner.invoke(
            app, ["node", "run", "--member", "a", "-C", str(root), "--wait", "1", *extra]
        )
    finally:
        toml.unlink()
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("line", "named"),
    [
        ("dp = false", "without differential privacy"),
        ("plaintext = true", "unencrypted"),
        ('attack = "sign_flip"', "poisoned"),
    ],
)
def test_test_bed_settings_are_refused(consortium_dir: Path, line: str, named: str) -> None:
    """A hospital's node never sends non-private, unencrypted or poisoned updates by a line left in
    its node.toml: the simulator's settings need ``--test-bed``, and then the node says so."""
    code, output = _with_toml(consortium_dir, f'site = "cleveland"\n{line}\n')
    assert code == 2, output
    assert line.split()[0] in output and named in output and "--test-bed" in output
    code, output = _with_toml(consortium_dir, f'site = "cleveland"\n{line}\n', "--test-bed")
    assert code == 0, output
    assert f"warning: test bed: {line.split()[0]}" in output


def test_a_verifier_threshold_that_is_not_a_number_is_refused_naming_the_file(
    consortium_dir: Path,
) -> None:
    """A nan line in node.toml's [verifier] table would make its check pass every update."""
    code, output = _with_toml(consortium_dir, 'site = "cleveland"\n[verifier]\nnorm_z_max = nan\n')
    assert code == 2, output
    assert str(consortium_dir / "members" / "a" / "node.toml") in output
    assert "norm_z_max must be a finite number greater than 0 (got nan)" in output
    assert "e.g. norm_z_max=8.0" in output and "Traceback" not in output


def test_no_dp_under_a_site_budget_is_refused(consortium_dir: Path) -> None:
    text = 'site = "cleveland"\ndp = false\nsite_epsilon_budget = 3.0\n'
    code, output = _with_toml(consortium_dir, text, "--test-bed")
    assert code == 2, output
    assert "site_epsilon_budget" in output and "no site budget can hold it" in output


def test_a_second_node_of_the_same_member_is_refused(
    consortium_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two nodes of one member would both train on its patients (each run spends ε, the second
    one's update is then refused as a duplicate) and race on its state: while one node of the
    member runs, a second one stops before doing anything and says which process holds it."""
    second: dict[str, tuple[int, str]] = {}

    def run_a_second_node(self: Node, until: object) -> None:
        second["result"] = _run(consortium_dir, "a")

    monkeypatch.setattr(Node, "run", run_a_second_node)
    code, output = _with_toml(consortium_dir, 'site = "cleveland"\n')
    assert code == 0, output
    code, output = second["result"]
    assert code == 2, output
    assert "another node of 'a' is running" in output and f"pid {os.getpid()}" in output


def test_a_node_starts_again_once_the_first_has_stopped(consortium_dir: Path) -> None:
    for _ in range(2):
        code, output = _with_toml(consortium_dir, 'site = "cleveland"\n')
        assert code == 0, output


def _stops_with(root: Path, monkeypatch: pytest.MonkeyPatch, run: object) -> tuple[int, str]:
    monkeypatch.setattr(Node, "run", run)
    return _with_toml(root, 'site = "cleveland"\n')


def _until_done(self: Node, until: Callable[[], bool]) -> None:
    """The real loop's exit: step until ``until()`` is true (here without stepping)."""
    for _ in range(1000):
        if until():
            return
        time.sleep(0.01)
    raise AssertionError("the node was never told to stop")


def test_a_node_stopped_by_sigterm_says_so(
    consortium_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def terminated(self: Node, until: Callable[[], bool]) -> None:
        os.kill(os.getpid(), signal.SIGTERM)  # the node's handler, installed before the loop
        _until_done(self, until)

    code, output = _stops_with(consortium_dir, monkeypatch, terminated)
    assert code == 0, output
    assert "node a (" in output  # the start line, as before
    assert output.splitlines()[-1] == "node a stopped: SIGTERM"


def test_a_node_stopped_by_ctrl_c_says_so(
    consortium_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(self: Node, until: Callable[[], bool]) -> None:
        raise KeyboardInterrupt

    code, output = _stops_with(consortium_dir, monkeypatch, interrupted)
    assert code == 0, output
    assert output.splitlines()[-1] == "node a stopped: interrupted (Ctrl-C)"


def test_a_node_whose_parent_is_gone_says_so(
    consortium_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = os.getppid() + 1_000_000  # not this process's parent: as if the simulator had died
    monkeypatch.setenv("CONSORTIUM_PARENT_PID", str(gone))
    code, output = _stops_with(consortium_dir, monkeypatch, _until_done)
    assert code == 0, output
    assert output.splitlines()[-1] == f"node a stopped: its parent process {gone} is gone"


def test_a_revoked_node_says_it_stopped_and_why(
    consortium_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def revoked(self: Node, until: Callable[[], bool]) -> None:
        raise MemberRevoked("member 'a' was revoked by 'admin' (block 9)")

    code, output = _stops_with(consortium_dir, monkeypatch, revoked)
    assert code == 1, output
    last = output.splitlines()[-1]
    assert last == "error: node a stopped: member 'a' was revoked by 'admin' (block 9)"
