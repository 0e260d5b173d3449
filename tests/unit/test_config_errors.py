"""Every command that reads a consortium directory says which folder it looked in and how to name
another, when that folder holds no consortium.toml."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from consortium.cli import app


def _error(args: list[str]) -> str:
    result = CliRunner().invoke(app, args, terminal_width=400)
    assert result.exit_code == 2, result.output
    return " ".join(result.output.split())


def test_no_directory_given_names_the_current_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CONSORTIUM_DIR", raising=False)
    error = _error(["rewards"])
    assert f"the current directory {tmp_path} holds no consortium.toml" in error
    assert "--dir" in error and "CONSORTIUM_DIR" in error


def test_a_directory_that_does_not_exist_is_named(tmp_path: Path) -> None:
    error = _error(["rewards", "--dir", str(tmp_path / "nosuch")])
    assert f"{tmp_path / 'nosuch'} does not exist" in error


def test_a_folder_without_consortium_toml_is_named(tmp_path: Path) -> None:
    (tmp_path / "site-data").mkdir()
    error = _error(["ledger", "verify", "-C", str(tmp_path / "site-data")])
    assert f"{tmp_path / 'site-data'} holds no consortium.toml" in error
    assert "consortium init" in error


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("fle://blobs", "unknown scheme 'fle'"),
        ("s3://", "names no bucket"),
        ("file://", "names no directory"),
    ],
)
def test_a_blob_store_url_that_names_no_store_is_refused_when_the_file_is_read(
    tmp_path: Path, url: str, says: str
) -> None:
    """A mistyped [blobs] url made `model pull` and `task publish` end in a traceback; it is
    refused with every other mistake in consortium.toml, naming the file."""
    (tmp_path / "consortium.toml").write_text(f'name = "c"\n[blobs]\nurl = "{url}"\n')

    error = _error(["model", "pull", "-C", str(tmp_path), "--member", "a", "--out", "m"])

    assert error.startswith(f"error: {tmp_path / 'consortium.toml'} is not a valid")
    assert says in error and "Traceback" not in error


def test_a_consortium_toml_mistake_is_named_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "consortium.toml").write_text('name = "c"\n[ledger]\nbackend = "fabirc"\n')

    result = CliRunner().invoke(app, ["ledger", "verify", "-C", str(tmp_path)], terminal_width=400)

    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "errors.pydantic.dev" not in result.output
    assert "ledger.backend: Input should be 'embedded' or 'fabric'" in result.output
