"""The `consortium` command line. Commands live in the modules of this package, one per concept;
heavy libraries (torch, tenseal) are imported inside the commands so that `--help` stays fast."""

from __future__ import annotations

import importlib
import pkgutil

from consortium.cli._errors import UserError, fail
from consortium.cli.app import app

__all__ = ["app", "main"]

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    if _module != "app" and not _module.startswith("_"):
        importlib.import_module(f"{__name__}.{_module}")


def main() -> None:
    """Entry point of the `consortium` script.

    Errors a user can fix (`UserError` and its subclasses, e.g. a peer that cannot be reached)
    become one line on stderr and exit code 2, wherever a command forgot to catch them.
    """
    try:
        app(standalone_mode=True)
    except UserError as exc:
        fail(str(exc))
