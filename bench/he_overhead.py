"""Cost of homomorphic encryption: the same federated run with CKKS and with plaintext updates.

For the heart model and for a model of about one million parameters, runs the four hospitals and
the aggregator as processes twice (``--plaintext`` baseline, then CKKS) and prints the wall-time
ratio encrypted ÷ plaintext (goal ≤ 1.3; NVIDIA FLARE reports 2.7× for its CKKS aggregation) and
the ciphertext bytes per parameter of one update blob (TenSEAL's usual parameters give ≈ 81), and
the CPU seconds each run took in all its processes (the machine's cores are shared by the five
nodes, so CPU time, not only wall time, says what encryption costs), and how many aggregates each
run posted (plain / CKKS): a proposal below the required gain is aggregated, sealed and attested
again, so runs that needed different numbers of aggregates did different amounts of work; the
last columns list how many updates each aggregate held, in posting order.

``--profile`` instead runs the CKKS simulation of the large model once with every node in this
process (``SimConfig.in_process``) under cProfile, and prints where the encryption work goes: the
CPU seconds of each `HEVault` operation, by the federation function that called it.

Each model runs ``--pairs`` plaintext/CKKS pairs (default 3) and the median ratio is the
figure: which proposals meet the required gain differs from run to run, so a single pair
measures the protocol's luck as much as encryption (see the aggregates column).

    .venv/bin/python bench/he_overhead.py [--updates 3] [--pairs 3] [--skip-large] [--profile]
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

from consortium.simulate.config import SimConfig, SimReport
from consortium.simulate.runner import run_simulation

LARGE_HIDDEN = (1000, 1000)  # 20 inputs: 20·1000 + 1000·1000 + 1000 + biases ≈ 1.02 M
# A run takes under a minute; one that has not finished after this long is stuck (an accepted
# update whose every block falls below the required gain is aggregated again and again) and its
# time says nothing about encryption: it is printed as such, not as a ratio.
MAX_SECONDS = 300
VAULT_OPS = ("encrypt", "decrypt", "replace", "weighted_sum")


def _config(
    plaintext: bool, hidden: tuple[int, ...], updates: int, *, in_process: bool = False
) -> SimConfig:
    return SimConfig(
        plaintext=plaintext, hidden=hidden, planned_updates=updates, update_seconds=0.0,
        max_seconds=MAX_SECONDS, flush_seconds=2.0, sealer_timeout_seconds=60.0,
        workdir=tempfile.mkdtemp(prefix="bench-he-"), in_process=in_process,
    )  # fmt: skip


def _bytes_per_param(report: SimReport) -> tuple[int, float]:
    from consortium.node.open import open_session

    s = open_session(report.workdir, "admin")
    update = s.q("ListUpdates", task_id="heart")[0]["update"]
    blob = s.blobs.get(update["model_digest"])
    params = sum(a.size for a in s.version(0).values())
    return params, len(blob) / params


def _sizes(buffers: list[int]) -> str:
    return ",".join(str(n) for n in buffers)


def _buffers(report: SimReport) -> list[int]:
    """How many updates each aggregate the run posted held, in posting order (a proposal below
    the required gain costs one more aggregate)."""
    from consortium.node.open import open_session

    aggs = open_session(report.workdir, "admin").q("ListAggregates", task_id="heart")
    return [len(a["updates"]) for a in sorted(aggs, key=lambda a: int(a["ms"]))]


def _profile(hidden: tuple[int, ...], updates: int) -> None:
    """Run CKKS in one process under cProfile; print HEVault seconds by caller."""
    import cProfile
    import pstats

    profile = cProfile.Profile()
    report = profile.runcall(run_simulation, _config(False, hidden, updates, in_process=True))
    stats: dict[Any, Any] = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    print(f"CKKS run in one process: {report.seconds:.1f} s wall; HEVault operations by caller:")
    print(f"{'operation':13s} {'caller':45s} {'calls':>5s} {'CPU s':>7s}")
    total = 0.0
    for (path, _, func), (_, _, _, _, callers) in sorted(stats.items()):
        if not path.endswith("federation/he.py") or func not in VAULT_OPS:
            continue
        by_cost = sorted(callers.items(), key=lambda c: -c[1][3])
        for (cpath, _, cfunc), (_, calls, _, cum) in by_cost:
            where = f"{cpath.rsplit('consortium/', 1)[-1]}:{cfunc}"
            print(f"{func:13s} {where:45s} {calls:5d} {cum:7.1f}")
            total += cum
    print(f"{'all':13s} {'':45s} {'':5s} {total:7.1f}")
    shutil.rmtree(Path(report.workdir).parent, ignore_errors=True)


def _run(cfg: SimConfig) -> tuple[SimReport, float]:
    """The report and the CPU seconds of the run (this process and the node processes)."""
    before = os.times()
    report = run_simulation(cfg)
    after = os.times()
    cpu = sum(after[i] - before[i] for i in range(4))  # user, system, children's user, system
    return report, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=3)
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--pairs", type=int, default=3,
        help="plaintext/CKKS pairs per model; the median ratio is the figure (default 3)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.profile:
        _profile(LARGE_HIDDEN, args.updates)
        return
    models = {"heart": (16,)} if args.skip_large else {"heart": (16,), "1M": LARGE_HIDDEN}
    print(f"{'model':6s} {'params':>9s} {'plain (s)':>10s} {'CKKS (s)':>9s} {'ratio':>6s} "
          f"{'bytes/param':>12s} {'CPU plain':>10s} {'CPU CKKS':>9s} "
          f"{'aggregates':>10s}  buffers plain | CKKS")  # fmt: skip
    medians = {}
    for name, hidden in models.items():
        ratios = []
        for _ in range(args.pairs):
            plain, plain_cpu = _run(_config(True, hidden, args.updates))
            he, he_cpu = _run(_config(False, hidden, args.updates))
            params, per_param = _bytes_per_param(he)
            bp, bh = _buffers(plain), _buffers(he)
            for run in (plain, he):  # each run's consortium is tens of MB: read, then gone
                shutil.rmtree(Path(run.workdir).parent, ignore_errors=True)
            stuck = max(plain.seconds, he.seconds) >= MAX_SECONDS
            ratios.append(math.inf if stuck else he.seconds / plain.seconds)
            ratio = "stuck" if stuck else f"{ratios[-1]:.2f}"
            print(f"{name:6s} {params:9d} {plain.seconds:10.1f} {he.seconds:9.1f} {ratio:>6s} "
                  f"{per_param:12.1f} {plain_cpu:10.1f} {he_cpu:9.1f} "
                  f"{f'{len(bp)} / {len(bh)}':>10s}  {_sizes(bp)} | {_sizes(bh)}",
                  flush=True)  # fmt: skip
        medians[name] = statistics.median(ratios)
    print("median ratio: " + ", ".join(f"{name} {r:.2f}" for name, r in medians.items()))
    print("goal: ratio <= 1.3 (NVIDIA FLARE: 2.7x); TenSEAL's usual parameters: ~81 bytes/param")


if __name__ == "__main__":
    main()
