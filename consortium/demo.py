"""`consortium demo`: the whole consortium from nothing, on one machine, in a few minutes.

1. **FHIR**: the four UCI hospitals' records as FHIR R4 (`write_demo_fhir`, synthetic identifiers).
2. **Ingest** at each hospital: validation, HIPAA Safe Harbor, keyed pseudonyms, k-anonymity
   (`consortium.fhir.ingest.ingest`), one anonymized cohort table per hospital; each hospital's
   pseudonym key stays in its own folder. Its ingest warnings (what its table lacks) are printed,
   and kept in the demo's ``report.json`` (``DemoReport.ingest_warnings``).
3. **Init**: consortium CA and identities, the ledger's genesis, the CKKS and model keys wrapped
   for every member that may hold them (`ShareKey`), the task and its encrypted version 0
   (`consortium.simulate.setup.create_consortium`, the library form of `consortium init` and a
   task publication); each hospital's node gets its own ingested cohort.
4. **Baselines** on the same held-out rows: each hospital alone with DP-SGD at the same ε budget,
   and centralized training without privacy on the pooled training rows of all four.
5. **Federated learning**: one node process per hospital and one for the aggregator
   (`consortium node run`; ``in_process`` steps the same roles in this process instead):
   asynchronous DP training behind the Secure Mapping Layer, CKKS-encrypted updates, verifier
   committees, homomorphic aggregation, PoLe learning blocks with attestations and rewards.
6. **Provenance**: the final version is pulled as a hospital (`pull_model`) and traced
   (`trace_version`: recomputed byte for byte); then the whole ledger is verified.
7. **Report**: AUROC per hospital for the three models with the rows and positives each stands
   on, ε spent, blocks and their interval CV, rewards, plots, ``report.json``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, Field, ValidationInfo, field_validator

from consortium.bounds import AtLeast1, Bounds, Positive, within_bounds
from consortium.federation.checks import Thresholds
from consortium.learning.compare import AurocDifference
from consortium.simulate.config import DEFAULT_SITES, SimConfig
from consortium.simulate.report import rejection_reasons

__all__ = [
    "CrossFitReport",
    "DemoConfig",
    "DemoReport",
    "HeldOut",
    "IngestedSites",
    "ModelScore",
    "SiteRow",
    "cross_fitted",
    "fold_demo",
    "run_cross_fit",
    "run_demo",
]

Say = Callable[[str], None]

_SIM_LR: float = SimConfig.model_fields["lr"].default  # the nodes' lr when DemoConfig.lr is None
_NodesLr = Annotated[
    float | None, Bounds(above=0, example=_SIM_LR, why="leave it out for the simulator's")
]

_Epsilon = Annotated[str, Bounds(above=0, why="ε, each hospital's privacy budget")]
_Fifth = Annotated[
    int, Bounds(at_least=0, at_most=4, why="which fifth of each hospital is held out")
]


class DemoConfig(BaseModel):
    """What the demo runs; the defaults are what `make demo` runs.

    Its numbers are checked when it is made (`consortium.bounds`), before anything runs; the
    simulator's configuration it builds (`sim_config`) is checked again as a `SimConfig`.
    """

    out: Path = Path("demo-out")
    sites: tuple[str, ...] = DEFAULT_SITES
    epsilon: _Epsilon = "3"  # each hospital's ε, federated and alone: a decimal number, e.g. "2.5"
    sml: bool = True
    in_process: bool = False
    planned_updates: AtLeast1 = 6
    epochs: AtLeast1 = 2
    lr: _NodesLr = None  # the nodes' learning rate [the simulator's default]
    baseline_lr: Positive = 0.05  # the baselines' (`consortium train`'s default)
    local_epochs: AtLeast1 = 20
    central_epochs: AtLeast1 = 10
    max_seconds: Positive = 200.0
    seed: int = 0
    verifier: Thresholds = Field(default_factory=Thresholds)  # the hospitals' verifier policy
    holdout_fold: _Fifth = 0

    @field_validator("*")
    @classmethod
    def _within_bounds(cls, value: Any, info: ValidationInfo) -> Any:
        return within_bounds(cls, info.field_name, value)


class ModelScore(BaseModel):
    """One model's AUROC on some held-out rows, with what it stands on."""

    auroc: float | None
    n: int
    positives: int


class HeldOut(BaseModel):
    """A hospital's held-out rows: labels and each model's probabilities, row for row (so that
    the AUROCs can be recomputed from ``report.json``, and runs on other folds pooled)."""

    labels: list[int]
    federated: list[float]
    local_dp: list[float]
    central: list[float]


class SiteRow(BaseModel):
    """One hospital's line of the final table (its own held-out rows)."""

    site: str
    federated: ModelScore
    local_dp: ModelScore
    central: ModelScore
    epsilon_spent: str
    local_epsilon: str
    # federated − local-only AUROC with a 95 % paired bootstrap interval (None: fewer than the
    # verifiers' MIN_CLASS_ROWS of a class, as for Switzerland's one negative)
    fed_minus_local: AurocDifference | None = None
    held_out: HeldOut | None = None


class DemoReport(BaseModel):
    """``report.json`` of the demo."""

    config: DemoConfig
    sites: list[SiteRow]
    pooled: dict[str, ModelScore]
    versions: list[dict[str, Any]]
    blocks: int
    interval_cv: float | None
    rewards: dict[str, int]
    # per hospital, the reasons of the rejecting endorsements of its rejected updates: with a
    # committee of 3 and quorum 2 one rejected update usually carries two of them
    rejected: dict[str, dict[str, int]]
    # per hospital, how many of its updates were rejected (each counted once)
    rejected_updates: dict[str, int] = Field(default_factory=dict)
    trace_matches: bool
    model_digest: str
    download_tx_id: str
    ledger_ok: bool
    ledger_summary: str
    seconds: dict[str, float]
    # per hospital, what its ingest warned its table lacks (IngestReport.warnings, [] for none),
    # so that whoever reads this report sees Switzerland has no cholesterol without opening
    # demo-out/ingest/<site>/report.json; empty in a report written before it was kept
    ingest_warnings: dict[str, list[str]] = Field(default_factory=dict)


# --------------------------------------------------------------------------- stages 1-3


def demo_pseudonym_key(site_out: Path, site: str, seed: int) -> Path:
    """Write the site's pseudonym key for the demo, derived from the seed (mode 0600).

    Demo only. A real site's key is 32 bytes from the OS CSPRNG (`load_or_create_key`, which
    `consortium ingest` uses) and never leaves it. The demo derives it so that every run ranks the
    same rows into each hospital's held-out split (`holdout_split` ranks by a hash of the
    pseudonym), making the AUROC tables of two runs comparable.
    """
    import hashlib
    import os

    path = site_out / "secrets" / "pseudonym.key"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = hashlib.sha256(f"consortium/demo-pseudonym-key/v1|{site}|{seed}".encode()).digest()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return path


@dataclass(frozen=True)
class IngestedSites:
    """What stages 1-2 give the rest of the demo: per hospital, its cohort table and the warnings
    of its ingest (what the table lacks)."""

    tables: dict[str, Any]
    warnings: dict[str, list[str]]


def ingest_sites(out: Path, sites: tuple[str, ...], seed: int, say: Say) -> IngestedSites:
    """Stages 1-2: demo FHIR, then each hospital's ingest; returns each one's table and warnings.

    Says one line per hospital, and under it each warning of its ingest (what its table lacks,
    ``IngestReport.warnings``) and where its full report is."""
    import pandas as pd

    from consortium.datasets.demo import write_demo_fhir
    from consortium.fhir.ingest import ingest

    folders = write_demo_fhir(out / "fhir")
    tables = {}
    warnings = {}
    for site in sites:
        site_out = out / "ingest" / site
        key = demo_pseudonym_key(site_out, site, seed)
        report = ingest([folders[site]], site, "heart", site_out, 5, key_path=key)
        tables[site] = pd.read_parquet(site_out / "cohort.parquet")
        warnings[site] = list(report.warnings)
        say(
            f"  {site:<12} read {report.read} resources, accepted {report.accepted}, quarantined "
            f"{report.quarantined}; {report.rows} anonymized rows ({report.suppressed} suppressed "
            f"for k={report.k})"
        )
        # What the hospital's table lacks (Switzerland: no cholesterol), as `consortium ingest`
        # prints it: the admin watching the demo would not open report.json to find out.
        for warning in report.warnings:
            say(f"    warning: {warning}")
        if report.warnings:
            say(f"    full report: {site_out / 'report.json'}")
    return IngestedSites(tables=tables, warnings=warnings)


def sim_config(cfg: DemoConfig) -> SimConfig:
    """The simulator's configuration for the demo's task and nodes, through SimConfig's checks
    (every value, also one set on ``cfg`` past its own, e.g. by ``model_copy``)."""
    return SimConfig(
        sites=cfg.sites,
        sml=cfg.sml,
        epsilon_budget=cfg.epsilon,
        planned_updates=cfg.planned_updates,
        epochs=cfg.epochs,
        update_seconds=0.0 if cfg.in_process else 1.0,
        flush_seconds=2.0 if cfg.in_process else 4.0,
        max_seconds=cfg.max_seconds,
        seed=cfg.seed,
        verifier=cfg.verifier,
        # PoLe's target-interval gate and retargeting (docs/decisions/0009-pole.md): a block no
        # sooner than 90 % of the 5 s target interval; the required gain retargeted every 5 blocks.
        target_interval_ms=5000,
        min_interval_bp=9000,
        retarget_every=5,
        holdout_fold=cfg.holdout_fold,
        lr=_SIM_LR if cfg.lr is None else cfg.lr,
    )


def init_consortium(cfg: DemoConfig, tables: dict[str, Any]) -> Path:
    """Stage 3: the consortium directory, each hospital's node on its own ingested cohort."""
    from consortium.simulate.setup import create_consortium

    root = create_consortium(sim_config(cfg), cfg.out / "consortium")
    for site, table in tables.items():
        table.to_parquet(root / "members" / site / "cohort" / "cohort.parquet")
    return root


# --------------------------------------------------------------------------- evaluation


def _splits(table: Any, fold: int) -> Any:
    from consortium.node.open import cohort_from_table

    return cohort_from_table(table, "heart", 2000, fold)


def _proba(arrays: Any, spec: Any, X: np.ndarray) -> np.ndarray:
    """Probabilities of weights ``arrays`` (a `ModelSpec` model) for rows ``X``."""
    from consortium.learning.evaluate import predict_proba
    from consortium.learning.models import build_model, load_arrays

    model = build_model(spec, seed=0)
    load_arrays(model, arrays)
    return predict_proba(model, X)


def _scored(y: np.ndarray, p: np.ndarray) -> ModelScore:
    from consortium.learning.evaluate import metrics_from_scores

    m = metrics_from_scores(y, p)
    return ModelScore(auroc=m.auroc, n=m.n, positives=m.positives)


def score(arrays: Any, spec: Any, X: np.ndarray, y: np.ndarray) -> ModelScore:
    """AUROC of weights ``arrays`` (a `ModelSpec` model) on rows ``X``, ``y``."""
    return _scored(y, _proba(arrays, spec, X))


def baselines(
    cfg: DemoConfig, tables: dict[str, Any]
) -> tuple[dict[str, Any], Any, dict[str, str]]:
    """Stage 4: each hospital alone (DP, same ε) and centralized (pooled, no DP).

    Returns (site -> local model arrays, central model arrays, site -> local ε spent).
    """
    import pandas as pd

    from consortium.learning.alone import AloneOptions, train_alone
    from consortium.learning.serialize import from_safetensors

    local, eps = {}, {}
    for site, table in tables.items():
        opts = AloneOptions(
            cohort_name="heart",
            dp=True,
            epsilon=float(cfg.epsilon),
            epochs=cfg.local_epochs,
            lr=cfg.baseline_lr,
            batch_size=32,
            state_dir=cfg.out / "baselines" / site,
            member_id=site,
            seed=cfg.seed,
            holdout_fold=cfg.holdout_fold,
        )
        report, data, _ = train_alone(table, opts)
        local[site], eps[site] = from_safetensors(data)[0], report.epsilon_spent or "0"
    pooled = pd.concat(list(tables.values()), ignore_index=True)
    opts = AloneOptions(
        cohort_name="heart",
        dp=False,
        epochs=cfg.central_epochs,
        lr=cfg.baseline_lr,
        batch_size=32,
        state_dir=cfg.out / "baselines" / "central",
        seed=cfg.seed,
        holdout_fold=cfg.holdout_fold,
    )
    _, data, _ = train_alone(pooled, opts)
    return local, from_safetensors(data)[0], eps


# --------------------------------------------------------------------------- stage 5


class Watch:
    """Follows the ledger as the admin; scores each new version on the pooled held-out rows."""

    def __init__(self, root: Path, tables: dict[str, Any], fold: int, say: Say) -> None:
        from consortium.node.open import open_session

        self.s = open_session(root, "admin")
        cohorts = [_splits(t, fold) for t in tables.values()]
        self.X = np.concatenate([c.X_test for c in cohorts])
        self.y = np.concatenate([c.y_test for c in cohorts])
        self.say, self.started, self.points = say, time.monotonic(), []  # type: ignore[var-annotated]
        self.height = -1

    def poll(self) -> None:
        """Print and record every version sealed since the last poll, oldest first (a version
        sealed while the one before was scored too, at the time it is seen), as the simulator's
        monitor does."""
        head = int(self.s.head()["height"])
        while self.height < head:
            self.height += 1
            block = self.s.q("GetVersion", task_id=self.s.task_id, version=self.height)
            auroc = score(self.s.version(self.height), self.s.spec(), self.X, self.y).auroc
            point = {
                "height": self.height,
                "seconds": round(time.monotonic() - self.started, 1),
                "auroc": auroc,
                "updates": len(block["updates"]),
                "gain_bp": block["gain_bp"],
                "required_gain_bp": block["required_gain_bp"],
            }
            self.points.append(point)
            self.say(
                f"  [{point['seconds']:6.1f}s] version {self.height:2d}  pooled AUROC "
                f"{auroc or 0:.3f}  ({point['updates']} updates, attested gain "
                f"{block['gain_bp']:+d} bp, required {block['required_gain_bp']:+d} bp)"
            )


def federate(cfg: DemoConfig, root: Path, watch: Watch) -> None:
    """Stage 5: run the nodes until every hospital sent all it planned and all is sealed."""
    from consortium.simulate.runner import Monitor

    members = [*cfg.sites, "aggregator"]
    monitor = Monitor(root, sim_config(cfg))
    deadline = time.monotonic() + cfg.max_seconds
    if cfg.in_process:
        from consortium.pole.localrun import open_nodes, run_nodes

        nodes = open_nodes(root, members)

        def until(_: Any) -> bool:
            watch.poll()
            return monitor.done()

        run_nodes(nodes, until, max_seconds=cfg.max_seconds)
        watch.poll()
        return
    _federate_processes(root, members, monitor, watch, deadline)


def _federate_processes(
    root: Path, members: list[str], monitor: Any, watch: Watch, deadline: float
) -> None:
    import signal

    from consortium.simulate.runner import start_node, stop_node

    procs = {m: start_node(root, m, root / "logs") for m in members}
    try:
        while time.monotonic() < deadline:
            watch.poll()
            if monitor.done():
                break
            for m, p in procs.items():
                if p.poll() is not None and p.returncode not in (0, -signal.SIGTERM):
                    raise RuntimeError(f"node {m} exited with {p.returncode}: see {root}/logs")
            time.sleep(0.5)
        watch.poll()
    finally:
        for p in procs.values():
            stop_node(p)


# --------------------------------------------------------------------------- stages 6-7


def provenance(cfg: DemoConfig, root: Path, say: Say) -> tuple[Any, bool, str, bool]:
    """Stage 6: pull the final version as the first hospital, trace it, verify the ledger."""
    from consortium.config import ConsortiumConfig
    from consortium.ledger.embedded.verify import verify_ledger
    from consortium.ledger.factory import default_contract
    from consortium.pole.provenance import pull_model, trace_version

    config = ConsortiumConfig.load(root)
    pulled = pull_model(config, cfg.sites[0], out=cfg.out / "model.safetensors")
    say(
        f"  pulled version {pulled.version} as {cfg.sites[0]}: {pulled.out} (digest checked, "
        f"download recorded in tx {pulled.download_tx_id[:12]}…)"
    )
    trace = trace_version(config, "admin", None, pulled.version)
    say(
        f"  trace of version {pulled.version}: homomorphic sum and θ(v) recomputed — "
        f"{'MATCH' if trace.matches else 'MISMATCH: ' + '; '.join(trace.problems)}"
    )
    report = verify_ledger(config.ledger_path, config.ca_cert_path.read_text(), default_contract())
    summary = (
        f"{report.blocks} blocks, {report.transactions} transactions ({report.valid} valid,"
        f" {report.invalid} invalid), replayed world state identical"
    )
    say(f"  ledger verify: {'OK' if report.ok else 'FAILED'}: {summary}")
    return pulled, trace.matches, summary, bool(report.ok)


def ledger_facts(
    root: Path,
) -> tuple[dict[str, int], dict[str, str], dict[str, dict[str, int]], dict[str, int], list[int]]:
    """(rewards, ε spent per hospital, rejection reasons per hospital, rejected updates per
    hospital, block intervals). The reasons count rejecting endorsements, not updates: both are
    returned so that nobody reads two endorsements of one update as two rejected updates."""
    from consortium.node.open import open_session

    s = open_session(root, "admin")
    rewards = {b["member_id"]: int(b["units"]) for b in s.q("ListBalances")}
    eps: dict[str, str] = {}
    rejected: dict[str, dict[str, int]] = {}
    rejected_updates: dict[str, int] = {}
    for v in s.q("ListUpdates", task_id=s.task_id):
        u = v["update"]
        if float(u["epsilon_spent"]) > float(eps.get(u["member_id"], "0")):
            eps[u["member_id"]] = u["epsilon_spent"]
        if v["status"] == "rejected":
            rejected_updates[u["member_id"]] = rejected_updates.get(u["member_id"], 0) + 1
            reasons = rejected.setdefault(u["member_id"], {})
            for reason in rejection_reasons(v["endorsements"]):
                reasons[reason] = reasons.get(reason, 0) + 1
    intervals = [int(b["interval_ms"]) for b in s.q("ListVersions", task_id=s.task_id)[1:]]
    s.ledger.close()
    return rewards, eps, rejected, rejected_updates, intervals


# --------------------------------------------------------------------------- the table and plots


def _site_row(site: str, held: HeldOut, eps: str, local_eps: str) -> SiteRow:
    from consortium.federation.verifier import MIN_CLASS_ROWS
    from consortium.learning.compare import auroc_difference

    y, p_fed, p_local = (np.asarray(v) for v in (held.labels, held.federated, held.local_dp))
    return SiteRow(
        site=site,
        federated=_scored(y, p_fed),
        local_dp=_scored(y, p_local),
        central=_scored(y, np.asarray(held.central)),
        epsilon_spent=eps,
        local_epsilon=local_eps,
        fed_minus_local=auroc_difference(y, p_fed, p_local, min_class_rows=MIN_CLASS_ROWS),
        held_out=held,
    )


def _pooled(rows: list[SiteRow]) -> dict[str, ModelScore]:
    held = [r.held_out for r in rows if r.held_out is not None]
    y = np.concatenate([h.labels for h in held])
    return {
        "federated": _scored(y, np.concatenate([h.federated for h in held])),
        "central": _scored(y, np.concatenate([h.central for h in held])),
    }


def site_rows(
    tables: dict[str, Any],
    spec: Any,
    final: Any,
    local: dict[str, Any],
    central: Any,
    eps: dict[str, str],
    local_eps: dict[str, str],
    fold: int = 0,
) -> tuple[list[SiteRow], dict[str, ModelScore]]:
    """Per hospital and pooled: the three models on the same held-out rows (of ``fold``), and
    the federated model's difference from the local-only one with its paired bootstrap
    interval."""
    rows = []
    for site, table in tables.items():
        c = _splits(table, fold)
        held = HeldOut(
            labels=[int(v) for v in c.y_test],
            **{
                name: [float(v) for v in _proba(arrays, spec, c.X_test)]
                for name, arrays in (("federated", final), ("local_dp", local[site]),
                                     ("central", central))
            },
        )  # fmt: skip
        rows.append(_site_row(site, held, eps.get(site, "0"), local_eps[site]))
    return rows, _pooled(rows)


def cross_fitted(folds: list[DemoReport]) -> tuple[list[SiteRow], dict[str, ModelScore]]:
    """Per hospital and pooled, every model on all the rows of the demo runs of ``folds``
    (one run per held-out fold, together holding out every row once): each row is scored by the
    models of the run that held it out, so each AUROC stands on all of a hospital's rows instead
    of one fifth. ε columns are the largest any fold spent."""
    got = sorted(r.config.holdout_fold for r in folds)
    if got != list(range(len(folds))) or len(folds) < 2:
        raise ValueError(f"cross-fitting needs one run per fold 0..K-1 (K ≥ 2), got folds {got}")
    rows = []
    for i, site in enumerate(r.site for r in folds[0].sites):
        parts = [f.sites[i] for f in folds]
        if any(p.site != site or p.held_out is None for p in parts):
            raise ValueError(
                f"the runs differ in their hospitals, or one lacks held-out rows: {site}"
            )
        held = HeldOut(
            **{
                name: [v for p in parts for v in getattr(p.held_out, name)]
                for name in ("labels", "federated", "local_dp", "central")
            }
        )
        eps = max((p.epsilon_spent for p in parts), key=Decimal)
        local_eps = max((p.local_epsilon for p in parts), key=Decimal)
        rows.append(_site_row(site, held, eps, local_eps))
    return rows, _pooled(rows)


def write_plots(report: DemoReport, out: Path) -> list[Path]:
    """AUROC per version over time, AUROC per hospital for the three models, ε per hospital."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = [out / "auroc_over_time.png", out / "auroc_per_hospital.png", out / "epsilon.png"]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(
        [p["seconds"] for p in report.versions],
        [p["auroc"] for p in report.versions],
        marker="o",
        label="federated (each version)",
    )
    ax.axhline(
        report.pooled["central"].auroc or 0, color="gray", ls="--", label="centralized, no privacy"
    )
    ax.set(xlabel="wall time (s)", ylabel="pooled held-out AUROC")
    ax.legend()
    fig.savefig(paths[0], dpi=100)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(7, 4))
    xs = np.arange(len(report.sites))
    for i, (name, key) in enumerate(
        [("federated", "federated"), ("local DP", "local_dp"), ("centralized", "central")]
    ):
        vals = [getattr(r, key).auroc or 0 for r in report.sites]
        ax.bar(xs + (i - 1) * 0.27, vals, width=0.27, label=name)
    ax.set_xticks(
        xs, [f"{r.site}\n(n={r.federated.n}, +{r.federated.positives})" for r in report.sites]
    )
    ax.set(ylabel="held-out AUROC", ylim=(0.0, 1.0))
    ax.legend()
    fig.savefig(paths[1], dpi=100)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.bar([r.site for r in report.sites], [float(r.epsilon_spent) for r in report.sites])
    ax.axhline(float(report.config.epsilon), color="red", ls="--", label="budget")
    ax.set(ylabel="ε spent (federated)")
    ax.legend()
    fig.savefig(paths[2], dpi=100)
    plt.close(fig)
    return paths


# --------------------------------------------------------------------------- the whole demo


def run_demo(cfg: DemoConfig, say: Say = print) -> DemoReport:
    """Run stages 1-7 (module docstring) into ``cfg.out``; returns the report (also written).

    Raises ValidationError, before it writes anything, for a value of ``cfg`` that DemoConfig or
    the simulator's configuration refuses."""
    from consortium.learning.serialize import from_safetensors
    from consortium.pole.blockrate import coefficient_of_variation

    seconds: dict[str, float] = {}
    clock = time.monotonic()

    def lap(name: str) -> None:
        nonlocal clock
        seconds[name] = round(time.monotonic() - clock, 1)
        clock = time.monotonic()

    # a value set past DemoConfig's checks (``model_copy``) is refused here, before anything is
    # written, not at stage 3 after the FHIR and the ingests
    DemoConfig.model_validate(cfg.model_dump())
    sim_config(cfg)
    cfg.out.mkdir(parents=True, exist_ok=True)
    (cfg.out / ".consortium-demo").write_text("made by `consortium demo`; it may replace me\n")
    say("1-2. FHIR for four hospitals, ingested and anonymized at each")
    ingested = ingest_sites(cfg.out, cfg.sites, cfg.seed, say)
    tables = ingested.tables
    lap("fhir_ingest")
    say("3. consortium init: CA, identities, ledger genesis, keys shared, task published")
    root = init_consortium(cfg, tables)
    lap("init")
    say(f"4. baselines: each hospital alone (DP, ε ≤ {cfg.epsilon}) and centralized (no DP)")
    local, central, local_eps = baselines(cfg, tables)
    lap("baselines")
    mode = "in this process" if cfg.in_process else "one process per node"
    say(f"5. federated learning with PoLe ({mode}; SML {'on' if cfg.sml else 'off'})")
    watch = Watch(root, tables, cfg.holdout_fold, say)
    federate(cfg, root, watch)
    lap("federated")
    say("6. provenance: pull, trace, ledger verify")
    pulled, matches, summary, ledger_ok = provenance(cfg, root, say)
    lap("provenance")
    rewards, eps, rejected, rejected_updates, intervals = ledger_facts(root)
    final = from_safetensors(pulled.out.read_bytes())[0]
    rows, pooled = site_rows(
        tables, watch.s.spec(), final, local, central, eps, local_eps, cfg.holdout_fold
    )
    report = DemoReport(
        config=cfg,
        sites=rows,
        pooled=pooled,
        versions=watch.points,
        blocks=len(intervals),
        # Block 1's interval runs from the task's publication, so it includes the baselines and
        # the nodes' start-up; the block rate PoLe steers is that of the blocks after it.
        interval_cv=coefficient_of_variation(intervals[1:]) if len(intervals) > 2 else None,
        rewards=rewards,
        rejected=rejected,
        rejected_updates=rejected_updates,
        trace_matches=matches,
        model_digest=pulled.model_digest,
        download_tx_id=pulled.download_tx_id,
        ledger_ok=ledger_ok,
        ledger_summary=summary,
        seconds=seconds,
        ingest_warnings=ingested.warnings,
    )
    (cfg.out / "report.json").write_text(report.model_dump_json(indent=1))
    write_plots(report, cfg.out)
    return report


class CrossFitReport(BaseModel):
    """``cross_fit.json``: every model on all of each hospital's rows (`cross_fitted`), and what
    each fold's run was (its folder, blocks, trace, ledger and held-out rows)."""

    folds: list[dict[str, Any]]
    sites: list[SiteRow]
    pooled: dict[str, ModelScore]


def fold_demo(cfg_json: str) -> str:
    """One fold's demo, quietly (a worker process of `run_cross_fit`): its report as JSON."""
    return run_demo(DemoConfig.model_validate_json(cfg_json), say=lambda _: None).model_dump_json()


def run_cross_fit(
    cfg: DemoConfig,
    first: DemoReport,
    say: Say = print,
    workers: int = 1,
    runner: Callable[[str], str] = fold_demo,
) -> CrossFitReport:
    """After ``first`` (the demo on held-out fold 0), the same demo once per other fold into
    ``cfg.out/folds/F``: same hospitals, pseudonym keys, settings and ε budget, another fifth of
    each hospital held out. Returns (and writes ``cross_fit.json``) the AUROCs on all rows.

    ``workers`` fold runs at a time, each in a process of its own (``runner``: a DemoConfig's
    JSON to its DemoReport's JSON, importable by a spawned process). The runs mostly wait for
    PoLe's block interval, so two at a time take little longer than one on two cores.

    Each fold's run is a consortium of its own that spends up to ε on its training rows; the
    cross-fitted table estimates how the demo's *procedure* does at each hospital, on every row
    instead of one fifth, not one model's score."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from consortium.learning.data import folds_of

    if workers < 1:
        raise ValueError(f"workers must be at least 1 (got {workers})")
    configs = [
        cfg.model_copy(update={"out": cfg.out / "folds" / str(fold), "holdout_fold": fold})
        for fold in range(1, folds_of(2000))
    ]
    started = time.monotonic()
    reports = [first]

    def done(r: DemoReport) -> None:
        reports.append(r)
        gap = (r.pooled["federated"].auroc or 0) - (r.pooled["central"].auroc or 0)
        say(
            f"  fold {r.config.holdout_fold}: {r.pooled['federated'].n} held-out rows, federated "
            f"− centralized {gap:+.3f}, trace {'MATCH' if r.trace_matches else 'MISMATCH'}, "
            f"ledger {'OK' if r.ledger_ok else 'FAILED'} ({time.monotonic() - started:.0f} s)"
        )

    if workers == 1:
        for c in configs:
            done(DemoReport.model_validate_json(runner(c.model_dump_json())))
    else:
        spawn = multiprocessing.get_context("spawn")  # no fork of a process with torch threads
        with ProcessPoolExecutor(max_workers=workers, mp_context=spawn) as pool:
            futures = [pool.submit(runner, c.model_dump_json()) for c in configs]
            for future in as_completed(futures):
                done(DemoReport.model_validate_json(future.result()))
    reports.sort(key=lambda r: r.config.holdout_fold)
    rows, pooled = cross_fitted(reports)
    folds = [
        {
            "fold": r.config.holdout_fold, "out": str(r.config.out), "blocks": r.blocks,
            "trace_matches": r.trace_matches, "ledger_ok": r.ledger_ok,
            "held_out_rows": r.pooled["federated"].n,
        }
        for r in reports
    ]  # fmt: skip
    report = CrossFitReport(folds=folds, sites=rows, pooled=pooled)
    (cfg.out / "cross_fit.json").write_text(report.model_dump_json(indent=1))
    return report
