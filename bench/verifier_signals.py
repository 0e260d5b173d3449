"""What the verifier's direction checks see on honest heart updates (the numbers in 0007-bafl.md).

Plain synchronous FedAvg over the four UCI hospitals with DP-SGD (the simulator's settings), no
ledger: for each round and hospital it prints the cosine of the update with the trajectory
θ(round) − θ(0), its cosine with the mean of the other hospitals' unit deltas, the norm ratio to
the median, and the mirror test AUROC(θ+Δ) − AUROC(θ−Δ) in bp on each other hospital's held-out
rows, and the symmetric held-out loss test L(θ+Δ) − L(θ−Δ) (mean log loss, bp of a nat) on each
other hospital's held-out rows (negative: Δ descends there). A sign-flipped update has the
opposite of each of these.

    .venv/bin/python bench/verifier_signals.py [--rounds 8] [--seed 0]

With ``--sim``, real in-process runs instead (embedded ledger, CKKS, DP-SGD, SML, the real
verifiers; the settings of tests/simulate/test_attacks.py): for each seed and attack it prints
every update's verdicts with the verifiers' direction scores, then the false-rejection rate of
honest updates (per update and per endorsement) and the rejection rate of the attacker's updates:

    .venv/bin/python bench/verifier_signals.py --sim --seeds 1 2 3 --attack sign_flip scale10
"""

from __future__ import annotations

import argparse
import math
import tempfile
from collections import OrderedDict

import numpy as np
import torch

from consortium.datasets.heart import heart_cohort_table
from consortium.federation.checks import cosine, flatten
from consortium.federation.losses import log_loss
from consortium.learning.evaluate import evaluate
from consortium.learning.models import ModelSpec, build_model, delta, load_arrays, state_arrays
from consortium.learning.train import train_local
from consortium.node.open import cohort_from_table
from consortium.privacy.accountant import AccountantStore, noise_for_budget

SITES = ("cleveland", "hungary", "switzerland", "va")


ATTACKER = "hungary"
Tally = dict[str, list[int]]  # name -> [rejected, total]


def _sim_run(seed: int, attack: str, tally: Tally) -> None:
    """One in-process simulation; adds its honest/attacker rejections to ``tally``."""
    from consortium.node.open import open_session
    from consortium.simulate.config import SimConfig
    from consortium.simulate.runner import run_simulation

    attacks = {} if attack == "none" else {ATTACKER: attack}
    cfg = SimConfig(attacks=attacks, in_process=True, update_seconds=0.0, flush_seconds=1.0,  # type: ignore[arg-type]
                    planned_updates=3, max_seconds=150, train_seed=seed,
                    workdir=tempfile.mkdtemp(prefix="vsig-"))  # fmt: skip
    report = run_simulation(cfg)
    s = open_session(report.workdir, "admin")
    for view in s.q("ListUpdates", task_id="heart"):
        u = view["update"]
        bad = u["member_id"] in attacks
        key = "attacker" if bad else "honest"
        ends = view["endorsements"]
        tally.setdefault(f"{key} updates", [0, 0])
        tally[f"{key} updates"][0] += view["status"] == "rejected"
        tally[f"{key} updates"][1] += 1
        tally.setdefault(f"{key} endorsements", [0, 0])
        tally[f"{key} endorsements"][0] += sum(e["verdict"] == "reject" for e in ends)
        tally[f"{key} endorsements"][1] += len(ends)
        marks = " ".join(
            f"{e['member_id'][:3]}:{e['reason']}/traj {e['scores'].get('cosine_bp', '-')}"
            f"/others {e['scores'].get('cosine_others_bp', '-')}"
            f"/loss± {e['scores'].get('loss_sym_bp', '-')}"
            for e in ends
        )
        print(f"seed {seed} {attack:9s} {u['member_id']:11s} v{u['base_version']} "
              f"{view['status']:9s} {marks}")  # fmt: skip


def _sim(seeds: list[int], attacks: list[str]) -> None:
    tally: Tally = {}
    for seed in seeds:
        for attack in attacks:
            _sim_run(seed, attack, tally)
    for name, (rejected, total) in sorted(tally.items()):
        print(f"{name}: {rejected} of {total} rejected")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--epsilon", type=float, default=4.0)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sim", action="store_true", help="real in-process runs instead")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--attack", nargs="+", default=["sign_flip", "scale10"])
    args = parser.parse_args()
    if args.sim:
        _sim(args.seeds, args.attack)
        return
    cohorts = {s: cohort_from_table(heart_cohort_table(s), "heart", 2000) for s in SITES}
    spec = ModelSpec(in_features=cohorts["va"].X_train.shape[1], hidden=(16,))

    def model_of(arrays: OrderedDict[str, np.ndarray]) -> torch.nn.Module:
        model = build_model(spec, seed=0)
        load_arrays(model, OrderedDict((k, v.astype(np.float32)) for k, v in arrays.items()))
        return model

    def auroc(arrays: OrderedDict[str, np.ndarray], site: str) -> float:
        return evaluate(model_of(arrays), cohorts[site].X_test, cohorts[site].y_test).auroc or 0.5

    def loss(arrays: OrderedDict[str, np.ndarray], site: str) -> float:
        return log_loss(model_of(arrays), cohorts[site].X_test, cohorts[site].y_test)

    theta0 = theta = state_arrays(build_model(spec, seed=0))
    rng = np.random.default_rng(args.seed)
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
            others = np.sum([flatten(deltas[o]) / norms[o] for o in SITES if o != s], axis=0)
            mean_others = np.mean([flatten(deltas[o]) for o in SITES if o != s], axis=0)
            plus = OrderedDict((k, theta[k] + deltas[s][k]) for k in theta)
            minus = OrderedDict((k, theta[k] - deltas[s][k]) for k in theta)
            mirror = " ".join(
                f"{v[:3]}:{(auroc(plus, v) - auroc(minus, v)) * 1e4:+6.0f}" for v in SITES if v != s
            )
            sym = " ".join(
                f"{v[:3]}:{(loss(plus, v) - loss(minus, v)) * 1e4:+5.0f}" for v in SITES if v != s
            )
            print(f"round {rnd} {s:11s} cos_traj {cosine(d, traj):+.2f} "
                  f"cos_others {cosine(d, others):+.2f} cos_mean {cosine(d, mean_others):+.2f} "
                  f"norm/median {norms[s] / med:.2f}  mirror(bp) {mirror}  "
                  f"loss+-(bp) {sym}")  # fmt: skip
        n = {s: len(cohorts[s].y_train) for s in SITES}
        total = sum(n.values())
        theta = OrderedDict(
            (k, theta[k] + sum(deltas[s][k] * n[s] for s in SITES) / total) for k in theta
        )


if __name__ == "__main__":
    main()
