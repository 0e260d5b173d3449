"""PoLe block rate: coefficient of variation of block intervals, next to Proof of Work's.

Runs `consortium.pole.blockrate.run_block_rate` (the real contract on a memory state, simulated
learning: see that module's docstring for exactly what is simulated) for the protocol's sealing
rule ("gain": propose as soon as the attested gain meets the retargeted requirement) and for a
target-interval gate ("gate": no proposal before 80 % of the target interval), across evaluation
noise levels and speeds of diminishing returns; prints each run's CV beside the CV of exponential
(Proof-of-Work) intervals of the same mean. Goal: CV <= 0.3.

    .venv/bin/python bench/pole_block_rate.py [--blocks 100] [--from demo-out/consortium]

With ``--from DIR`` (a consortium directory after a run, e.g. the demo's), the attested-gain noise
is also measured from that run's ledger (`measured_gain_noise`) and both rules are run with it.
"""

from __future__ import annotations

import argparse
import time

from consortium.pole.blockrate import (
    BlockRateConfig,
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


def main() -> None:
    """Print one line per (returns, noise) with both rules' CV and the PoW baseline's."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=100)
    parser.add_argument("--from", dest="source", help="consortium directory of a finished run")
    args = parser.parse_args()
    noises = [30.0, 60.0, 150.0, 300.0]
    if args.source:
        noises.append(round(_measured(args.source)))
    people = _identities()
    started = time.perf_counter()
    print(
        f"{args.blocks} blocks per run; target interval 60 s, retarget every 5 blocks; "
        "4 hospitals, one update each per 10 s on average (simulated time)"
    )
    print(
        f"{'w0 (updates)':>12} {'noise bp':>8} | {'gain: CV':>8} {'mean s':>6} "
        f"{'upd/blk':>7} | {'gate: CV':>8} {'mean s':>6} {'upd/blk':>7} | {'PoW CV':>6}"
    )
    for w0 in (300.0, 3000.0):
        for noise in noises:
            row = []
            for rule in ("gain", "gate"):
                cfg = BlockRateConfig(blocks=args.blocks, rule=rule, w0_updates=w0, noise_bp=noise)
                r = run_block_rate(cfg, people)
                row.append(
                    f"{r.cv:8.2f} {r.mean_interval_ms / 1000:6.0f} {r.updates_per_block:7.1f}"
                )
            print(f"{w0:12.0f} {noise:8.0f} | {row[0]} | {row[1]} | {r.pow_cv:6.2f}")
    print(f"({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
