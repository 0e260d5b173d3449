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
every update's verdicts with the verifiers' direction scores (trajectory cosine, the descent
that sets its line, mirror, cosine with the others, symmetric loss, and ``/probation`` when the
submitter was on probation), in the order the ledger lists them, then the false-rejection rate of
honest updates (per update and per endorsement) and the rejection rate of the attacker's updates:

    .venv/bin/python bench/verifier_signals.py --sim --seeds 1 2 3 --attack sign_flip scale10

``--demo-settings`` runs the demo's task and nodes instead (`consortium.demo.sim_config`: 6
updates per hospital at ε = 3, noisier than the attack test's 3 at ε = 4); ``--verifier
KEY=VALUE`` (repeatable) sets the verifiers' thresholds, as node.toml's ``[verifier]`` table does.

``--dump FILE`` appends every endorsement (with its scores) to FILE as JSON lines, and
``--analyse FILE --check FILE...`` asks of such records whether a direction rule separates honest
updates from sign flips: rules are chosen on the first file and tried on the others. A flip's
direction scores (trajectory cosine, mirror, symmetric loss, cosine with the others) are exactly
the negatives of its honest original's, so each honest update also stands for the flip of itself
(its records negated, "negated honest"), beside the real flips of the sign_flip runs. Each
re-decided endorsement keeps the run's probation mark (a different rule would have put other
members on probation later: that path is not replayed) and the contract's seat rule for
verifiers that abstain:

    S="--sim --attack none sign_flip"
    .venv/bin/python bench/verifier_signals.py $S --seeds $(seq 1 32) --dump /tmp/fit.jsonl
    .venv/bin/python bench/verifier_signals.py $S --seeds $(seq 33 64) --dump /tmp/check.jsonl
    .venv/bin/python bench/verifier_signals.py --analyse /tmp/fit.jsonl --check /tmp/check.jsonl
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import shutil
import tempfile
from collections import Counter, OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch

from consortium.datasets.heart import heart_cohort_table
from consortium.federation.checks import (
    Thresholds,
    cosine,
    flatten,
    min_trajectory_cosine,
    thresholds_from_pairs,
)
from consortium.federation.losses import log_loss
from consortium.federation.verifier import MIN_CLASS_ROWS
from consortium.learning.evaluate import evaluate
from consortium.learning.models import ModelSpec, build_model, delta, load_arrays, state_arrays
from consortium.learning.train import train_local
from consortium.ledger.contract.committee import committee_outcome
from consortium.node.open import cohort_from_table
from consortium.privacy.accountant import AccountantStore, noise_for_budget

SITES = ("cleveland", "hungary", "switzerland", "va")


ATTACKER = "hungary"
Tally = dict[str, list[int]]  # name -> [rejected, total], or [lowest] for a record z


def _sim_run(
    seed: int, attack: str, tally: Tally, dump: TextIO | None = None, demo: bool = False,
    verifier: Thresholds | None = None,
) -> None:  # fmt: skip
    """One in-process simulation; adds its honest/attacker rejections to ``tally``.

    The attack test's settings (3 updates per hospital at ε = 4), or with ``demo`` the demo's task
    and nodes (`consortium.demo.sim_config`: 6 updates per hospital at ε = 3, PoLe's gate).
    With ``dump``, also writes one JSON line per endorsement (run, update, verifier, verdict and
    the verifier's integer scores) for offline analysis of the direction rule.
    """
    from consortium.demo import DemoConfig, sim_config
    from consortium.node.open import open_session
    from consortium.simulate.config import SimConfig
    from consortium.simulate.runner import run_simulation

    attacks = {} if attack == "none" else {ATTACKER: attack}
    workdir = tempfile.mkdtemp(prefix="vsig-")
    if demo:
        cfg = sim_config(DemoConfig(in_process=True, seed=seed)).model_copy(
            update={"attacks": attacks, "train_seed": seed, "workdir": workdir}
        )
    else:
        cfg = SimConfig(attacks=attacks, in_process=True, update_seconds=0.0,  # type: ignore[arg-type]
                        flush_seconds=1.0, planned_updates=3, max_seconds=150, train_seed=seed,
                        workdir=workdir)  # fmt: skip
    if verifier is not None:
        cfg = cfg.model_copy(update={"verifier": verifier})
    report = run_simulation(cfg)
    s = open_session(report.workdir, "admin")
    for view in s.q("ListUpdates", task_id="heart"):
        u = view["update"]
        bad = u["member_id"] in attacks
        key = "attacker" if bad else "honest"
        # the scores measured on held-out rows stay with each verifier (`verifier.published`):
        # the bench, which runs every member, reads the whole verdicts from their states
        ends = [{**e, "scores": _local_scores(report.workdir, e, u["update_id"])}
                for e in view["endorsements"]]  # fmt: skip
        tally.setdefault(f"{key} updates", [0, 0])
        tally[f"{key} updates"][0] += view["status"] == "rejected"
        tally[f"{key} updates"][1] += 1
        records = [e["scores"]["record_z_bp"] for e in ends if "record_z_bp" in e["scores"]]
        if records:  # the member's record before this update (`Thresholds.record_z`)
            lowest = tally.setdefault(f"{key} lowest record z (bp)", [min(records)])
            lowest[0] = min(lowest[0], *records)
        tally.setdefault(f"{key} endorsements", [0, 0])
        tally[f"{key} endorsements"][0] += sum(e["verdict"] == "reject" for e in ends)
        tally[f"{key} endorsements"][1] += len(ends)
        if dump is not None:
            for e in ends:
                rec = {"seed": seed, "attack": attack, "member": u["member_id"],
                       "attacker": bad, "base_version": u["base_version"],
                       "committee": len(u["committee"]), "quorum": u["quorum"],
                       "update_id": u["update_id"], "status": view["status"],
                       "verifier": e["member_id"], "verdict": e["verdict"],
                       "reason": e["reason"], "scores": e["scores"]}  # fmt: skip
                dump.write(json.dumps(rec, sort_keys=True) + "\n")
            dump.flush()
        marks = " ".join(
            f"{e['member_id'][:3]}:{e['reason']}/traj {e['scores'].get('cosine_bp', '-')}"
            f"/descent {e['scores'].get('descent_bp', '-')}"
            f"/mirror {e['scores'].get('mirror_bp', '-')}"
            f"/others {e['scores'].get('cosine_others_bp', '-')}"
            f"/loss± {e['scores'].get('loss_sym_bp', '-')}"
            + ("/probation" if e["scores"].get("probation") else "")
            + (f"/record {e['scores']['record_z_bp']}" if "record_z_bp" in e["scores"] else "")
            for e in ends
        )
        print(f"seed {seed} {attack:9s} {u['member_id']:11s} v{u['base_version']} "
              f"{view['status']:9s} {marks}")  # fmt: skip
    s.ledger.close()
    shutil.rmtree(workdir, ignore_errors=True)  # the run's consortium (MBs each; runs go by 100s)


def _local_scores(workdir: str, endorsement: dict[str, Any], update_id: str) -> dict[str, int]:
    """A verifier's whole scores for an update (its state), or what the ledger shows."""
    path = (Path(workdir) / "members" / endorsement["member_id"] / "state" / "tasks" / "heart"
            / "verdicts" / f"{update_id}.json")  # fmt: skip
    if not path.is_file():
        return dict(endorsement["scores"])
    return dict(json.loads(path.read_text())["scores"])


def _sim(
    seeds: list[int], attacks: list[str], dump_path: str | None = None, demo: bool = False,
    verifier: Thresholds | None = None,
) -> None:  # fmt: skip
    tally: Tally = {}
    with open(dump_path, "a") if dump_path else contextlib.nullcontext() as dump:
        for seed in seeds:
            for attack in attacks:
                _sim_run(seed, attack, tally, dump, demo, verifier)
    for name, counts in sorted(tally.items()):
        if len(counts) == 1:
            print(f"{name}: {counts[0]}")
        else:
            print(f"{name}: {counts[0]} of {counts[1]} rejected")


Record = dict[str, Any]


def _stage(scores: dict[str, int], dim: int) -> str:
    """v0 (no trajectory), v1 (no global step before), descending or plateau (`checks`)."""
    if "cosine_bp" not in scores:
        return "v0"
    if "descent_bp" not in scores:
        return "v1"
    descending = scores["descent_bp"] / 10_000 > Thresholds().descending_z / math.sqrt(dim)
    return "descending" if descending else "plateau"


def _today(rec: Record, dim: int, th: Thresholds | None = None) -> bool:
    """The direction checks of `checks._direction` (trajectory cosine, mirror), from the scores."""
    s, th = rec["scores"], th or Thresholds()
    if "cosine_bp" in s:
        descent = s["descent_bp"] / 10_000 if "descent_bp" in s else None
        # probation and record as the run recorded them: its own history, not what this rule
        # would have made
        record = s["record_z_bp"] / 10_000 if "record_z_bp" in s else None
        line = min_trajectory_cosine(th, dim, descent, bool(s.get("probation")), record)
        if s["cosine_bp"] / 10_000 < line:
            return False
    margin = th.mirror_margin_bp if "cosine_bp" in s else th.mirror_margin_first_bp
    return not (rec["reliable"] and int(s.get("mirror_bp", 0)) < -margin)


Weights = tuple[float, float, float, float]  # a, b, e, t of `_combined`


def _combined(w: Weights, dim: int) -> Callable[[Record], bool]:
    """Today's checks, and from version 1 on also the combined statistic, in units of the
    cosine's noise 1/√d:  cos·√d + a·mirror_bp/1000 − b·loss_sym_bp/10⁴ + e·cos_others·√d ≥ t
    (the mirror term only where the verifier's held-out rows are reliable)."""
    a, b, e, t = w

    def accept(rec: Record) -> bool:
        s = rec["scores"]
        if not _today(rec, dim) or "cosine_bp" not in s:
            return _today(rec, dim)
        stat = (s["cosine_bp"] + e * s.get("cosine_others_bp", 0)) / 10_000 * math.sqrt(dim)
        stat += a * s["mirror_bp"] / 1000 if rec["reliable"] else 0.0
        return bool(stat - b * s["loss_sym_bp"] / 10_000 >= t)

    return accept


def _negated(rec: Record) -> Record:
    keys = ("cosine_bp", "mirror_bp", "loss_sym_bp", "cosine_others_bp")
    return {**rec, "scores": {k: -v if k in keys else v for k, v in rec["scores"].items()}}


def _quorum(recs: list[Record], accept: Callable[[Record], bool]) -> str:
    """The contract's outcome (`committee_outcome`) of the recorded endorsements re-decided by
    ``accept``: as `checks.decide`, a verifier that can run no direction check (its held-out
    rows cannot measure the metric, and there is no trajectory yet) or had no norm reference
    abstains when the checks it can run pass, and its seat leaves the committee. "split" when
    the recorded ones do not decide (the verifier who did not endorse in the run would have).
    Dumps written before the committee was recorded are committees of 3 with quorum 2
    (`SimConfig`'s)."""

    def verdict(r: Record) -> str:
        if not accept(r):
            return "reject"
        blind = not r["reliable"] and "cosine_bp" not in r["scores"]
        blind = blind or "norm_ratio_bp" not in r["scores"]  # no norm reference (checks.decide)
        return "abstain" if blind else "accept"

    verdicts = [verdict(r) for r in recs]
    outcome = committee_outcome(
        int(recs[0].get("committee", 3)), int(recs[0].get("quorum", 2)),
        accepts=verdicts.count("accept"), rejects=verdicts.count("reject"),
        abstentions=verdicts.count("abstain"),
    )  # fmt: skip
    return outcome or "split"


def _count(groups: list[list[Record]], accept: Callable[[Record], bool]) -> Counter[str]:
    c: Counter[str] = Counter()
    for recs in groups:
        kind = "flip" if recs[0]["attacker"] else "honest"
        c[kind] += 1
        c[f"{kind} {_quorum(recs, accept)}"] += 1
        if kind == "honest":
            c[f"negated {_quorum([_negated(r) for r in recs], accept)}"] += 1
    return c


def _tally(c: Counter[str]) -> str:
    return (f"honest rejected {c['honest reject']}+{c['honest split']} of {c['honest']}; "
            f"flips passed {c['flip accept']}+{c['flip split']} of {c['flip']}; "
            f"negated honest passed {c['negated accept']}+{c['negated split']}")  # fmt: skip


def _load(path: str, reliable: dict[str, bool], dim: int) -> dict[str, list[list[Record]]]:
    """An ``--dump`` file's updates (their endorsements), by stage; other attacks left out."""
    groups: dict[tuple[int, str, str], list[Record]] = {}
    with open(path) as f:
        for line in f:
            rec = json.loads(line)
            if rec["attacker"] and rec["attack"] != "sign_flip":
                continue
            rec["reliable"] = reliable[rec["verifier"]]
            groups.setdefault((rec["seed"], rec["attack"], rec["update_id"]), []).append(rec)
    by_stage: dict[str, list[list[Record]]] = {"later": []}
    for recs in groups.values():
        stage = _stage(recs[0]["scores"], dim)
        by_stage.setdefault(stage, []).append(recs)
        if stage in ("v1", "descending"):
            by_stage["later"].append(recs)
    seeds = sorted({k[0] for k in groups})
    print(f"{path}: {len(groups)} updates, seeds {seeds[0]}–{seeds[-1]} (+ split: the recorded "
          "verdicts do not decide)")  # fmt: skip
    for stage in ("v0", "v1", "descending", "plateau"):
        print(f"  today, {stage:10s}: {_tally(_count(by_stage.get(stage, []), _today_of(dim)))}")
    return by_stage


def _today_of(dim: int, th: Thresholds | None = None) -> Callable[[Record], bool]:
    return lambda rec: _today(rec, dim, th)


def _look_alikes(path: str, later: list[list[Record]]) -> None:
    """Honest updates that look flipped on the deciding signals (so their flips look honest)."""
    found = [recs for recs in later if not recs[0]["attacker"] and all(
        r["scores"]["cosine_bp"] < 0 and (not r["reliable"] or r["scores"]["mirror_bp"] < 0)
        for r in recs)]  # fmt: skip
    honest = sum(not r[0]["attacker"] for r in later)
    print(f"{path}: honest updates (v1, descending) with cosine < 0 and mirror < 0 at every "
          f"recorded verifier: {len(found)} of {honest}")  # fmt: skip
    for recs in found:
        print("    seed {seed} {member} v{base_version}: ".format(**recs[0]) + "; ".join(
            f"{r['verifier'][:3]} cos {r['scores']['cosine_bp']} mirror "
            f"{r['scores']['mirror_bp'] if r['reliable'] else '-'}" for r in recs))  # fmt: skip


def _analyse(fit: str, checks: list[str]) -> None:
    """Today's rule per stage, then the combined rules (v1 and descending) that are best on
    ``fit`` (fewest flips and negated honest passing for each count of honest rejections),
    each also on ``checks``."""
    cohorts = {s: cohort_from_table(heart_cohort_table(s), "heart", 2000) for s in SITES}
    reliable = {s: min(int(c.y_test.sum()), len(c.y_test) - int(c.y_test.sum())) >= MIN_CLASS_ROWS
                for s, c in cohorts.items()}  # fmt: skip
    spec = ModelSpec(in_features=cohorts["va"].X_train.shape[1], hidden=(16,))
    dim = sum(p.numel() for p in build_model(spec, seed=0).parameters())
    sets = [_load(path, reliable, dim)["later"] for path in [fit, *checks]]
    for path, later in zip([fit, *checks], sets, strict=True):
        _look_alikes(path, later)
    # Where the trajectory line reaches the strict −0.05: at strict_z/√d of descent (between
    # descending_z/√d and there it moves linearly from the plateau's line); 2 is a plain switch.
    print("today's rule with the strict line from strict_z/√d of descent (v1 and descending):")
    for z in (2.0, 3.0, 4.0, 5.0):
        rule = _today_of(dim, Thresholds(strict_z=z))
        print(f"  strict_z {z}: " + " | ".join(_tally(_count(s, rule)) for s in sets))
    best: dict[int, tuple[int, Weights]] = {}
    for w in itertools.product((0, 0.5, 1, 2, 4), (0, 0.25, 0.5, 1), (0, 0.25, 0.5, 1),
                               [x / 4 for x in range(-8, 3)]):  # fmt: skip
        c = _count(sets[0], _combined(w, dim))
        honest = c["honest reject"] + c["honest split"]
        passed = c["flip accept"] + c["flip split"] + c["negated accept"] + c["negated split"]
        if honest not in best or passed < best[honest][0]:
            best[honest] = (passed, w)
    print(f"d = {dim}; rules a, b, e, t of `_combined` on v1 and descending updates, best on "
          f"{fit} for each count of honest rejections:")  # fmt: skip
    fewest = None
    for honest in sorted(best):
        passed, w = best[honest]
        if fewest is None or passed < fewest:
            fewest = passed
            print(f"  {w}: " + " | ".join(_tally(_count(s, _combined(w, dim))) for s in sets))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--epsilon", type=float, default=4.0)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sim", action="store_true", help="real in-process runs instead")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--attack", nargs="+", default=["sign_flip", "scale10"])
    parser.add_argument("--dump", help="with --sim: append one JSON line per endorsement here")
    parser.add_argument(
        "--demo-settings", action="store_true",
        help="with --sim: the demo's task and nodes (6 updates at ε = 3), not the attack test's",
    )  # fmt: skip
    parser.add_argument(
        "--verifier", action="append", default=[], metavar="KEY=VALUE",
        help="with --sim: the hospitals' verifier thresholds (node.toml's [verifier]); repeatable",
    )  # fmt: skip
    parser.add_argument("--analyse", metavar="FILE", help="fit direction rules on --dump records")
    parser.add_argument("--check", nargs="*", default=[], metavar="FILE", help="and check them")
    args = parser.parse_args()
    if args.analyse:
        _analyse(args.analyse, args.check)
        return
    if args.sim:
        try:
            verifier = thresholds_from_pairs(args.verifier)
        except ValueError as exc:  # an unknown key, or a line such as nan (`Thresholds`)
            parser.error(f"--verifier: {exc}")
        _sim(args.seeds, args.attack, args.dump, args.demo_settings, verifier)
        return
    cohorts = {s: cohort_from_table(heart_cohort_table(s), "heart", 2000) for s in SITES}
    spec = ModelSpec(in_features=cohorts["va"].X_train.shape[1], hidden=(16,))

    def model_of(arrays: OrderedDict[str, np.ndarray]) -> torch.nn.Module:
        model = build_model(spec, seed=0)
        load_arrays(model, OrderedDict((k, v.astype(np.float32)) for k, v in arrays.items()))
        return model

    def auroc(arrays: OrderedDict[str, np.ndarray], site: str) -> float:
        # 0.5 only when undefined (one class): an AUROC of 0.0 is a real, maximally wrong ranking
        value = evaluate(model_of(arrays), cohorts[site].X_test, cohorts[site].y_test).auroc
        return 0.5 if value is None else float(value)

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
