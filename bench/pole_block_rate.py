"""PoLe block rate: coefficient of variation of block intervals, next to Proof of Work's.

Runs `consortium.pole.blockrate.run_block_rate` (the real contract on a memory state, the real
difficulty function; simulated learning and clock: see that module's docstring for exactly what is
simulated) for the rule in force, a task with the target-interval gate (``min_interval_bp`` 9000:
the contract refuses a proposal before 90 % of the target interval with ``TOO_EARLY``), the
decaying requirement (``gain_decay_intervals`` 4: a head older than the target interval needs
less, down to the task's floor after 4 more intervals) and retargeting, beside the earliest rule
(retargeting alone: no gate, no decay), across evaluation noise levels and speeds of diminishing
returns. "bar bp" is the mean required gain over the last
10 blocks, "refused" the proposals the contract refused as too early. Each line prints both CVs
beside the CV of exponential (Proof-of-Work) intervals with the same mean as the gated run.
Goal: CV <= 0.3.

    .venv/bin/python bench/pole_block_rate.py [--blocks 100] [--from demo-out/consortium]
        [--noise 30 60 150 300] [--min-interval-bp 9000] [--decay-intervals 4]
        [--initial-gain-bp 50]

With ``--from DIR`` (a consortium directory after a run, e.g. the demo's), the attested-gain noise
is also measured from that run's ledger (`measured_gain_noise`) and both rules are run with it.
"""

from __future__ import annotations

import argparse
import math
import time

from consortium.ledger.base import Creator
from consortium.pole.blockrate import (
    BlockRateConfig,
    BlockRateResult,
    _identities,
    measured_gain_noise,
    run_block_rate,
)


def _measured(directory: str) -> float:
    from consortium.config import ConsortiumConfig
    from consortium.ledger.factory import open_ledger

    config = ConsortiumConfig.load(directory)
    ledger = open_ledger(config, "admin")
    task = ledger.evaluate("ListTasks", {})[0]["task_id"]
    noise, used = measured_gain_noise(ledger, task)
    ledger.close()
    print(f"measured from {directory}: attested-gain noise {noise:.0f} bp ({used} proposals)")
    return noise


def _run(cfg: BlockRateConfig, people: dict[str, Creator]) -> BlockRateResult | str:
    """The run's result, or why it stopped (a positive bar that no candidate ever meets)."""
    try:
        return run_block_rate(cfg, people)
    except RuntimeError as exc:
        if "no candidate" not in str(exc):
            raise
        return "stalled: no block in 1000 intervals"


def _cells(r: BlockRateResult | str, refused: bool) -> str:
    if isinstance(r, str):
        return r
    cells = f"{r.cv:8.2f} {r.mean_interval_ms / 1000:6.0f} {r.updates_per_block:7.1f}"
    cells += f" {sum(r.required_gain_bp[-10:]) // 10:6d}"
    return f"{cells} {r.too_early:7d}" if refused else cells


def main() -> None:
    """Print one line per (returns, noise) with both rules' CV and the PoW baseline's."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=100)
    parser.add_argument("--from", dest="source", help="consortium directory of a finished run")
    parser.add_argument("--noise", type=float, nargs="+", default=[30.0, 60.0, 150.0, 300.0])
    parser.add_argument("--min-interval-bp", type=int, default=9000)
    parser.add_argument("--decay-intervals", type=int, default=4, help="0: no decay")
    parser.add_argument("--initial-gain-bp", type=int, default=50, help="initial required gain")
    args = parser.parse_args()
    noises = list(args.noise)
    if args.source:
        noises.append(round(_measured(args.source)))
    people = _identities()
    started = time.perf_counter()
    print(
        f"{args.blocks} blocks per run; target interval 60 s, retarget every 5 blocks, initial "
        f"required gain {args.initial_gain_bp} bp; 4 hospitals, one update each per 10 s on "
        "average (simulated time)"
    )
    gate = f"gate {args.min_interval_bp} bp, decay {args.decay_intervals}"
    print(
        f"{'':21} | {gate + ' (in force)':<38} | {'no gate, no decay (earliest rule)':<31} |"
        f"\n{'w0 (updates)':>12} {'noise bp':>8} | {'CV':>8} {'mean s':>6} {'upd/blk':>7} "
        f"{'bar bp':>6} {'refused':>7} | {'CV':>8} {'mean s':>6} {'upd/blk':>7} {'bar bp':>6} | "
        f"{'PoW CV':>6}"
    )
    worst = 0.0
    for w0 in (300.0, 3000.0):
        for noise in noises:
            base = BlockRateConfig(
                blocks=args.blocks,
                w0_updates=w0,
                noise_bp=noise,
                initial_required_gain_bp=args.initial_gain_bp,
            )
            rule = {"min_interval_bp": args.min_interval_bp,
                    "gain_decay_intervals": args.decay_intervals}  # fmt: skip
            gated = _run(base.model_copy(update=rule), people)
            old = _run(base.model_copy(update={"min_interval_bp": 0}), people)
            worst = max(worst, gated.cv if isinstance(gated, BlockRateResult) else math.inf)
            pow_cv = f"{gated.pow_cv:6.2f}" if isinstance(gated, BlockRateResult) else ""
            print(
                f"{w0:12.0f} {noise:8.0f} | {_cells(gated, True):>38} | "
                f"{_cells(old, False):>31} | {pow_cv}"
            )
    verdict = "met" if worst <= 0.3 else "NOT met"
    print(f"gate: largest CV {worst:.2f}, goal CV <= 0.3 {verdict}")
    print(f"({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
