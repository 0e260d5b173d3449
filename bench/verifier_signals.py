"""What the verifier's direction checks see on honest heart updates (the numbers in 0007-bafl.md).

Plain synchronous FedAvg over the four UCI hospitals with DP-SGD (the simulator's settings), no
ledger: for each round and hospital it prints the cosine of the update with the trajectory
θ(round) − θ(0), its cosine with the mean of the other hospitals' unit deltas, the norm ratio to
the median, and the mirror test AUROC(θ+Δ) − AUROC(θ−Δ) in bp on each other hospital's held-out
rows. A sign-flipped update has the opposite of each of these.

    .venv/bin/python bench/verifier_signals.py [--rounds 8]
"""

from __future__ import annotations

import argparse
import math
import tempfile
from collections import OrderedDict

import numpy as np

from consortium.datasets.heart import heart_cohort_table
from consortium.federation.checks import cosine, flatten
from consortium.learning.evaluate import evaluate
from consortium.learning.models import ModelSpec, build_model, delta, load_arrays, state_arrays
from consortium.learning.train import train_local
from consortium.node.open import cohort_from_table
from consortium.privacy.accountant import AccountantStore, noise_for_budget

SITES = ("cleveland", "hungary", "switzerland", "va")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--epsilon", type=float, default=4.0)
    parser.add_argument("--lr", type=float, default=0.1)
    args = parser.parse_args()
    cohorts = {s: cohort_from_table(heart_cohort_table(s), "heart", 2000) for s in SITES}
    spec = ModelSpec(in_features=cohorts["va"].X_train.shape[1], hidden=(16,))

    def auroc(arrays: OrderedDict[str, np.ndarray], site: str) -> float:
        model = build_model(spec, seed=0)
        load_arrays(model, OrderedDict((k, v.astype(np.float32)) for k, v in arrays.items()))
        return evaluate(model, cohorts[site].X_test, cohorts[site].y_test).auroc or 0.5

    theta0 = theta = state_arrays(build_model(spec, seed=0))
    rng = np.random.default_rng(0)
    for rnd in range(args.rounds):
        deltas = {}
        for s in SITES:
            steps = math.ceil(len(cohorts[s].y_train) / 32)
            sigma = noise_for_budget(args.epsilon, 1e-5, 1 / steps, 2 * steps, args.rounds, "rdp")
            store = AccountantStore(tempfile.mkdtemp(), member_id=s, task_id="t",
                                    accountant="rdp", epsilon_budget=1e9, delta=1e-5)  # fmt: skip
            r = train_local(model=theta, spec=spec, X=cohorts[s].X_train, y=cohorts[s].y_train,
                            epochs=2, lr=args.lr, batch_size=32, noise_multiplier=sigma,
                            accountant_store=store, seed=int(rng.integers(1 << 62)))  # fmt: skip
            deltas[s] = delta(r.state, theta)
        traj = flatten(theta) - flatten(theta0)
        norms = {s: float(np.linalg.norm(flatten(d))) for s, d in deltas.items()}
        med = float(np.median(list(norms.values())))
        for s in SITES:
            d = flatten(deltas[s])
            others = sum(flatten(deltas[o]) / norms[o] for o in SITES if o != s)
            plus = OrderedDict((k, theta[k] + deltas[s][k]) for k in theta)
            minus = OrderedDict((k, theta[k] - deltas[s][k]) for k in theta)
            mirror = " ".join(
                f"{v[:3]}:{(auroc(plus, v) - auroc(minus, v)) * 1e4:+6.0f}" for v in SITES if v != s
            )
            print(f"round {rnd} {s:11s} cos_traj {cosine(d, traj):+.2f} "
                  f"cos_others {cosine(d, others):+.2f} norm/median {norms[s] / med:.2f}  "
                  f"mirror(bp) {mirror}")  # fmt: skip
        n = {s: len(cohorts[s].y_train) for s in SITES}
        total = sum(n.values())
        theta = OrderedDict(
            (k, theta[k] + sum(deltas[s][k] * n[s] for s in SITES) / total) for k in theta
        )


if __name__ == "__main__":
    main()
