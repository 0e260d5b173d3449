"""`consortium simulate`: hospitals as separate node processes on one machine, with a report."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from consortium.cli._errors import fail
from consortium.cli.app import app

if TYPE_CHECKING:
    from consortium.simulate.config import SimConfig, SimReport, SiteReport


def _pairs(values: list[str], what: str, sites: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        site, sep, value = item.partition("=")
        if not sep or site not in sites:
            fail(f"--{what} {item!r}: use SITE=VALUE with SITE one of {', '.join(sites)}")
        if site in out:
            fail(f"--{what} names {site} twice ({site}={out[site]} and {item}): give each site "
                 "once")  # fmt: skip
        out[site] = value
    return out


def _check_round_seconds(seconds: float, sync: bool) -> None:
    """``--sync-round-seconds``: a finite number of seconds above 0, and only with ``--sync``
    (asynchronously there is no round: silently ignoring it would mislead)."""
    if not (math.isfinite(seconds) and seconds > 0):
        fail(
            "--sync-round-seconds must be a number of seconds greater than 0 "
            f"(got {repr(seconds).removesuffix('.0')}), "  # all its digits, not :g's six
            "e.g. --sync-round-seconds 30"
        )
    if not sync:
        fail(
            "--sync-round-seconds only applies with --sync (the synchronous baseline's round "
            "deadline): add --sync, or leave it out"
        )


def _site_line(s: SiteReport, cfg: SimConfig) -> str:
    """One hospital's updates and ε, each count named (rejecting endorsements are not updates)."""
    name = s.site if s.attack == "none" else f"{s.site} ({s.attack})"
    pending = s.submitted - s.accepted - s.rejected
    line = f"{name:12s} submitted {s.submitted}: accepted {s.accepted}, rejected {s.rejected}"
    line += f", pending {pending}" if pending else ""
    line += f"; ε {s.epsilon_spent} of {cfg.epsilon_budget} (δ {float(cfg.delta):g})"
    if s.reasons:
        why = ", ".join(f"{reason} {n}" for reason, n in sorted(s.reasons.items()))
        line += f"; rejecting endorsements: {why}"
    return line


def _stop_line(report: SimReport) -> str:
    """Why the run ended, and when the target was reached."""
    cfg = report.config
    reached = (f"target AUROC {cfg.target_auroc:g} reached at {report.seconds_to_target:.1f} s"
               if report.seconds_to_target is not None and cfg.target_auroc is not None
               else None)  # fmt: skip
    why = {
        "target": reached,
        "done": "every hospital sent what it planned (or its budget refused more), all sealed",
        "max_seconds": f"--max-seconds {cfg.max_seconds:g} reached",
    }.get(report.stopped or "")
    line = f"stopped after {report.seconds:.1f} s: {why or report.stopped}"
    if report.stopped != "target" and cfg.target_auroc is not None:
        line += f"; {reached or f'target AUROC {cfg.target_auroc:g} not reached'}"
    return line


def _final_auroc(report: SimReport) -> str:
    """The last version's pooled AUROC with the rows and positives it stands on (none in a
    report from before `SimReport.held_out`), and the honest hospitals' when a site attacks."""
    final = "n/a" if report.final_auroc is None else f"{report.final_auroc:.3f}"
    if report.held_out is not None:
        final += f" ({report.held_out.summary()})"
    if report.final_auroc_honest is not None and any(s.attack != "none" for s in report.sites):
        rows = f" ({report.held_out_honest.summary()})" if report.held_out_honest else ""
        final += f" (honest hospitals' rows {report.final_auroc_honest:.3f}{rows})"
    return final


def _final_by_site(report: SimReport) -> str | None:
    """The last version's AUROC on each site's own held-out rows, with those rows (None: a report
    from before the per-site AUROCs, or no version)."""
    if not report.held_out_by_site or not report.versions:
        return None
    last = report.versions[-1].auroc_by_site
    parts = []
    for site, rows in report.held_out_by_site.items():
        auroc = last.get(site)
        parts.append(f"{site} {'n/a' if auroc is None else f'{auroc:.3f}'} ({rows.summary()})")
    return "final AUROC on each site's own held-out rows: " + ", ".join(parts)


@app.command()
def simulate(
    speed: Annotated[
        list[str],
        typer.Option(
            metavar="SITE=K",
            help="The site takes K times longer per update, e.g. va=5; repeat for several sites.",
        ),
    ] = [],  # noqa: B006
    attack: Annotated[
        list[str],
        typer.Option(
            metavar="SITE=KIND",
            help="The site poisons its updates, KIND one of sign_flip, scale10, label_flip, "
            "noise; repeat for several sites.",
        ),
    ] = [],  # noqa: B006
    sync: Annotated[bool, typer.Option("--sync", help="Synchronous FedAvg baseline.")] = False,
    sync_round_seconds: Annotated[
        float | None,
        typer.Option(
            help="With --sync (refused without it: the asynchronous mode has no rounds): how long "
            "a round waits for a hospital that has sent nothing, counted from the round's first "
            "update; a number greater than 0. Default 60 (SimConfig.sync_round_seconds)."
        ),
    ] = None,
    no_sml: Annotated[bool, typer.Option("--no-sml", help="No Secure Mapping Layer.")] = False,
    plaintext: Annotated[bool, typer.Option("--plaintext", help="No HE (bench only).")] = False,
    target_auroc: Annotated[float | None, typer.Option(help="Stop at this AUROC.")] = None,
    max_seconds: Annotated[float, typer.Option(help="Stop after this many seconds.")] = 180.0,
    planned_updates: Annotated[int, typer.Option(help="Updates per hospital.")] = 6,
    verdict_timeout_ms: Annotated[
        int,
        typer.Option(
            help="The task's verdict timeout: a committee seat with no verdict this many "
            "milliseconds after an update's reveal counts as abstaining, and the seats that gave "
            "one decide (docs/federation.md). 0: none, a seat is waited for until its member is "
            "revoked."
        ),
    ] = 0,
    out: Annotated[Path, typer.Option(help="Report directory.")] = Path("sim-report"),
    force: Annotated[
        bool, typer.Option("--force", help="Replace the report already in --out.")
    ] = False,
    ledger: Annotated[
        str,
        typer.Option(
            help="embedded (SQLite) or fabric-fake (every node through the Fabric Gateway "
            "protocol, on the fake peer in its own process; docs/fabric.md)."
        ),
    ] = "embedded",
) -> None:
    """Run the four UCI hospitals and an aggregator as processes; print progress; write a report."""
    from rich.console import Console

    from consortium.node.settings import ATTACKS
    from consortium.simulate.config import DEFAULT_SITES, SimConfig
    from consortium.simulate.runner import run_simulation

    speeds = {}
    for site, value in _pairs(speed, "speed", DEFAULT_SITES).items():
        try:
            speeds[site] = float(value)
        except ValueError:
            speeds[site] = math.nan
        if not (math.isfinite(speeds[site]) and speeds[site] > 0):
            fail(
                f"--speed {site}={value}: the factor must be a number greater than 0, e.g. {site}=5"
            )
    if planned_updates < 1:
        fail(f"--planned-updates must be at least 1 (got {planned_updates})")
    if not (math.isfinite(max_seconds) and max_seconds > 0):  # inf: a stalled run never ends
        fail(f"--max-seconds {repr(max_seconds).removesuffix('.0')}: must be a finite number of "
             "seconds greater than 0, e.g. --max-seconds 180 (nothing was run)")  # fmt: skip
    if sync_round_seconds is not None:
        _check_round_seconds(sync_round_seconds, sync)
    if not 0 <= verdict_timeout_ms <= 2**40:  # the contract's range (records.Task)
        fail(f"--verdict-timeout-ms {verdict_timeout_ms}: give 0 (no timeout, the default) or "
             "the milliseconds a seat may stay silent after an update's reveal, at most 2^40, "
             "e.g. --verdict-timeout-ms 30000 (nothing was run)")  # fmt: skip
    attacks = _pairs(attack, "attack", DEFAULT_SITES)
    bad = [a for a in attacks.values() if a not in ATTACKS]
    if bad:
        fail(f"--attack: unknown attack {bad[0]!r}; use one of {', '.join(ATTACKS[1:])}")
    if ledger not in ("embedded", "fabric-fake"):
        fail(f"--ledger {ledger!r}: use embedded or fabric-fake")
    if target_auroc is not None and not 0 < target_auroc <= 1:
        fail(f"--target-auroc {target_auroc:g}: an AUROC lies between 0 and 1; give a target "
             "above 0 and at most 1, e.g. --target-auroc 0.85 (nothing was run)")  # fmt: skip
    if out.exists() and not out.is_dir():  # found before the run, not after minutes of it
        fail(f"--out {out} is a file: give a folder for the report (nothing was run)")
    if (out / "report.json").exists() and not force:
        fail(f"--out {out} holds the report of an earlier run: give another --out, or --force "
             "to replace it (nothing was run)")  # fmt: skip
    cfg = SimConfig(
        speeds=speeds, attacks=attacks, sync=sync, sml=not no_sml, plaintext=plaintext,  # type: ignore[arg-type]
        target_auroc=target_auroc, stop_at_target=target_auroc is not None,
        max_seconds=max_seconds, planned_updates=planned_updates,
        verdict_timeout_ms=verdict_timeout_ms,
        out=str(out), ledger=ledger,  # type: ignore[arg-type]
        sync_round_seconds=SimConfig.model_fields["sync_round_seconds"].default
        if sync_round_seconds is None else sync_round_seconds,
    )  # fmt: skip
    console = Console()
    console.print(f"simulating {len(cfg.sites)} hospitals ({'sync' if sync else 'async'})")
    report = run_simulation(
        cfg,
        on_version=lambda p: console.print(
            f"[{p.seconds:6.1f}s] version {p.height:3d}  AUROC {p.auroc or 0:.3f}  "
            f"({p.n_updates} updates)"
        ),
    )
    for s in report.sites:
        console.print(_site_line(s, cfg), highlight=False)
    console.print(_stop_line(report), highlight=False)
    console.print(f"final pooled held-out AUROC {_final_auroc(report)}, ledger "
                  f"({report.ledger_backend}) verified: {report.ledger_verified} "
                  f"({report.ledger_check})")  # fmt: skip
    by_site = _final_by_site(report)
    if by_site:
        console.print(by_site, highlight=False)
    if report.fabric is not None:
        console.print(f"fabric: {report.fabric.transactions} transactions in "
                      f"{report.fabric.blocks} blocks, codes {report.fabric.codes}, "
                      f"creators {report.fabric.creators}, "
                      f"{report.fabric.versions_recomputed} versions recomputed")  # fmt: skip
    console.print(f"report: {out / 'report.json'}; the run's consortium and node logs: "
                  f"{report.workdir}, {Path(report.workdir) / 'logs'}")  # fmt: skip
