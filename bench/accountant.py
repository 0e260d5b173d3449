"""What the RDP curve cache saves: ε of a paced member's history, Opacus' accountant vs ours.

A node asks its accountant for ε at every poll (budget left, progress) and a pacing search asks
dozens of times with one history; every ask used to recompute the subsampled Gaussian's RDP at
Opacus' 150 orders. `consortium.privacy.accountant.epsilon_of` caches the per-step curve of each
(σ, q) and returns Opacus' number to the last bit. Prints the seconds per ask both ways, side by
side, and their ratio (first ask: the cache is cold; then warm).

    .venv/bin/python bench/accountant.py [--asks 20]
"""

from __future__ import annotations

import argparse
import time

from opacus.accountants import RDPAccountant

from consortium.privacy.accountant import epsilon_of


def _pacing() -> None:
    from consortium.datasets.heart import heart_cohort_table
    from consortium.federation.pacing import plan_pacing
    from consortium.node.open import cohort_from_table
    from consortium.simulate.config import SimConfig
    from consortium.simulate.setup import planned_updates

    cfg = SimConfig()
    print(f"ε = {cfg.epsilon_budget}, δ = {cfg.delta}, batch {cfg.batch_size}, {cfg.epochs} epochs")
    print(f"{'site':12s} {'train rows':>10s} {'updates':>8s} {'σ RDP':>7s} {'σ PRV':>7s} "
          f"{'PRV / RDP':>10s}")  # fmt: skip
    for site in cfg.sites:
        n_train = len(cohort_from_table(heart_cohort_table(site), "heart", 2000).y_train)
        sigma = {
            name: plan_pacing(
                epsilon_budget=float(cfg.epsilon_budget), delta=float(cfg.delta),
                accountant=name, n_train=n_train, batch_size=cfg.batch_size, epochs=cfg.epochs,
                planned_updates=planned_updates(cfg, site),
            ).noise_multiplier
            for name in ("rdp", "prv")
        }  # fmt: skip
        print(f"{site:12s} {n_train:10d} {planned_updates(cfg, site):8d} {sigma['rdp']:7.3f} "
              f"{sigma['prv']:7.3f} {sigma['prv'] / sigma['rdp']:10.3f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--asks", type=int, default=20)
    parser.add_argument("--pacing", action="store_true", help="σ per site, RDP against PRV")
    args = parser.parse_args()
    if args.pacing:
        _pacing()
        return
    # a hospital of 228 training rows, batch 32, 2 epochs per update, 5 planned updates: q = 1/8,
    # 16 steps per update (the demo's shape); σ from a pacing plan
    sigma, q, steps = 1.0537, 0.125, 16
    rows = []
    for updates in range(1, args.asks + 1):
        history = [(sigma, q, steps * updates)]
        t0 = time.perf_counter()
        acc = RDPAccountant()
        acc.history = list(history)
        theirs = acc.get_epsilon(delta=1e-5)
        t1 = time.perf_counter()
        ours = epsilon_of(history, delta=1e-5, accountant="rdp")
        t2 = time.perf_counter()
        if ours != theirs:
            raise SystemExit(f"ε differs: ours {ours!r}, Opacus {theirs!r}")
        rows.append((t1 - t0, t2 - t1))
    cold_o, cold_c = rows[0]
    warm_o = sum(r[0] for r in rows[1:]) / max(1, len(rows) - 1)
    warm_c = sum(r[1] for r in rows[1:]) / max(1, len(rows) - 1)
    print(f"{'ask':6s} {'Opacus (s)':>11s} {'cached (s)':>11s} {'cached / Opacus':>16s}")
    print(f"{'first':6s} {cold_o:11.4f} {cold_c:11.4f} {cold_c / cold_o:16.3f}")
    print(f"{'later':6s} {warm_o:11.4f} {warm_c:11.4f} {warm_c / warm_o:16.4f}")
    print(f"{args.asks} asks, ε identical to Opacus' at every one")


if __name__ == "__main__":
    main()
