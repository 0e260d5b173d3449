"""`consortium portal` and `consortium portal set-password`: errors a user can fix, the password
read from stdin (never argv), and the server command line (127.0.0.1 by default)."""

from __future__ import annotations

from pathlib import Path

import pytest
from portal_auth import PasswordRecord, check_password, password_path
from typer.testing import CliRunner

from consortium.cli import app
from consortium.cli.portal import find_app, streamlit_command

runner = CliRunner()


@pytest.fixture
def fresh(tmp_path: Path) -> Path:
    """A consortium of its own (these tests change passwords)."""
    from portal_fixture import make_consortium

    root = tmp_path / "consortium"
    make_consortium(root, "empty")
    return root


def test_set_password_reads_stdin_and_stores_only_a_hash(fresh: Path) -> None:
    result = runner.invoke(
        app, ["portal", "set-password", "--dir", str(fresh), "--member", "lab"],
        input="a brand new password\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    stored = password_path(fresh / "members" / "lab").read_text()
    assert "a brand new password" not in stored
    assert check_password(PasswordRecord.model_validate_json(stored), "a brand new password")


def test_a_short_password_is_refused_and_the_old_one_kept(fresh: Path) -> None:
    before = password_path(fresh / "members" / "admin").read_bytes()
    result = runner.invoke(
        app, ["portal", "set-password", "--dir", str(fresh), "--member", "admin"], input="short\n"
    )
    assert result.exit_code == 2 and "at least 10 characters" in result.output
    assert password_path(fresh / "members" / "admin").read_bytes() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--member", "nobody"], "no identity named 'nobody'"),
        ([], "say which member this node serves"),
        (["--member", "admin", "--port", "99999"], "less than or equal to 65535"),
    ],
)
def test_serving_needs_a_known_member(empty: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["portal", "--dir", str(empty), *args])
    assert result.exit_code == 2 and message in " ".join(result.output.split())


def test_serving_a_directory_without_consortium_says_to_init(tmp_path: Path) -> None:
    result = runner.invoke(app, ["portal", "--dir", str(tmp_path), "--member", "x"])
    assert result.exit_code == 2 and "consortium init" in " ".join(result.output.split())


def test_serving_without_a_password_says_how_to_set_one(fresh: Path) -> None:
    password_path(fresh / "members" / "lab").unlink()
    result = runner.invoke(app, ["portal", "--dir", str(fresh), "--member", "lab"])
    # the command it suggests names the directory, so that it works from where the user is
    assert result.exit_code == 2
    assert f"portal set-password --dir {fresh} --member lab" in result.output


def test_the_app_is_found_and_served_on_localhost_only() -> None:
    script = find_app()
    assert script == Path(__file__).resolve().parents[2] / "apps" / "portal" / "portal.py"
    cmd = streamlit_command(script, Path("/d"), "lab", 8600, "127.0.0.1")
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
    assert cmd[-4:] == ["--dir", "/d", "--member", "lab"]


def test_a_missing_ingest_folder_is_named(fresh: Path, tmp_path: Path) -> None:
    args = ["portal", "--dir", str(fresh), "--member", "lab", "--ingest", str(tmp_path / "nope")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "--ingest folder not found" in result.output
