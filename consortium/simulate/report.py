"""The run report: ``report.json`` (the `SimReport`) and plots made with matplotlib.

- ``auroc.png``: pooled held-out AUROC of each version over wall time (all hospitals' held-out
  rows, and the honest hospitals' rows only when a hospital attacks, each with its rows and
  positives in the legend), with the target and the moment every node was up;
- ``auroc_per_site.png``: the same versions' AUROC on each site's own held-out rows (rows and
  positives in the legend; a site whose rows hold one class has no AUROC and no line); not drawn
  for a report from before the per-site AUROCs;
- ``updates.png``: updates accepted and rejected per hospital (an attacker's attack under its
  name);
- ``epsilon.png``: ε spent per hospital (the last cumulative value each declared on the ledger),
  against the task's budget.

Each plot's title gives the mode, the hospitals, the planned updates and why the run stopped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from consortium.simulate.config import SimReport

__all__ = ["rejection_reasons", "write_report"]


def rejection_reasons(endorsements: Iterable[Mapping[str, Any]]) -> list[str]:
    """Why a rejected update was rejected: its rejecting endorsements' reasons, or, when every
    seat abstained (nobody could judge it, 0001-protocol.md), the abstentions' reason."""
    verdicts = list(endorsements)
    rejects = [str(e["reason"]) for e in verdicts if e["verdict"] == "reject"]
    return rejects or [str(e["reason"]) for e in verdicts if e["verdict"] == "abstain"]


def _title(report: SimReport) -> str:
    """What run a plot is from: mode, hospitals, planned updates, how it ended."""
    cfg = report.config
    mode = "synchronous" if cfg.sync else "asynchronous"
    end = f", stopped: {report.stopped}" if report.stopped else ""
    return f"{mode}, {len(cfg.hospitals)} hospitals, {cfg.planned_updates} planned updates{end}"


def write_report(report: SimReport, out: Path) -> Path:
    """Write ``report.json`` and the plots into ``out``; returns the JSON path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    out.mkdir(parents=True, exist_ok=True)
    path = out / "report.json"
    path.write_text(report.model_dump_json(indent=1))
    cfg, title = report.config, _title(report)
    fig, ax = plt.subplots(figsize=(6, 4))
    xs = [p.seconds for p in report.versions]
    nan = float("nan")
    rows, honest_rows = (f" ({h.summary()})" if h else "" for h in
                         (report.held_out, report.held_out_honest))  # fmt: skip
    ax.plot(xs, [p.auroc or nan for p in report.versions], marker="o",
            label=f"all hospitals{rows}")  # fmt: skip
    if any(s.attack != "none" for s in report.sites):
        honest = [p.auroc_honest or nan for p in report.versions]
        ax.plot(xs, honest, marker=".", label=f"honest hospitals' rows only{honest_rows}")
    if cfg.target_auroc is not None:
        ax.axhline(cfg.target_auroc, color="grey", linestyle="--",
                   label=f"target {cfg.target_auroc:g}")  # fmt: skip
    if report.seconds_nodes_up is not None:
        ax.axvline(report.seconds_nodes_up, color="grey", linestyle=":", label="every node up")
    ax.set_xlabel("wall time since the run started (s)")
    ax.set_ylabel("pooled held-out AUROC of each version")
    ax.set_title(title, fontsize=9)
    ax.legend()
    fig.savefig(out / "auroc.png", dpi=100)
    plt.close(fig)
    if report.held_out_by_site:
        fig, ax = plt.subplots(figsize=(6, 4))
        attacks = {s.site: s.attack for s in report.sites}
        for site, site_rows in report.held_out_by_site.items():
            attack = attacks.get(site, "none")
            name = site if attack == "none" else f"{site} ({attack})"
            ax.plot(xs, [p.auroc_by_site.get(site) or nan for p in report.versions],
                    marker=".", label=f"{name} ({site_rows.summary()})")  # fmt: skip
        if cfg.target_auroc is not None:
            ax.axhline(cfg.target_auroc, color="grey", linestyle="--",
                       label=f"target {cfg.target_auroc:g}")  # fmt: skip
        ax.set_xlabel("wall time since the run started (s)")
        ax.set_ylabel("held-out AUROC of each version on the site's own rows")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=8)
        fig.savefig(out / "auroc_per_site.png", dpi=100)
        plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 4))
    names = [s.site if s.attack == "none" else f"{s.site}\n({s.attack})" for s in report.sites]
    ax.bar(names, [s.accepted for s in report.sites], label="accepted")
    ax.bar(names, [s.rejected for s in report.sites], bottom=[s.accepted for s in report.sites],
           label="rejected")  # fmt: skip
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("updates (count)")
    ax.set_title(title, fontsize=9)
    ax.legend()
    fig.savefig(out / "updates.png", dpi=100)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.bar(names, [float(s.epsilon_spent) for s in report.sites])
    ax.axhline(float(cfg.epsilon_budget), color="grey", linestyle="--",
               label=f"budget ε = {cfg.epsilon_budget}")  # fmt: skip
    ax.set_ylabel(f"ε spent per hospital (δ = {float(cfg.delta):g})")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="lower right")
    fig.savefig(out / "epsilon.png", dpi=100)
    plt.close(fig)
    return path
