"""How `--help` shows an argument that takes one or more values: by its metavar, ``PATH...``, as a
repeatable option is shown (``--member NAME``), not by typer's Python type (``<list[Path]>``),
which typer prints after an argument's name even when it has a metavar."""

from __future__ import annotations

from typing import TYPE_CHECKING

from typer.core import TyperCommand

if TYPE_CHECKING:  # typer (0.29) vendors click: its own Context and HelpFormatter
    from typer._click import Context, HelpFormatter

__all__ = ["SeveralValuesCommand"]


class SeveralValuesCommand(TyperCommand):
    """A command whose arguments of several values (a metavar, nargs other than 1) read
    ``METAVAR...`` in the Arguments section of its help; everything else as typer writes it."""

    def format_options(self, ctx: Context, formatter: HelpFormatter) -> None:
        arguments: list[tuple[str, str]] = []
        options: list[tuple[str, str]] = []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name != "argument":
                options.append(record)
            elif param.nargs != 1 and param.metavar:
                arguments.append((f"{param.metavar}...", record[1]))
            else:
                arguments.append(record)
        for title, records in (("Arguments", arguments), ("Options", options)):
            if records:
                with formatter.section(title):
                    formatter.write_dl(records)
