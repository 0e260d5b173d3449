"""What the cohort's features allow without any privacy: the ceiling the AUROC goals sit under.

Non-private models trained centrally on the pooled training rows of the four hospitals and scored
on the pooled held-out rows the simulator scores (``heart_cohort_table``, the 20 % split of
`consortium.learning.data.holdout_split`), or with ``--cohorts DIR`` on the rows of an ingest
(``DIR/<site>/cohort.parquet``, e.g. ``demo-out/ingest`` after ``make demo``). Beside them, per
hospital, the same model families trained on that hospital's rows alone.

Every model is non-private and every hyperparameter grid point is scored on the held-out rows,
and the best is printed as well: an optimistic upper bound (a choice made on the test rows), not
an estimate of what a tuned model would reach. A DP model of the same family trained by a
federation cannot be expected above it.

    .venv/bin/python bench/ceiling.py [--target 0.85] [--cohorts demo-out/ingest]

Models: logistic regression (L2, C in a grid), the task's MLP (one hidden layer of 16, SGD as
`consortium train --no-dp` trains it; epochs in a grid, three seeds each), and gradient-boosted
trees (sklearn's HistGradientBoostingClassifier) as a non-linear reference of another family.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from consortium.datasets.heart import SITES, heart_cohort_table
from consortium.learning.alone import AloneOptions, train_alone
from consortium.learning.data import design_matrix, holdout_split, load_definition
from consortium.learning.evaluate import predict_proba
from consortium.learning.models import ModelSpec, build_model, load_arrays
from consortium.learning.serialize import from_safetensors

C_GRID = (0.01, 0.1, 1.0, 10.0)
EPOCH_GRID = (10, 20, 30, 60)
MLP_SEEDS = (0, 1, 2)
LR_C = 0.1
CENTRAL_EPOCHS = 10  # consortium.demo.DemoConfig.central_epochs
LOCAL_EPOCHS = 20  # DemoConfig.local_epochs


def _tables(cohorts: Path | None) -> dict[str, pd.DataFrame]:
    if cohorts is None:
        return {site: heart_cohort_table(site) for site in SITES}
    tables = {}
    for site in SITES:
        path = cohorts / site / "cohort.parquet"
        if not path.is_file():
            raise SystemExit(f"{path} is missing: --cohorts names a folder of ingests per site")
        tables[site] = pd.read_parquet(path)
    return tables


def _split(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    dm = design_matrix(table, load_definition("heart"))
    split = holdout_split(table)
    train, test = dm.rows(split.train), dm.rows(split.test)
    return train.X, train.y, test.X, test.y


def _auroc(y: np.ndarray, p: np.ndarray) -> float | None:
    return float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else None


def _lr(X: np.ndarray, y: np.ndarray, Xt: np.ndarray, c: float) -> np.ndarray:
    model = LogisticRegression(C=c, max_iter=5000).fit(X, y)
    out: np.ndarray = model.predict_proba(Xt)[:, 1]
    return out


def _gbt(X: np.ndarray, y: np.ndarray, Xt: np.ndarray, _: float) -> np.ndarray:
    model = HistGradientBoostingClassifier(max_depth=3, learning_rate=0.05, max_iter=200)
    out: np.ndarray = model.fit(X, y).predict_proba(Xt)[:, 1]
    return out


def _mlp(table: pd.DataFrame, epochs: int, seed: int) -> tuple[float | None, ModelSpec, Any]:
    """The task's MLP without DP, as `consortium train --no-dp` trains it: its AUROC on
    ``table``'s held-out rows, its spec and its weights."""
    with tempfile.TemporaryDirectory() as state:
        opts = AloneOptions(
            cohort_name="heart", dp=False, epochs=epochs, lr=0.05, batch_size=32,
            state_dir=Path(state), seed=seed,
        )  # fmt: skip
        report, data, _ = train_alone(table, opts)
    auroc = None if report.test.auroc_bp is None else report.test.auroc_bp / 10_000
    return auroc, report.spec, from_safetensors(data)[0]


def _mlp_proba(spec: ModelSpec, arrays: Any, X: np.ndarray) -> np.ndarray:
    model = build_model(spec, seed=0)
    load_arrays(model, arrays)
    return predict_proba(model, X)


def _fmt(x: float | None) -> str:
    return "   n/a" if x is None else f"{x:6.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=float, default=0.85)
    parser.add_argument("--cohorts", type=Path, help="folder of <site>/cohort.parquet (an ingest)")
    args = parser.parse_args()
    tables = _tables(args.cohorts)
    parts = {site: _split(t) for site, t in tables.items()}
    X = np.concatenate([p[0] for p in parts.values()])
    y = np.concatenate([p[1] for p in parts.values()])
    Xt = np.concatenate([p[2] for p in parts.values()])
    yt = np.concatenate([p[3] for p in parts.values()])
    source = args.cohorts or "heart_cohort_table (simulator)"
    print(f"rows: {len(y)} training, {len(yt)} held out ({int(yt.sum())} positives), "
          f"{X.shape[1]} model inputs; source: {source}")  # fmt: skip

    print("\npooled held-out AUROC, centralized, no privacy")
    best: dict[str, float] = {}
    for name, fit, grid in (("logistic", _lr, C_GRID), ("boosted trees", _gbt, (0.0,))):
        scores = [_auroc(yt, fit(X, y, Xt, g)) for g in grid]
        cells = [
            f"{g:g}:{_fmt(s)}" if len(grid) > 1 else _fmt(s)
            for g, s in zip(grid, scores, strict=True)
        ]
        best[name] = max(s for s in scores if s is not None)
        print(f"  {name:<14} {'  '.join(cells)}")
    pooled = pd.concat(list(tables.values()), ignore_index=True)
    mlp = {e: [_mlp(pooled, e, s)[0] for s in MLP_SEEDS] for e in EPOCH_GRID}
    for e, scores in mlp.items():
        print(f"  MLP {e:>3} epochs  seeds {' '.join(_fmt(s) for s in scores)}")
    best["MLP"] = max(s for scores in mlp.values() for s in scores if s is not None)
    print("  best of each grid (chosen on the held-out rows): "
          + ", ".join(f"{k} {v:.3f}" for k, v in best.items()))  # fmt: skip
    above = [k for k, v in best.items() if v >= args.target]
    margin = max(best.values()) - args.target
    print(f"  target {args.target}: reached by the best of {len(above)} of {len(best)} families "
          f"({', '.join(above) or 'none'}); the best is {margin:+.3f} from it")  # fmt: skip

    print(
        "\nper hospital, held-out AUROC, no privacy: centralized / the hospital alone "
        f"(logistic C={LR_C}; boosted trees; the MLP as the demo's baselines train it: "
        f"centralized {CENTRAL_EPOCHS} epochs, alone {LOCAL_EPOCHS}, seed 0)"
    )
    _, spec, central_mlp = _mlp(pooled, CENTRAL_EPOCHS, 0)
    wins = {"logistic": 0, "boosted trees": 0, "MLP": 0}
    for site, (Xs, ys, Xts, yts) in parts.items():
        pairs = {
            name: (_auroc(yts, fit(X, y, Xts, LR_C)), _auroc(yts, fit(Xs, ys, Xts, LR_C)))
            for name, fit in (("logistic", _lr), ("boosted trees", _gbt))
        }
        alone_mlp = _mlp(tables[site], LOCAL_EPOCHS, 0)[2]
        pairs["MLP"] = (
            _auroc(yts, _mlp_proba(spec, central_mlp, Xts)),
            _auroc(yts, _mlp_proba(spec, alone_mlp, Xts)),
        )
        for name, (central, alone) in pairs.items():
            if central is not None and alone is not None and central > alone:
                wins[name] += 1
        neg = int(len(yts) - yts.sum())
        cells = [f"{name} {_fmt(c)} / {_fmt(a)}" for name, (c, a) in pairs.items()]
        print(f"  {site:<12} {len(yts):>3} rows, {neg:>2} negatives   " + "   ".join(cells))
    print("  centralized beats alone at: "
          + ", ".join(f"{k} {v} of {len(parts)}" for k, v in wins.items()))  # fmt: skip


if __name__ == "__main__":
    main()
