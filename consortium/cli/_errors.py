"""How commands report errors a user can fix: one line on stderr saying what was wrong and what to
do, then a non-zero exit. Nothing the user gave is deleted on the way out."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

_stderr = Console(stderr=True, highlight=False, soft_wrap=True)


class UserError(Exception):
    """An error caused by the user's input or setup; its message says what to do."""


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: message`` on stderr and exit with ``code``.

    The message is escaped: it quotes paths, TOML tables (``[ledger.fabric]``) and user input,
    whose square brackets Rich would otherwise take for markup and drop."""
    _stderr.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)
