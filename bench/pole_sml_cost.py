"""What the Secure Mapping Layer costs in accuracy: the demo with and without it, side by side.

Runs the demo pipeline (`consortium.demo.run_demo`, nodes stepped in-process) ``--pairs`` times
with the SML and as many times without (same ingested cohorts and held-out rows; the DP noise is
fresh in every run), and prints each run's final pooled held-out AUROC and the mean difference.
Goal: |mean(with) − mean(without)| <= 0.01.

    .venv/bin/python bench/pole_sml_cost.py [--pairs 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from consortium.demo import DemoConfig, run_demo


def main() -> None:
    """Print one line per pair and the mean difference."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2)
    args = parser.parse_args()
    started = time.perf_counter()
    with_sml, without = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.pairs):
            row = []
            for sml in (True, False):
                cfg = DemoConfig(
                    out=Path(tmp) / f"{i}-{sml}",
                    in_process=True,
                    sml=sml,
                    local_epochs=2,
                    central_epochs=2,
                )
                report = run_demo(cfg, say=lambda _: None)
                auroc = report.pooled["federated"].auroc or 0.0
                (with_sml if sml else without).append(auroc)
                row.append(f"{auroc:.3f} ({report.blocks} blocks)")
            print(f"pair {i}: with SML {row[0]}   without {row[1]}", flush=True)
    n = report.pooled["federated"].n
    diff = sum(with_sml) / len(with_sml) - sum(without) / len(without)
    print(
        f"mean pooled AUROC on {n} held-out rows: with SML {sum(with_sml) / len(with_sml):.3f}, "
        f"without {sum(without) / len(without):.3f}, difference {diff:+.3f} "
        f"({time.perf_counter() - started:.0f} s)"
    )


if __name__ == "__main__":
    main()
