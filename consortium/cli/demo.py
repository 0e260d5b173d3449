"""`consortium demo` (what `make demo` runs): the consortium from nothing to a traced model.

The pipeline is `consortium.demo.run_demo`; this command prints its progress and the final
tables with rich. It replaces an earlier demo's folder (so `make demo` can be run again) and
refuses any other non-empty folder: nothing it did not write is deleted.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from consortium.cli._errors import fail
from consortium.cli.app import app

DEMO_MARKER = ".consortium-demo"  # written first by `consortium.demo.run_demo`

if TYPE_CHECKING:
    from collections.abc import Callable

    from pydantic import ValidationError
    from rich.console import Console
    from rich.status import Status

    from consortium.demo import DemoReport, ModelScore, SiteRow


def _cell(m: ModelScore) -> str:
    return "n/a" if m.auroc is None else f"{m.auroc:.3f}"


def print_aurocs(
    console: Console,
    sites: list[SiteRow],
    pooled: dict[str, ModelScore],
    title: str = "held-out AUROC per hospital (same rows for every model)",
    rows_are: str = "held-out rows",
) -> None:
    """AUROC per hospital (with n and positives) and pooled, ε, the federated − centralized gap,
    the wins, each hospital's interval and which held-out sets are too thin to judge."""
    from rich.table import Table

    t = Table(title=title)
    for col in (
        "hospital",
        "test rows",
        "positives",
        "federated (DP)",
        "local only (DP)",
        "centralized (no DP)",
        "ε federated",
        "ε local",
    ):
        t.add_column(col, justify="right" if col != "hospital" else "left")
    for r in sites:
        t.add_row(
            r.site,
            str(r.federated.n),
            str(r.federated.positives),
            _cell(r.federated),
            _cell(r.local_dp),
            _cell(r.central),
            f"{float(r.epsilon_spent):.2f}",
            f"{float(r.local_epsilon):.2f}",
        )
    fed, cen = pooled["federated"], pooled["central"]
    t.add_row(
        "pooled", str(fed.n), str(fed.positives), _cell(fed), "-", _cell(cen), "", "", style="bold"
    )
    console.print(t)
    from consortium.learning.compare import AUROC_TIE, beats

    pairs = [(r.federated.auroc, r.local_dp.auroc) for r in sites]
    better = sum(1 for f, loc in pairs if beats(f, loc))
    ties = sum(
        1 for f, loc in pairs if f is not None and loc is not None and abs(f - loc) <= AUROC_TIE
    )
    gap = (fed.auroc or 0) - (cen.auroc or 0)
    tied = f" (tied at {ties})" if ties else ""
    console.print(
        f"federated − centralized on the pooled {rows_are}: {gap:+.3f} AUROC; "
        f"federated beats local-only at {better} of {len(sites)} hospitals{tied}"
    )
    for line in beyond_noise(sites):
        console.print(line)
    for note in thin_held_out(sites, rows_are):
        console.print(note)


def print_results(console: Console, report: DemoReport) -> None:
    """The final tables: AUROC per hospital (with n and positives), ε, blocks and rewards."""
    print_aurocs(console, report.sites, report.pooled)
    cv = "n/a" if report.interval_cv is None else f"{report.interval_cv:.2f}"
    console.print(
        f"learning blocks: {report.blocks} (interval CV {cv} after block 1); rewards: "
        + ", ".join(f"{m} {u}" for m, u in sorted(report.rewards.items()))
    )
    if report.rejected:
        console.print(rejected_line(report))
    console.print(
        f"trace: {'MATCH' if report.trace_matches else 'MISMATCH'}; ledger: "
        f"{'OK' if report.ledger_ok else 'FAILED'}; stage seconds {report.seconds}"
    )


def rejected_line(report: DemoReport) -> str:
    """Rejected updates per hospital, each counted once, then the reasons of their rejecting
    endorsements. The reasons alone read as updates but count endorsements: with a committee of
    3 and quorum 2 one rejected update carries two (a demo transcript took one for two)."""
    cells = []
    for member, reasons in sorted(report.rejected.items()):
        n = report.rejected_updates.get(member)
        count = "" if n is None else f"{n} "
        cells.append(f"{member} {count}({reasons})")
    return "rejected updates (reasons of their rejecting endorsements): " + "; ".join(cells)


def beyond_noise(sites: list[SiteRow]) -> list[str]:
    """Each hospital's federated − local-only difference with its 95 % paired bootstrap interval
    (`consortium.learning.compare.auroc_difference`), and how many intervals exclude 0."""
    from consortium.federation.verifier import MIN_CLASS_ROWS

    lines = ["federated − local-only AUROC [95 % paired bootstrap interval, held-out patients]:"]
    for r in sites:
        d = r.fed_minus_local
        cell = d.summary() if d else f"n/a (fewer than {MIN_CLASS_ROWS} rows of a class)"
        lines.append(f"  {r.site:<12} {cell}")
    cis = [r.fed_minus_local for r in sites if r.fed_minus_local is not None]
    better = sum(1 for d in cis if d.low > 0)
    worse = sum(1 for d in cis if d.high < 0)
    lines.append(
        f"  above 0 at {better}, below 0 at {worse}, containing 0 at {len(cis) - better - worse} "
        f"of the {len(cis)} hospitals with an interval"
    )
    return lines


def thin_held_out(sites: list[SiteRow], rows_are: str = "held-out rows") -> list[str]:
    """A line per hospital whose held-out rows have too few of a class for its AUROC to say much
    (fewer than the verifiers need to measure one, `federation.verifier.MIN_CLASS_ROWS`)."""
    from consortium.federation.verifier import MIN_CLASS_ROWS, metric_measurable

    notes = []
    for r in sites:
        if metric_measurable(r.federated.positives, r.federated.n):
            continue
        pos, neg = r.federated.positives, r.federated.n - r.federated.positives
        rare, label, other = (neg, "negative", pos) if neg <= pos else (pos, "positive", neg)
        who = "that patient ranks" if rare == 1 else "they rank"
        notes.append(
            f"{r.site}: {rare} {label}{'s' if rare != 1 else ''} among its {r.federated.n} "
            f"{rows_are}, so its AUROC is where {who} among {other} others; the "
            f"verifiers measure no AUROC on fewer than {MIN_CLASS_ROWS} of a class"
        )
    return notes


def plain_say(console: Console, status: Status | None = None) -> Callable[[str], None]:
    """The demo's progress lines, printed as they are: a warning, a path or a member name with
    square brackets is text, not rich markup (which would drop it or fail on it); ``status``, the
    spinner's line, shows the latest."""
    from rich.markup import escape

    def say(line: str) -> None:
        console.print(line, markup=False, highlight=False)
        if status is not None:
            status.update(f"[dim]{escape(line.strip()[:76])}[/]")

    return say


def _refused_option(exc: ValidationError, given: dict[str, object]) -> str:
    """The first value DemoConfig refused, as the option that gave it: ``--max-seconds nan:
    max_seconds must be a finite number greater than 0 (got nan), e.g. --max-seconds 200.0``."""
    error = exc.errors(include_url=False)[0]
    field = str(error["loc"][0]) if error["loc"] else ""
    option = f"--{field.replace('_', '-')}"
    message = (
        str(error["msg"]).removeprefix("Value error, ").replace(f"e.g. {field}=", f"e.g. {option} ")
    )
    if not message.startswith(field):  # pydantic's own: "Input should be ..."
        message = f"{field}: {message}"
    return f"{option} {given.get(field)}: {message} (nothing was run)"


@app.command("demo")
def demo_command(
    out: Annotated[Path, typer.Option("--out", help="Report folder.")] = Path("demo-out"),
    in_process: Annotated[
        bool, typer.Option("--in-process", help="Step the nodes in this process.")
    ] = False,
    no_sml: Annotated[bool, typer.Option("--no-sml", help="Without the SML.")] = False,
    planned_updates: Annotated[int, typer.Option(help="Updates per hospital.")] = 6,
    max_seconds: Annotated[float, typer.Option(help="Limit of the federated stage.")] = 200.0,
    cross_fit: Annotated[
        bool,
        typer.Option(
            "--cross-fit",
            help="Then run the demo once per other fifth of each hospital held out (four more "
            "runs, two at a time, nodes in one process each) and score every model on all of "
            "each hospital's rows, each row by the run that held it out. `make demo` does.",
        ),
    ] = False,
) -> None:
    """FHIR -> ingest -> init -> DP, encrypted, asynchronous learning with PoLe -> pull, trace."""
    from pydantic import ValidationError
    from rich.console import Console

    from consortium.demo import DemoConfig, run_cross_fit, run_demo

    try:  # before an earlier run is replaced
        cfg = DemoConfig(out=out, in_process=in_process, sml=not no_sml,
                         planned_updates=planned_updates, max_seconds=max_seconds)  # fmt: skip
    except ValidationError as exc:
        fail(_refused_option(exc, {"planned_updates": planned_updates, "max_seconds": max_seconds}))
    # Off a terminal (a log, CI) rich assumes 80 columns and folds every line and the table.
    console = Console(width=None if Console().is_terminal else 120)
    if out.exists() and any(out.iterdir()):
        if not (out / DEMO_MARKER).is_file():
            fail(f"{out} is not empty and was not made by `consortium demo`: choose another --out")
        console.print(f"replacing the earlier demo run in {out}")
        shutil.rmtree(out)
    with console.status("starting the demo", spinner="dots") as status:
        report = run_demo(cfg, say=plain_say(console, status))
    print_results(console, report)
    if cross_fit:
        console.print(
            "7. cross-fitting: the same demo with each other fifth of every hospital held out "
            "(four runs, two at a time, each with its nodes in one process)"
        )
        with console.status("cross-fitting: four more runs of the demo", spinner="dots"):
            folds = cfg.model_copy(update={"in_process": True})
            crossed = run_cross_fit(folds, report, say=plain_say(console), workers=2)
        print_aurocs(
            console,
            crossed.sites,
            crossed.pooled,
            title="AUROC per hospital on all its rows (each scored by the run that held it out)",
            rows_are="rows",
        )
        console.print(f"cross-fitted results: {out}/cross_fit.json; the fold runs: {out}/folds/")
    console.print(f"report and plots: {out}/report.json, {out}/*.png")
    console.print(
        f"portal: consortium portal set-password --dir {out}/consortium --member "
        f"{cfg.sites[0]}, then consortium portal --dir {out}/consortium --member "
        f"{cfg.sites[0]} --ingest {out}/ingest/{cfg.sites[0]}"
    )
