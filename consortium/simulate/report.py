"""The run report: ``report.json`` (the `SimReport`) and plots made with matplotlib.

- ``auroc.png``: pooled held-out AUROC of each version over wall time (all hospitals, and the
  honest ones only when a hospital attacks);
- ``updates.png``: updates accepted and rejected per hospital;
- ``epsilon.png``: ε spent per hospital (the last cumulative value each declared on the ledger).
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


def write_report(report: SimReport, out: Path) -> Path:
    """Write ``report.json`` and the plots into ``out``; returns the JSON path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    path = out / "report.json"
    path.write_text(report.model_dump_json(indent=1))
    fig, ax = plt.subplots(figsize=(6, 4))
    xs = [p.seconds for p in report.versions]
    nan = float("nan")
    ax.plot(xs, [p.auroc or nan for p in report.versions], marker="o", label="all hospitals")
    if any(s.attack != "none" for s in report.sites):
        honest = [p.auroc_honest or nan for p in report.versions]
        ax.plot(xs, honest, marker=".", label="honest only")
    ax.set_xlabel("wall time (s)")
    ax.set_ylabel("pooled held-out AUROC")
    ax.legend()
    fig.savefig(out / "auroc.png", dpi=100)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 4))
    names = [s.site for s in report.sites]
    ax.bar(names, [s.accepted for s in report.sites], label="accepted")
    ax.bar(names, [s.rejected for s in report.sites], bottom=[s.accepted for s in report.sites],
           label="rejected")  # fmt: skip
    ax.legend()
    fig.savefig(out / "updates.png", dpi=100)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.bar(names, [float(s.epsilon_spent) for s in report.sites])
    ax.set_ylabel("ε spent")
    fig.savefig(out / "epsilon.png", dpi=100)
    plt.close(fig)
    return path
