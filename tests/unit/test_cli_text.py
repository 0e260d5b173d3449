"""Square brackets in help texts and error lines reach the user: paths, defaults and TOML tables
(``[ledger.fabric]``) are quoted in them, and Rich markup used to swallow them."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from consortium.cli import app


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (["init", "--help"], "[default: one named 'admin']"),
        (["ingest", "--help"], "[default: OUT/secrets/pseudonym.key]"),
        (["fabric", "fake-peer", "--help"], "[ledger.fabric]"),
    ],
)
def test_help_shows_text_in_square_brackets(args: list[str], shown: str) -> None:
    result = CliRunner().invoke(app, args, terminal_width=200)
    assert result.exit_code == 0
    assert shown in " ".join(result.output.split())


def test_an_error_line_keeps_its_square_brackets(capsys: pytest.CaptureFixture[str]) -> None:
    import typer

    from consortium.cli._errors import fail

    with pytest.raises(typer.Exit):
        fail("check [ledger.fabric] peer_endpoint in consortium.toml")
    assert "[ledger.fabric] peer_endpoint" in capsys.readouterr().err
