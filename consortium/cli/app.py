"""The root `consortium` command; each module of `consortium.cli` registers its commands on it."""

from __future__ import annotations

import typer

app = typer.Typer(
    rich_markup_mode=None,
    name="consortium",
    help=(
        "Hospitals train diagnostic models together without moving patient data.\n\n"
        "Typical order: demo-data/ingest (FHIR to an anonymized cohort), init (identities and "
        "ledger), train (local DP baseline), node run / simulate (federated learning with PoLe), "
        "model pull and trace (provenance), ledger verify (audit), portal (web UI)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


@app.command()
def version() -> None:
    """Print the consortium version."""
    from consortium import __version__

    typer.echo(__version__)
