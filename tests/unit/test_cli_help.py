"""`--help` names what a repeatable option or an argument of several values takes (DIR, NAME,
SITE=K, PATH...), not the Python type behind it (`<list[Path]>`, `<list[str]>`), and says that it
may be repeated or given several times."""

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
SEVERAL = [
    (path, param)
    for path, command in COMMANDS
    for param in command.params
    if param.param_type_name == "argument" and param.nargs != 1
]


def test_the_cli_has_repeatable_options() -> None:
    # the walk finds them (train --cohort, init --member, …): the tests below are not vacuous
    assert {("train", "--cohort"), ("init", "--member"), ("simulate", "--speed")} <= {
        (" ".join(path), param.opts[0]) for path, param in REPEATABLE
    }


def test_the_cli_has_arguments_of_several_values() -> None:
    assert ("ingest", "paths") in {(" ".join(path), param.name) for path, param in SEVERAL}


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_no_parameter_shows_a_python_type(path: tuple[str, ...], command: Any) -> None:
    # `ingest --help` showed its FHIR files as `paths... <list[Path]>`
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "list[" not in result.output, result.output  # usage, arguments and options


@pytest.mark.parametrize(
    ("path", "param"), REPEATABLE, ids=[f"{' '.join(p)} {o.opts[0]}" for p, o in REPEATABLE]
)
def test_a_repeatable_option_says_it_may_be_repeated(path: tuple[str, ...], param: Any) -> None:
    assert param.metavar and param.metavar.isupper(), param.metavar  # DIR, NAME, SITE=K
    assert "repeat" in (param.help or "").lower(), param.help


@pytest.mark.parametrize(
    ("path", "param"), SEVERAL, ids=[f"{' '.join(p)} {a.name}" for p, a in SEVERAL]
)
def test_an_argument_of_several_values_says_so(path: tuple[str, ...], param: Any) -> None:
    assert param.metavar and param.metavar.isupper(), param.metavar  # PATH
    assert "one or more" in (param.help or "").lower(), param.help
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
    arguments = result.output.split("Arguments:", 1)[1].split("Options:", 1)[0]
    assert f"  {param.metavar}...  " in arguments, arguments
