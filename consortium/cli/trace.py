"""`consortium trace VERSION`: the provenance of a model version, recomputed from the ledger.

Prints the learning block (updates, members, ε, verifiers' verdicts, attested metric, required
gain, rewards, transaction ids) and recomputes the version: the homomorphic sum of the included
updates with the ledger's weights, then θ(v) from θ(v−1); exit 1 if any digest differs
(`consortium.pole.provenance.trace_version`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from consortium.cli._errors import fail
from consortium.cli.app import app
from consortium.cli.model import DirOption, load_config

if TYPE_CHECKING:
    from rich.console import Console

    from consortium.config import ConsortiumConfig
    from consortium.pole.provenance import Provenance, TraceReport


_KEYLESS = {"aggregator", "auditor"}  # never hold the consortium key (decisions/0001, ShareKey)


def default_member(config: ConsortiumConfig) -> str:
    """An identity whose private key this directory holds: one that holds the consortium key (an
    admin first, else a hospital, else a verifier) for the full trace; else an auditor or the
    aggregator (an auditor's copy of the directory), whose trace is partial."""
    here = [
        m for m in sorted(config.members)
        if not config.members[m].revoked and config.holds_private_key(m)
    ]  # fmt: skip
    keyed = [m for m in here if not _KEYLESS & set(config.members[m].roles)]
    for role in ("admin", "hospital", "verifier"):
        for member_id in keyed:
            if role in config.members[member_id].roles:
                return member_id
    if here:
        return here[0]
    fail("this directory holds no member's private key: pass --member NAME")


def _short(tx: object) -> str:
    tx_id = getattr(tx, "tx_id", None)
    block = getattr(tx, "block_number", None)
    return "-" if tx_id is None else f"{tx_id[:12]}… (block {block})"


def print_provenance(console: Console, p: Provenance) -> None:
    """The provenance of one version as rich tables."""
    from rich.table import Table

    from consortium.ledger.contract.records import measured_metrics

    console.print(
        f"[bold]task {p.task_id} version {p.version}[/]  model {p.model_digest[:16]}…  "
        f"sealed by {p.sealer}  proposal {_short(p.proposal)}"
    )
    console.print(
        f"attested AUROC {p.metric_bp} bp over parent {p.base_metric_bp} bp: gain {p.gain_bp:+d} "
        f"bp, required {p.required_gain_bp:+d} bp; interval {p.interval_ms / 1000:.1f} s; "
        f"next required {p.next_required_gain_bp:+d} bp"
    )
    updates = Table("update", "member", "base", "n", "ε spent", "weight ppm", "contrib ppm",
                    "reward", title="included updates")  # fmt: skip
    verdicts = Table("update", "verifier", "verdict", "reason", "AUROC bp", title="endorsements")
    for u in p.updates:
        updates.add_row(u.update_id[:12], u.member_id, str(u.base_version), str(u.n_samples),
                        u.epsilon_spent, str(u.weight_ppm), str(u.contribution_ppm),
                        str(u.reward_units))  # fmt: skip
        for e in u.endorsements:
            verdicts.add_row(u.update_id[:12], e.member_id, e.verdict, e.reason, str(e.metric_bp))
    console.print(updates)
    console.print(verdicts)
    attest = Table("attester", "verdict", "reason", "AUROC bp", "parent bp", "tx",
                   title="attestations")  # fmt: skip
    for a in p.attestations:
        # what the attester did not measure it sent as 0, a placeholder: shown as "-"
        metric, base = measured_metrics(a.verdict, a.metric_bp, a.base_metric_bp)
        attest.add_row(
            a.member_id, a.verdict, a.reason or "-", "-" if metric is None else str(metric),
            "-" if base is None else str(base), _short(a.tx),
        )  # fmt: skip
    console.print(attest)
    rewards = ", ".join(f"{m} {u}" for m, u in sorted(p.rewards.items())) or "none"
    console.print(f"rewards: {rewards}; ε by member: {p.epsilon_by_member or 'none'}")


def print_trace(console: Console, report: TraceReport) -> None:
    """What recomputation found, one line per check."""
    p = report.provenance

    def mark(ok: bool) -> str:
        return "[green]matches[/]" if ok else "[bold red]DIFFERS[/]"

    if report.partial:  # no key: the blob was hashed, not decrypted
        console.print(
            f"blob {p.blob_digest[:16]}… hashes to its ledger digest: {mark(report.blob_ok)} "
            "(not decrypted: this identity holds no key)"
        )
    else:
        console.print(
            f"blob {p.blob_digest[:16]}… opens to model {p.model_digest[:16]}…: "
            f"{mark(report.blob_ok)}"
        )
    if report.aggregate_recomputed is not None:
        console.print(
            f"homomorphic sum of {len(p.updates)} updates recomputed "
            f"{report.aggregate_recomputed[:16]}…: {mark(report.aggregate_ok)}"
        )
    if report.model_recomputed is not None and p.version > 0:
        console.print(
            f"θ({p.version}) from θ({p.version - 1}) + aggregate "
            f"{report.model_recomputed[:16]}…: {mark(report.model_ok)}"
        )
    if report.partial:
        console.print(
            f"not checked without the key: that the blob decrypts to model {p.model_digest[:16]}…"
            + (f", and θ({p.version}) from θ({p.version - 1}) + aggregate" if p.version else "")
            + " (a member holding the key runs the full trace: --member NAME)"
        )
    for problem in report.problems:
        console.print(f"[red]problem:[/] {problem}")
    verdict = "[bold green]MATCH[/]" if report.matches else "[bold red]MISMATCH[/]"
    if report.partial and report.matches:
        verdict += " (PARTIAL: what this identity can check without the key)"
    console.print(f"trace of version {p.version}: {verdict}")


@app.command("trace")
def trace_command(
    version: Annotated[str, typer.Argument(help="A version number or 'latest'.")],
    directory: DirOption = Path("."),
    task: Annotated[str | None, typer.Option("--task", help="Task id [the only task].")] = None,
    member: Annotated[
        str | None,
        typer.Option(
            "--member",
            help="Identity to read and decrypt as [an admin whose key is here; in an auditor's "
            "copy, the auditor: a partial trace].",
        ),
    ] = None,
) -> None:
    """Print a version's provenance and recompute it from the ledger and blobs (exit 1 if not)."""
    from rich.console import Console

    from consortium.pole.provenance import ProvenanceError, trace_version

    config = load_config(directory)
    who = member or default_member(config)
    try:
        report = trace_version(config, who, task, version)
    except ProvenanceError as exc:
        fail(str(exc))
    console = Console()
    print_provenance(console, report.provenance)
    print_trace(console, report)
    if not report.matches:
        raise typer.Exit(1)
