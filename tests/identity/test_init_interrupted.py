"""`consortium init` interrupted (Ctrl-C) or failing after it started writing: nothing half-made is
left behind, so the same command can simply be run again."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

import consortium.cli.init as init_cli
from consortium.cli import app

runner = CliRunner()


def _init(root: Path) -> tuple[int, str]:
    result = runner.invoke(app, ["init", str(root), "--member", "a", "--member", "b"])
    return result.exit_code, result.output


@pytest.mark.parametrize("error", [KeyboardInterrupt, OSError], ids=["ctrl-c", "disk"])
def test_an_init_stopped_while_sharing_keys_leaves_nothing_and_can_be_rerun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: type[BaseException]
) -> None:
    root = tmp_path / "c"

    def stopped(*_args: object) -> None:
        raise error()

    with monkeypatch.context() as patch:
        patch.setattr(init_cli, "_share_keys", stopped)
        code, output = _init(root)
    assert code != 0
    assert "error:" in output
    assert not root.exists(), sorted(p.name for p in root.rglob("*"))

    code, output = _init(root)
    assert code == 0, output


def test_an_existing_folder_keeps_only_what_it_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "c"
    root.mkdir()
    (root / "notes.txt").write_text("mine")

    def stopped(*_args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(init_cli, "_share_keys", stopped)
    code, _ = _init(root)
    assert code != 0
    assert sorted(p.name for p in root.iterdir()) == ["notes.txt"]
    assert (root / "notes.txt").read_text() == "mine"


def test_init_onto_a_file_says_so(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("x")
    code, output = _init(path)
    assert code == 2
    assert "is a file" in output
    assert path.read_text() == "x"


def test_init_refuses_an_aggregator_that_is_also_a_hospital_and_keeps_nothing(
    tmp_path: Path,
) -> None:
    # --member gives hospital and verifier; the ledger refuses either with aggregator (an
    # aggregator never receives the secret key they need): a static rule, refused up front.
    root = tmp_path / "c"

    result = runner.invoke(
        app, ["init", str(root), "--member", "a", "--member", "b", "--aggregator", "a"]
    )

    assert result.exit_code != 0
    output = " ".join(result.output.split())
    assert "member 'a' cannot be aggregator and hospital" in output
    assert "give aggregator to another member" in output
    assert "--member makes a hospital that verifies" in output
    assert "nothing was created" in output
    assert not root.exists()
