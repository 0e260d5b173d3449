"""`consortium ingest` (FHIR -> anonymized cohort) and `consortium demo-data` (demo FHIR)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from consortium.cli._errors import UserError, fail
from consortium.cli._help import SeveralValuesCommand
from consortium.cli.app import app


@app.command("ingest", cls=SeveralValuesCommand)
def ingest_command(
    paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="PATH",
            help="FHIR R4 JSON (resources, Bundles), NDJSON, or folders; one or more.",
        ),
    ],
    site: Annotated[str, typer.Option("--site", help="This hospital's short name.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder (cohort, report, quarantine).")],
    cohort: Annotated[
        str, typer.Option("--cohort", help="Cohort name in data_schemas/cohorts/ or a JSON path.")
    ] = "heart",
    k: Annotated[int, typer.Option("--k", help="k-anonymity on (age band, sex, ZIP3).")] = 5,
    key: Annotated[
        Path | None,
        typer.Option("--key", help="Pseudonym key file [default: OUT/secrets/pseudonym.key]."),
    ] = None,
) -> None:
    """Validate, anonymize (HIPAA Safe Harbor + k-anonymity) and tabulate FHIR input."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    from consortium.fhir.ingest import ingest, skipped_text

    console = Console(stderr=True)
    columns = (
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
    )
    # a bar for a terminal only: piped (2>err.txt) even a hidden one would leave a blank line
    quiet = not console.is_terminal
    try:
        with Progress(*columns, console=console, transient=True, disable=quiet) as bar:
            task = bar.add_task(f"ingest {site}", total=None)

            def advance(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            report = ingest(paths, site, cohort, out, k, key_path=key, progress=advance)
    except UserError as exc:
        fail(str(exc))
    unlinked = (
        f"; {report.unlinked_patients} patient{'s' if report.unlinked_patients > 1 else ''} "
        "referenced but not in the input (their resources are not used: add the Patients' export)"
        if report.unlinked_patients
        else ""
    )
    n = len(report.warnings)
    warned = f"; {n} warning{'s' if n > 1 else ''} (below, and in report.json)" if n else ""
    typer.echo(
        f"{site}: read {report.read}, accepted {report.accepted}, quarantined "
        f"{report.quarantined}; {report.rows} rows (k={report.k}, {report.suppressed} suppressed)"
        f"{unlinked}{skipped_text(report.skipped_files)}{warned}; key {report.key_fingerprint}; "
        f"wrote {out / 'cohort.parquet'}"
    )
    for warning in report.warnings:  # also in report.json: what the table lacks (docs/ingest.md)
        typer.echo(f"warning: {warning}", err=True)


@app.command("demo-data")
def demo_data_command(
    out: Annotated[Path, typer.Option("--out", help="Folder to write one folder per hospital.")],
    bundles: Annotated[
        bool, typer.Option("--bundles", help="Also write one transaction Bundle per hospital.")
    ] = False,
) -> None:
    """Write the UCI heart data of four hospitals as FHIR R4 NDJSON (synthetic identifiers)."""
    from consortium.datasets.demo import write_demo_fhir

    try:
        folders = write_demo_fhir(out, bundles=bundles)
    except OSError as exc:
        fail(f"cannot write to --out {out}: {exc.strerror or exc}")
    for site, folder in folders.items():
        typer.echo(f"{site}: {folder}")
    if bundles:
        typer.echo(f"bundles (one transaction Bundle per hospital): {Path(out) / 'bundles'}")
