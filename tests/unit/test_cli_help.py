"""`--help` names what a repeatable option takes (DIR, NAME, SITE=K), not the Python type behind
it (`<list[Path]>`, `<list[str]>`), and says that it may be repeated."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from consortium.cli import app


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every command and group of the CLI (a group has options too: `portal`), with the words
    that run it."""
    found = [(path, command)] if path else []
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        found += _commands(sub, (*path, name))
    return found


COMMANDS = _commands(typer.main.get_command(app))
REPEATABLE = [
    (path, param)
    for path, command in COMMANDS
    for param in command.params
    if param.param_type_name == "option" and param.multiple
]


def test_the_cli_has_repeatable_options() -> None:
    # the walk finds them (train --cohort, init --member, …): the tests below are not vacuous
    assert {("train", "--cohort"), ("init", "--member"), ("simulate", "--speed")} <= {
        (" ".join(path), param.opts[0]) for path, param in REPEATABLE
    }


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_no_option_shows_a_python_type(path: tuple[str, ...], command: Any) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    options = result.output.split("Options:", 1)[1]  # an Argument's type is typer's to show
    assert "list[" not in options, options


@pytest.mark.parametrize(
    ("path", "param"), REPEATABLE, ids=[f"{' '.join(p)} {o.opts[0]}" for p, o in REPEATABLE]
)
def test_a_repeatable_option_says_it_may_be_repeated(path: tuple[str, ...], param: Any) -> None:
    assert param.metavar and param.metavar.isupper(), param.metavar  # DIR, NAME, SITE=K
    assert "repeat" in (param.help or "").lower(), param.help
