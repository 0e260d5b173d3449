"""`consortium ledger verify|show|export` on a damaged ledger file: one `error:` line and exit 1,
never a traceback, and no partial export left behind."""

import shutil
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from consortium.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("c") / "c"
    assert runner.invoke(app, ["init", str(root), "--member", "a"]).exit_code == 0
    return root


@pytest.fixture()
def garbage(pristine: Path, tmp_path: Path) -> Path:
    root = tmp_path / "c"
    shutil.copytree(pristine, root)
    (root / "ledger" / "ledger.sqlite").write_bytes(b"\x00not a database" * 4096)
    return root


def _clean_failure(args: list[str], code: int = 1) -> str:
    result = runner.invoke(app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code == code, result.output
    assert "error:" in result.output
    return result.output


def test_verify_of_a_file_that_is_not_a_ledger_fails_with_one_line(garbage: Path) -> None:
    output = _clean_failure(["ledger", "verify", "-C", str(garbage)])
    assert "FAILED" in output


def test_export_of_a_damaged_ledger_leaves_no_partial_file(garbage: Path, tmp_path: Path) -> None:
    out = tmp_path / "audit.jsonl"
    _clean_failure(["ledger", "export", "-C", str(garbage), "-o", str(out)])
    assert not out.exists()


def test_show_with_a_tampered_block_header(pristine: Path, tmp_path: Path) -> None:
    root = tmp_path / "c"
    shutil.copytree(pristine, root)
    with sqlite3.connect(root / "ledger" / "ledger.sqlite") as conn:
        conn.execute("UPDATE blocks SET header = x'00ff' WHERE number = 0")
    _clean_failure(["ledger", "show", "-C", str(root)])


def test_export_into_a_missing_folder(pristine: Path, tmp_path: Path) -> None:
    out = tmp_path / "no" / "audit.jsonl"
    output = _clean_failure(["ledger", "export", "-C", str(pristine), "-o", str(out)], code=2)
    assert "does not exist" in output
