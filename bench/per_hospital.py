"""Per hospital: local-only DP against the federated model and personalized federated models,
over repeated stratified K-fold splits, one process.

    .venv/bin/python bench/per_hospital.py [--repeats 3] [--first-seed 0] [--folds 5]
                                           [--eps-fed 2.0] [--ft-epochs 10] [--ft-lr 0.05]
    .venv/bin/python bench/per_hospital.py --demo [--personalize --eps-fed 2.0] [--repeats 5]
                                           [--verifier KEY=VALUE ...]
    .venv/bin/python bench/per_hospital.py --cross-fit [--repeats 3] [--first-seed 0]

For each repeat (seed) every hospital's rows are split into ``--folds`` stratified folds; fold k
of every hospital is held out at once, and everything below is trained on the other folds. Each
hospital's AUROC is computed on its out-of-fold probabilities, so it stands on **all** of the
hospital's rows (printed with its negatives), not on one 20 % split. Models, every one at a
hospital total of ε ≤ 3 (δ = 1e-5) except the centralized reference:

- ``local``: the hospital alone, DP-SGD at ε = 3 (`consortium train`'s recipe as the demo runs it:
  20 epochs, lr 0.05, batch 32, PRV accountant);
- ``fed``: the federated model at ε = 3 per hospital. **Stand-in**: a one-process synchronous DP
  FedAvg (6 rounds; each hospital 2 epochs from the global model, lr 0.1, batch 32, noise paced
  so the 6 updates fit ε, RDP accountant, as the task's nodes; the n-weighted mean of the deltas
  added to the global model), not the asynchronous BAFL run with HE, SML and verifiers of the demo;
- ``fed_f``: the same federation paced at ``--eps-fed`` < 3;
- ``ft_all`` / ``ft_head``: ``fed_f`` fine-tuned by each hospital on its own training rows with
  DP-SGD (`consortium.learning.personalize.fine_tune`, every weight / the read-out only) in the
  same accountant as its federated updates, the noise set so the composed total is ≤ 3;
- ``central``: non-private training on the pooled training rows of all hospitals (reference).

``--demo`` runs the real demo instead (`consortium.demo.run_demo`, nodes stepped in this process:
asynchronous BAFL, CKKS, SML, verifier committees, PoLe) once per seed; the seed changes the
demo's pseudonym keys and so each hospital's 20 % held-out rows (57/57/21/38 rows with 30/37/1/9
negatives). Beside it, ``sync``: the stand-in federation above on the same split (the demo's
training rows, its held-out rows), to tell what the split allows from what the asynchronous run
does. With ``--personalize`` the demo federates at ``--eps-fed`` and each hospital then
fine-tunes the pulled model (``ft_head``, ``ft_all``) with an accountant that starts from the
history its node recorded, up to a total of ε = 3; ``local`` is retrained at ε = 3. ``--verifier
KEY=VALUE`` sets the hospitals' verifier thresholds (node.toml's ``[verifier]``), e.g.
``min_cosine=-1 plateau_z=1e6 mirror_margin_bp=10000 mirror_margin_first_bp=10000`` turns
the direction checks off (decisions/0010, "The verifiers' rejections, and the stand-in"). A key
that is no threshold or a value outside its range is refused in one line before anything runs,
as ``--verifier`` without ``--demo`` (or with ``--cross-fit``), where it would change nothing,
and an ``--eps-fed`` outside the demo's range for its ε (`consortium.demo.DemoConfig`).

``--cross-fit`` runs ``make demo``'s cross-fitted evaluation (`consortium.demo.run_cross_fit`) once
per seed: the real demo (in-process nodes) on each of the five held-out fifths of every hospital,
each row scored by the run that held it out, so every AUROC stands on all of a hospital's rows
(286/285/107/191 rows with 151/183/7/46 negatives), for the demo's own models: ``fed`` the BAFL
run, ``local`` and ``central`` the demo's baselines. The seed changes the pseudonym keys, hence
which rows fall in which fifth.

Hyperparameters are fixed in advance (the flags' defaults); nothing is chosen on held-out rows.
Wins: the number of hospitals (of 4) where a model's out-of-fold AUROC beats ``local``'s, per
seed. Switzerland has 8 negatives in all: its AUROC stands on them and stays noisy.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from consortium.bounds import Bounds
from consortium.datasets.heart import SITES, heart_cohort_table
from consortium.federation.checks import Thresholds, thresholds_from_pairs
from consortium.federation.pacing import plan_pacing
from consortium.learning.compare import beats
from consortium.learning.data import design_matrix, load_definition
from consortium.learning.evaluate import predict_proba
from consortium.learning.models import ModelSpec, add_delta, build_model, delta, load_arrays
from consortium.learning.personalize import fine_tune
from consortium.learning.train import train_local
from consortium.privacy import accountant
from consortium.privacy.accountant import AccountantStore, noise_for_budget

if TYPE_CHECKING:
    from consortium.demo import ModelScore, SiteRow
    from consortium.federation.session import Cohort

warnings.filterwarnings("ignore", category=UserWarning)

_epsilon_of = accountant.epsilon_of


@lru_cache(maxsize=4096)
def _cached_epsilon(history: tuple[tuple[float, float, int], ...], delta: float, acc: str) -> float:
    return _epsilon_of(history, delta=delta, accountant=acc)  # type: ignore[arg-type]


def _epsilon_memo(history: accountant.History, *, delta: float, accountant: str) -> float:
    """ε of a history, memoized: the folds repeat the same histories (a pure function of them)."""
    key = tuple((float(s), float(q), int(n)) for s, q, n in history)
    return _cached_epsilon(key, delta, accountant)


accountant.epsilon_of = _epsilon_memo

Arrays = OrderedDict[str, np.ndarray]
EPSILON, DELTA = 3.0, 1e-5
SPEC = ModelSpec(in_features=1, hidden=(16,))  # in_features set from the data
TRAINED = ("local", "fed", "fed_f", "ft_all", "ft_head", "local_r", "central")
MODELS = (*TRAINED, "ens")


@dataclass(frozen=True)
class Site:
    X: np.ndarray
    y: np.ndarray


@dataclass(frozen=True)
class Args:
    eps_fed: float
    ft_epochs: int
    ft_lr: float
    rounds: int


def _seed(*parts: object) -> int:
    text = "|".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


def _store(root: Path, member: str, task: str, accountant: str) -> AccountantStore:
    return AccountantStore(
        root, member_id=member, task_id=task, accountant=accountant,  # type: ignore[arg-type]
        epsilon_budget=EPSILON, delta=DELTA,
    )  # fmt: skip


@lru_cache(maxsize=64)
def _local_noise(steps_per_epoch: int, epochs: int) -> float:
    return noise_for_budget(
        EPSILON, DELTA, 1.0 / steps_per_epoch, steps_per_epoch * epochs, 1, "prv"
    )


@lru_cache(maxsize=64)
def _paced_noise(n: int, eps: float, rounds: int) -> float:
    plan = plan_pacing(epsilon_budget=eps, delta=DELTA, accountant="rdp", n_train=n,
                       batch_size=32, epochs=2, planned_updates=rounds)  # fmt: skip
    return plan.noise_multiplier


def _local(spec: ModelSpec, s: Site, root: Path, seed: int) -> Arrays:
    per_epoch = -(-len(s.X) // 32)
    r = train_local(
        model=build_model(spec, seed=seed), X=s.X, y=s.y, epochs=20, lr=0.05, batch_size=32,
        noise_multiplier=_local_noise(per_epoch, 20),
        accountant_store=_store(root, "l", "t", "prv"), seed=seed,
    )  # fmt: skip
    return r.state


def _federate(
    spec: ModelSpec, sites: dict[str, Site], stores: dict[str, AccountantStore], eps: float,
    a: Args, seed: int,
) -> Arrays:  # fmt: skip
    """Synchronous DP FedAvg: every hospital trains from the global model each round."""
    glob = OrderedDict(build_model(spec, seed=seed).state_dict())
    g: Arrays = OrderedDict((k, v.numpy().copy()) for k, v in glob.items())
    total = sum(len(s.X) for s in sites.values())
    for rnd in range(a.rounds):
        step: Arrays | None = None
        for name, s in sites.items():
            r = train_local(
                model=g, spec=spec, X=s.X, y=s.y, epochs=2, lr=0.1, batch_size=32,
                noise_multiplier=_paced_noise(len(s.X), eps, a.rounds),
                accountant_store=stores[name], seed=_seed(seed, name, rnd),
            )  # fmt: skip
            d = delta(r.state, g)
            w = len(s.X) / total
            step = (
                OrderedDict((k, w * v) for k, v in d.items())
                if step is None
                else add_delta(step, d, w)
            )
        assert step is not None
        g = add_delta(g, step)
    return g


def _central(spec: ModelSpec, sites: dict[str, Site], seed: int) -> Arrays:
    X = np.concatenate([s.X for s in sites.values()])
    y = np.concatenate([s.y for s in sites.values()])
    r = train_local(model=build_model(spec, seed=seed), X=X, y=y, epochs=10, lr=0.05,
                    batch_size=32, dp=False, seed=seed)  # fmt: skip
    return r.state


def counted_auroc(m: ModelScore) -> float:
    """The AUROC a win is counted on: 0.5 only when it is undefined (one class in the rows).

    Not ``m.auroc or 0.5``: with Switzerland's one held-out negative an AUROC of 0.0 (every
    positive scored below that patient) is a real result, and as 0.5 it would beat a local model
    that ranked some pairs right.
    """
    return 0.5 if m.auroc is None else float(m.auroc)


def _proba(spec: ModelSpec, arrays: Arrays, X: np.ndarray) -> np.ndarray:
    model = build_model(spec, seed=0)
    load_arrays(model, arrays)
    return predict_proba(model, X)


def _fold(
    spec: ModelSpec, train: dict[str, Site], a: Args, seed: int, root: Path
) -> dict[str, dict[str, Arrays]]:
    """site -> model name -> weights, for one fold."""
    fed_stores = {n: _store(root / "fed", n, "t", "rdp") for n in train}
    ff_stores = {n: _store(root / "ff", n, "t", "rdp") for n in train}
    fed = _federate(spec, train, fed_stores, EPSILON, a, seed)
    fed_f = _federate(spec, train, ff_stores, a.eps_fed, a, seed)
    central = _central(spec, train, seed)
    out: dict[str, dict[str, Arrays]] = {}
    for n, s in train.items():
        models = {"local": _local(spec, s, root / "local" / n, _seed(seed, n, "local"))}
        models |= {"fed": fed, "fed_f": fed_f, "central": central}
        fresh: Arrays = OrderedDict(
            (k, v.numpy().copy()) for k, v in build_model(spec, seed=seed).state_dict().items()
        )
        runs = (
            ("ft_all", fed_f, False, a.ft_epochs, a.ft_lr),
            ("ft_head", fed_f, True, a.ft_epochs, a.ft_lr),
            ("local_r", fresh, False, 20, 0.05),
        )
        for key, base, head, epochs, lr in runs:
            store = _store(root / key, n, "t", "rdp")
            for entry in ff_stores[n].history():  # the same history as the federated updates
                store.reserve(noise_multiplier=entry[0], sample_rate=entry[1], steps=entry[2])
            ft = fine_tune(
                base=base, spec=spec, X=s.X, y=s.y, store=store, epochs=epochs, lr=lr,
                batch_size=32, head_only=head, seed=_seed(seed, n, key),
            )  # fmt: skip
            assert ft.epsilon_total <= EPSILON
            models[key] = ft.state
        out[n] = models
    return out


def _repeat(
    spec: ModelSpec, sites: dict[str, Site], a: Args, seed: int, k: int
) -> dict[str, dict[str, float]]:
    """site -> model -> out-of-fold AUROC for one seed."""
    folds = {n: list(StratifiedKFold(k, shuffle=True, random_state=seed).split(s.X, s.y))
             for n, s in sites.items()}  # fmt: skip
    oof = {n: {m: np.zeros(len(s.y)) for m in MODELS} for n, s in sites.items()}
    for f in range(k):
        train = {n: Site(s.X[folds[n][f][0]], s.y[folds[n][f][0]]) for n, s in sites.items()}
        with tempfile.TemporaryDirectory() as tmp:
            models = _fold(spec, train, a, _seed(seed, f), Path(tmp))
        for n, s in sites.items():
            test = folds[n][f][1]
            for m in TRAINED:
                oof[n][m][test] = _proba(spec, models[n][m], s.X[test])
            oof[n]["ens"][test] = (oof[n]["fed_f"][test] + oof[n]["local_r"][test]) / 2
    return {n: {m: float(roc_auc_score(sites[n].y, oof[n][m])) for m in MODELS} for n in sites}


Results = dict[str, dict[str, float]]  # site -> model -> AUROC


def _print_seed(seed: int, res: Results, models: tuple[str, ...]) -> None:
    for n in res:
        print(f"{seed:>4} {n:<12} " + " ".join(f"{res[n][m]:8.3f}" for m in models), flush=True)
    wins = [sum(beats(res[n][m], res[n]["local"]) for n in res) for m in models]
    print(f"{seed:>4} {'wins of 4':<12} " + " ".join(f"{w:8d}" for w in wins), flush=True)


def _summary(runs: list[Results], models: tuple[str, ...], against: tuple[str, ...]) -> None:
    """Mean difference to ``local`` per site, and per seed the wins against each of ``against``."""
    sites = list(runs[0])
    print("\nmean AUROC difference to local (model - local), over seeds")
    print(f"{'site':<12} " + " ".join(f"{m:>8}" for m in models))
    for n in sites:
        means = [np.mean([r[n][m] - r[n]["local"] for r in runs]) for m in models]
        print(f"{n:<12} " + " ".join(f"{d:+8.3f}" for d in means))
    for base in against:
        cells = [
            "/".join(str(sum(beats(r[n][m], r[n][base]) for n in sites)) for r in runs)
            for m in models
        ]
        print(f"{'wins vs ' + base:<12} " + " ".join(f"{c:>8}" for c in cells))


def _folds_mode(args: argparse.Namespace) -> None:
    a = Args(args.eps_fed, args.ft_epochs, args.ft_lr, args.rounds)
    definition = load_definition("heart")
    sites = {}
    for name in SITES:
        dm = design_matrix(heart_cohort_table(name), definition)
        sites[name] = Site(dm.X, dm.y)
    spec = ModelSpec(in_features=next(iter(sites.values())).X.shape[1], hidden=SPEC.hidden)
    print(f"eps_fed={a.eps_fed} fine-tune {a.ft_epochs} epochs lr {a.ft_lr}; {args.folds}-fold, "
          f"AUROC out of fold on all rows")  # fmt: skip
    for n, s in sites.items():
        print(
            f"  {n:<12} {len(s.y)} rows, {int(s.y.sum())} positive, "
            f"{int(len(s.y) - s.y.sum())} negative"
        )
    print(f"{'seed':>4} {'site':<12} " + " ".join(f"{m:>8}" for m in MODELS))
    runs = []
    for seed in range(args.first_seed, args.first_seed + args.repeats):
        runs.append(_repeat(spec, sites, a, seed, args.folds))
        _print_seed(seed, runs[-1], MODELS)
    _summary(runs, MODELS, ("local", "fed"))


def _demo_split(out: Path) -> tuple[dict[str, Any], dict[str, Cohort]]:
    """A demo run's ingested cohort tables and each hospital's split of them (the demo's
    held-out rows): (site -> table, site -> cohort)."""
    import pandas as pd

    from consortium.node.open import cohort_from_table

    tables = {p.name: pd.read_parquet(p / "cohort.parquet") for p in (out / "ingest").iterdir()}
    return tables, {site: cohort_from_table(t, "heart", 2000) for site, t in tables.items()}


def _personalized(
    cfg: object, out: Path, a: Args, seed: int
) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """After a demo federated at ε_f: site -> {local at ε=3, ft_head, ft_all} held-out AUROC, and
    site -> composed ε after the head fine-tune. The fine-tune's accountant starts from the
    hospital's federated history as its node recorded it."""
    from consortium.demo import baselines, score
    from consortium.learning.serialize import from_safetensors
    from consortium.simulate.config import SimConfig

    tables, cohorts = _demo_split(out)
    cfg3 = cfg.model_copy(update={"epsilon": str(EPSILON), "out": out / "eps3"})  # type: ignore[attr-defined]
    local, _, _ = baselines(cfg3, tables)
    final = from_safetensors((out / "model.safetensors").read_bytes())[0]
    width = next(iter(cohorts.values())).X_train.shape[1]
    spec = ModelSpec(in_features=width, hidden=SimConfig().hidden)  # the demo task's model
    res: dict[str, dict[str, float]] = {}
    eps: dict[str, float] = {}
    for site, c in cohorts.items():
        federated = AccountantStore.open(
            next((out / "consortium" / "members" / site).glob(f"**/privacy/*/{site}.json"))
        )
        res[site] = {"local": counted_auroc(score(local[site], spec, c.X_test, c.y_test))}
        for key, head in (("ft_head", True), ("ft_all", False)):
            store = _store(out / key, site, "t", "rdp")
            for entry in federated.history():
                store.reserve(noise_multiplier=entry[0], sample_rate=entry[1], steps=entry[2])
            ft = fine_tune(
                base=final, spec=spec, X=c.X_train, y=c.y_train, store=store, epochs=a.ft_epochs,
                lr=a.ft_lr, batch_size=32, head_only=head, seed=_seed(seed, site, key),
            )  # fmt: skip
            res[site][key] = counted_auroc(score(ft.state, spec, c.X_test, c.y_test))
            eps[site] = ft.epsilon_total
    return res, eps


def _sync_on_split(out: Path, a: Args, seed: int) -> dict[str, float]:
    """The stand-in federation (`_federate`: synchronous DP FedAvg in one process, ε = 3) on the
    demo's own training rows, scored on its held-out rows: site -> AUROC."""
    from consortium.demo import score

    cohorts = _demo_split(out)[1]
    spec = ModelSpec(in_features=next(iter(cohorts.values())).X_train.shape[1], hidden=SPEC.hidden)
    train = {site: Site(c.X_train, c.y_train) for site, c in cohorts.items()}
    stores = {site: _store(out / "sync", site, "t", "rdp") for site in train}
    fed = _federate(spec, train, stores, EPSILON, a, seed)
    return {
        site: counted_auroc(score(fed, spec, c.X_test, c.y_test)) for site, c in cohorts.items()
    }


def _print_demo_rows(
    seed: int,
    sites: list[SiteRow],
    models: tuple[str, ...],
    more: dict[str, dict[str, float]] | None = None,
) -> Results:
    """A demo report's rows (per site: rows, negatives, each model's AUROC; ``more``: AUROCs of
    models the demo does not train) and the wins against ``local``; returns the AUROCs."""
    res: Results = {}
    for r in sites:
        scores = {"local": r.local_dp, "fed": r.federated, "central": r.central}
        res[r.site] = {m: counted_auroc(v) for m, v in scores.items()} | (more or {}).get(
            r.site, {}
        )
        neg = r.federated.n - r.federated.positives
        cells = " ".join(f"{res[r.site][m]:8.3f}" for m in models)
        print(f"{seed:>4} {r.site:<12} {r.federated.n:5d} {neg:4d} {cells}", flush=True)
    wins = [sum(beats(res[n][m], res[n]["local"]) for n in res) for m in models]
    print(f"{seed:>4} {'wins of 4':<12} {'':>10} " + " ".join(f"{w:8d}" for w in wins))
    return res


def _demo_mode(args: argparse.Namespace, verifier: Thresholds) -> None:
    """The real demo (in-process nodes: BAFL, HE, SML, verifiers, PoLe) once per seed; the seed
    changes the demo's pseudonym keys, hence each hospital's 20 % held-out rows. With
    ``--personalize`` the demo federates at ``--eps-fed`` and each hospital then fine-tunes the
    final model up to a total of ε = 3; ``local`` is then retrained at ε = 3."""
    from consortium.demo import DemoConfig, run_demo

    a = Args(args.eps_fed, args.ft_epochs, args.ft_lr, args.rounds)
    models: tuple[str, ...] = ("local", "fed", "central", "sync")
    if args.personalize:
        models = (*models, "ft_head", "ft_all")
    print(f"{'seed':>4} {'site':<12} {'rows':>5} {'neg':>4} " + " ".join(f"{m:>8}" for m in models))
    runs: list[Results] = []
    for seed in range(args.first_seed, args.first_seed + args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            eps = str(args.eps_fed) if args.personalize else str(EPSILON)
            cfg = DemoConfig(
                out=Path(tmp) / "demo", in_process=True, seed=seed, epsilon=eps,
                verifier=verifier,
            )  # fmt: skip
            report = run_demo(cfg, say=lambda _: None)
            extra, ft_eps = _personalized(cfg, cfg.out, a, seed) if args.personalize else ({}, {})
            sync = _sync_on_split(cfg.out, a, seed)
        more = {site: extra.get(site, {}) | {"sync": sync[site]} for site in sync}
        res = _print_demo_rows(seed, report.sites, models, more)
        gap = (report.pooled["federated"].auroc or 0) - (report.pooled["central"].auroc or 0)
        total = " ".join(f"{s} {e:.3f}" for s, e in ft_eps.items())
        print(f"{seed:>4} pooled federated - central: {gap:+.3f}; ε after fine-tune: {total}")
        runs.append(res)
    _summary(runs, models, ("local", "fed"))


def _cross_fit_mode(args: argparse.Namespace) -> None:
    """``make demo``'s cross-fitted evaluation once per seed: the demo on each held-out fifth
    (in-process nodes, two runs at a time), every AUROC on all of a hospital's rows."""
    from consortium.demo import DemoConfig, run_cross_fit, run_demo

    models = ("local", "fed", "central")
    print(f"{'seed':>4} {'site':<12} {'rows':>5} {'neg':>4} " + " ".join(f"{m:>8}" for m in models))
    runs: list[Results] = []
    gaps = []
    for seed in range(args.first_seed, args.first_seed + args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            cfg = DemoConfig(out=Path(tmp) / "demo", in_process=True, seed=seed)
            first = run_demo(cfg, say=lambda _: None)
            crossed = run_cross_fit(cfg, first, say=lambda _: None, workers=2)
        res = _print_demo_rows(seed, crossed.sites, models)
        gaps.append(
            (crossed.pooled["federated"].auroc or 0) - (crossed.pooled["central"].auroc or 0)
        )
        print(f"{seed:>4} pooled federated - central (all rows): {gaps[-1]:+.3f}", flush=True)
        runs.append(res)
    _summary(runs, models, ("local", "fed"))
    print("pooled federated - central per seed: " + ", ".join(f"{g:+.3f}" for g in gaps))


def _epsilon_range() -> Bounds:
    """The range `consortium.demo.DemoConfig` takes its epsilon in, where --eps-fed goes."""
    from consortium.demo import DemoConfig

    return next(b for b in DemoConfig.model_fields["epsilon"].metadata if isinstance(b, Bounds))


def main() -> None:
    """Per seed and hospital the AUROCs, wins against local, and a summary."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--eps-fed", type=float, default=2.0)
    p.add_argument("--ft-epochs", type=int, default=10)
    p.add_argument("--ft-lr", type=float, default=0.05)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--demo", action="store_true", help="run the real demo per seed instead")
    p.add_argument(
        "--cross-fit", action="store_true",
        help="run make demo's cross-fitted evaluation per seed (the demo on each held-out fifth)",
    )  # fmt: skip
    p.add_argument(
        "--personalize", action="store_true", help="--demo: federate at --eps-fed, then fine-tune"
    )
    p.add_argument(
        "--verifier", action="append", default=[], metavar="KEY=VALUE",
        help="--demo: the hospitals' verifier thresholds (consortium.federation.checks.Thresholds,"
        " as in node.toml's [verifier] table); repeat for several",
    )  # fmt: skip
    args = p.parse_args()
    if args.verifier and (args.cross_fit or not args.demo):  # it would change nothing
        p.error("--verifier sets the demo's verifiers: give --demo, without --cross-fit (the "
                "stand-in and the cross-fitted runs keep the default thresholds)")  # fmt: skip
    try:  # checked before any run, in one line (`thresholds_from_pairs`)
        verifier = thresholds_from_pairs(args.verifier)
    except ValueError as exc:
        p.error(f"--verifier: {exc}")
    try:  # the demo's own range for its epsilon, here before any run rather than per seed
        _epsilon_range().check("--eps-fed", args.eps_fed, p.get_default("eps_fed"))
    except ValueError as exc:
        p.error(str(exc))
    torch.set_num_threads(1)
    if args.cross_fit:
        _cross_fit_mode(args)
    elif args.demo:
        _demo_mode(args, verifier)
    else:
        _folds_mode(args)


if __name__ == "__main__":
    main()
