"""Training on one cohort alone: the hospital's own model and the baseline federated learning must
beat. Used by `consortium train`; everything here is also reachable from Python.

The report is canonical JSON (`consortium.canonical`): metrics in basis points, ε and δ as decimal
strings (ε rounded up, as on the ledger), the model's digest as the ledger would record it.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict

from consortium.federation.pacing import epsilon_decimal
from consortium.learning.data import load_definition, train_test
from consortium.learning.evaluate import Metrics, evaluate
from consortium.learning.models import ModelSpec, build_model, load_arrays
from consortium.learning.serialize import model_digest, to_safetensors
from consortium.learning.train import TrainResult, train_local
from consortium.privacy.accountant import AccountantStore, noise_for_budget
from consortium.privacy.site import SiteBudget

__all__ = ["AloneOptions", "AloneReport", "MetricsRecord", "evaluate_elsewhere", "train_alone"]


class AloneOptions(BaseModel):
    """How to train alone (the CLI's options)."""

    model_config = ConfigDict(frozen=True)

    cohort_name: str
    dp: bool = True
    epsilon: float | None = None
    delta: float = 1e-5
    epochs: int = 20
    hidden: tuple[int, ...] = (16,)
    lr: float = 0.05
    batch_size: int = 64
    max_grad_norm: float = 1.0
    accountant: Literal["prv", "rdp"] = "prv"
    seed: int | None = None
    state_dir: Path
    member_id: str = "local"
    task_id: str = "local"
    holdout_fold: int = 0  # which held-out fold of `holdout_split` (0: the default split)


class MetricsRecord(BaseModel):
    """Held-out metrics in the ledger's units."""

    n: int
    positives: int
    auroc_bp: int | None
    accuracy_bp: int
    brier_ppm: int

    @classmethod
    def of(cls, m: Metrics) -> MetricsRecord:
        return cls(
            n=m.n,
            positives=m.positives,
            auroc_bp=m.auroc_bp,
            accuracy_bp=round(m.accuracy * 10_000),
            brier_ppm=round(m.brier * 1_000_000),
        )


class AloneReport(BaseModel):
    """``report.json`` of a run."""

    cohort: str
    sites: list[str]
    spec: ModelSpec
    train_rows: int
    test: MetricsRecord
    dp: bool
    epsilon_spent: str | None
    epsilon_budget: str | None
    delta: str | None
    accountant: str | None
    noise_multiplier: str | None
    max_grad_norm: str | None
    steps: int
    epochs: int
    model_digest: str


def _dp_noise(store: AccountantStore, opts: AloneOptions, n_rows: int) -> float:
    """The noise at which this one run spends the whole budget on its own.

    A second run on the same accountant is then refused (its total would pass the budget) rather
    than silently trained with whatever sliver of budget is left.
    """
    steps_per_epoch = -(-n_rows // opts.batch_size)
    return noise_for_budget(
        store.epsilon_budget,
        store.delta,
        1.0 / steps_per_epoch,
        steps_per_epoch * opts.epochs,
        1,
        store.accountant,
    )


def _train(
    table: pd.DataFrame, opts: AloneOptions, site: SiteBudget | None
) -> tuple[TrainResult, ModelSpec, Metrics]:
    train, test = train_test(table, load_definition(opts.cohort_name), fold=opts.holdout_fold)
    spec = ModelSpec(in_features=train.X.shape[1], hidden=opts.hidden)
    store, sigma = None, None
    if opts.dp:
        if opts.epsilon is None:
            raise ValueError("DP training needs an ε budget")
        store = AccountantStore(
            opts.state_dir,
            member_id=opts.member_id,
            task_id=opts.task_id,
            accountant=opts.accountant,
            epsilon_budget=opts.epsilon,
            delta=opts.delta,
            site=site,
        )
        sigma = _dp_noise(store, opts, len(train.X))
    result = train_local(
        model=build_model(spec, seed=0 if opts.seed is None else opts.seed),
        X=train.X,
        y=train.y,
        epochs=opts.epochs,
        lr=opts.lr,
        batch_size=opts.batch_size,
        dp=opts.dp,
        noise_multiplier=sigma,
        max_grad_norm=opts.max_grad_norm,
        accountant_store=store,
        seed=opts.seed,
    )
    model = build_model(spec, seed=0)
    load_arrays(model, result.state)
    return result, spec, evaluate(model, test.X, test.y)


def _dec(value: float | None) -> str | None:
    return None if value is None else f"{value:.6f}"


def train_alone(
    table: pd.DataFrame, opts: AloneOptions, *, site: SiteBudget | None = None
) -> tuple[AloneReport, bytes, Metrics]:
    """Train on ``table`` alone; return the report, the model's safetensors bytes and metrics.

    Raises ``BudgetExceeded`` (nothing spent) when the budget is already used up, and
    ``SiteBudgetExceeded`` (nothing spent, nothing trained) when a DP run would pass ``site``, the
    cap of a hospital's node.toml on all its training (`consortium.privacy.site`).
    """
    result, spec, metrics = _train(table, opts, site)
    data = to_safetensors(result.state, spec)
    spent = result.epsilon_spent_total  # recorded as the ledger's ε: never below the accountant's
    report = AloneReport(
        cohort=opts.cohort_name,
        sites=sorted({str(s) for s in table["site"]}) if "site" in table else [],
        spec=spec,
        train_rows=result.n_samples,
        test=MetricsRecord.of(metrics),
        dp=result.dp,
        epsilon_spent=None if spent is None else epsilon_decimal(spent),  # rounded up
        epsilon_budget=_dec(opts.epsilon) if opts.dp else None,
        delta=None if result.delta is None else format(Decimal(repr(result.delta)), "f"),
        accountant=opts.accountant if opts.dp else None,
        noise_multiplier=_dec(result.noise_multiplier),
        max_grad_norm=_dec(result.max_grad_norm),
        steps=result.steps,
        epochs=opts.epochs,
        model_digest=model_digest(data),
    )
    return report, data, metrics


def evaluate_elsewhere(table: pd.DataFrame, cohort_name: str, model_bytes: bytes) -> Metrics:
    """Metrics of a trained model on the held-out rows of another cohort table (same definition):
    how a hospital's own model fares on the consortium's patients."""
    from consortium.learning.serialize import from_safetensors

    arrays, spec = from_safetensors(model_bytes)
    model = build_model(ModelSpec.model_validate(spec), seed=0)
    load_arrays(model, arrays)
    _, test = train_test(table, load_definition(cohort_name))
    return evaluate(model, test.X, test.y)
