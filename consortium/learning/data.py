"""From a cohort table to model inputs: the design matrix and the held-out split.

The cohort table (produced by `consortium.anonymize`, format in ``data_schemas/cohorts/``) has one
row per patient: ``pid, site, age, age_band, sex, zip3``, one column per feature of the cohort
definition, and ``label``. The definition lists each feature's kind:

- ``numeric``: ``(x - center) / scale`` with the definition's decimal-string ``normalize``; a
  missing value becomes 0 after centering (the consortium-wide centre, so it carries no site
  information), plus an optional 0/1 missingness indicator column;
- ``binary``: 1 for true/1/yes, 0 otherwise (missing -> 0, optional indicator);
- ``categorical``: one-hot over the definition's categories (unknown or missing -> all zeros).

Normalization constants come from the published definition, never from the local data, so every
member maps the same patient to the same vector and the global model means the same everywhere.
A value the float32 design matrix cannot hold (inf, or beyond 3.4e38 after normalization) is
refused with its feature's name: DP-SGD's clipping bounds finite gradients only.

The held-out split (`holdout_split`) is what evaluation stands on, so it must never leak into
training: 20 % of each stratum (label, and site when several sites are pooled) is held out, chosen
by ranking ``sha256("consortium/holdout/v1|site|pid")``. It depends only on the pids present, not on
row order or any random state, so it is the same on every run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

__all__ = [
    "CohortDefinition",
    "DesignMatrix",
    "FeatureDef",
    "HoldoutSplit",
    "design_matrix",
    "folds_of",
    "holdout_split",
    "load_definition",
    "train_test",
]

_TRUE = {"1", "true", "yes", "y", "t"}


class Normalize(BaseModel):
    """Centre and scale of a numeric feature, as decimal strings (canonical JSON has no floats)."""

    model_config = ConfigDict(extra="allow")

    center: str
    scale: str


class Category(BaseModel):
    """A category of a categorical feature; the cohort table holds its ``code``."""

    model_config = ConfigDict(extra="allow")

    code: str


class FeatureDef(BaseModel):
    """One feature of a cohort definition (other keys, such as FHIR codes, are kept but unused)."""

    model_config = ConfigDict(extra="allow")

    name: str
    kind: Literal["numeric", "binary", "categorical"]
    categories: list[Category | str] | None = None

    def category_codes(self) -> list[str]:
        """The codes of the categories, in the definition's order (one column each)."""
        return [c if isinstance(c, str) else c.code for c in self.categories or []]

    normalize: Normalize | None = None


class CohortDefinition(BaseModel):
    """The part of ``data_schemas/cohorts/<name>.json`` that training needs."""

    model_config = ConfigDict(extra="allow")

    features: list[FeatureDef]


def load_definition(name_or_path: str | Path) -> CohortDefinition:
    """A cohort definition by name (``"heart"``) or JSON path, validated by the ingest side
    (`consortium.fhir.cohort.load_cohort`, which raises ``CohortError`` with the reason)."""
    from consortium.fhir.cohort import load_cohort

    cohort = load_cohort(name_or_path)
    return CohortDefinition.model_validate(cohort.model_dump(mode="json"))


@dataclass(frozen=True)
class DesignMatrix:
    """Model inputs ``X`` (float32, rows x columns), labels ``y`` (0/1 float32) and row keys."""

    X: np.ndarray
    y: np.ndarray
    columns: list[str]
    pids: list[str]
    sites: list[str]

    def rows(self, mask: np.ndarray) -> DesignMatrix:
        """The rows where ``mask`` is true."""
        idx = np.flatnonzero(mask)
        return DesignMatrix(
            X=self.X[idx],
            y=self.y[idx],
            columns=self.columns,
            pids=[self.pids[i] for i in idx],
            sites=[self.sites[i] for i in idx],
        )


def _numeric(col: pd.Series, feature: FeatureDef) -> np.ndarray:
    values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    if feature.normalize is not None:
        center = float(Decimal(feature.normalize.center))
        scale = float(Decimal(feature.normalize.scale))
        if scale <= 0:
            raise ValueError(f"feature {feature.name}: normalize.scale must be > 0")
        values = (values - center) / scale
    out: np.ndarray = np.nan_to_num(values, nan=0.0)
    return out


def _missing(col: pd.Series) -> np.ndarray:
    out: np.ndarray = col.isna().to_numpy(dtype=np.float64)
    return out


def _binary(col: pd.Series) -> np.ndarray:
    text = col.astype("string").str.strip().str.lower()
    truth = text.isin(_TRUE) | (pd.to_numeric(col, errors="coerce") == 1)
    out: np.ndarray = truth.fillna(False).to_numpy(dtype=np.float64)
    return out


def _one_hot(col: pd.Series, feature: FeatureDef) -> tuple[np.ndarray, list[str]]:
    cats = feature.category_codes()
    if not cats:
        raise ValueError(f"categorical feature {feature.name} has no categories")
    text = col.astype("string")
    blocks = [(text == c).fillna(False).to_numpy(dtype=np.float64) for c in cats]
    return np.stack(blocks, axis=1), [f"{feature.name}={c}" for c in cats]


def design_matrix(
    table: pd.DataFrame, definition: CohortDefinition, *, missing_indicators: bool = False
) -> DesignMatrix:
    """Build the design matrix of ``table`` following ``definition`` (see the module docstring)."""
    wanted = [f.name for f in definition.features] + ["pid", "label"]
    absent = [name for name in wanted if name not in table.columns]
    if absent:
        raise ValueError(f"cohort table lacks columns {absent}: is it the definition's cohort?")
    blocks: list[np.ndarray] = []
    names: list[str] = []
    for feature in definition.features:
        col = table[feature.name]
        if feature.kind == "categorical":
            block, cols = _one_hot(col, feature)
            blocks.append(block)
            names.extend(cols)
            continue
        values = _numeric(col, feature) if feature.kind == "numeric" else _binary(col)
        blocks.append(values[:, None])
        names.append(feature.name)
        if missing_indicators:
            blocks.append(_missing(col)[:, None])
            names.append(f"{feature.name}:missing")
    labels = pd.to_numeric(table["label"], errors="raise").to_numpy(dtype=np.float32)
    if not np.isin(labels, (0.0, 1.0)).all():
        raise ValueError("label must be 0 or 1 on every row")
    with np.errstate(over="ignore"):
        X = np.concatenate(blocks, axis=1).astype(np.float32)
    _check_finite(X, names)
    return DesignMatrix(
        X=X,
        y=labels,
        columns=names,
        pids=[str(p) for p in table["pid"]],
        sites=[str(s) for s in table["site"]] if "site" in table else [""] * len(table),
    )


def _check_finite(X: np.ndarray, names: list[str]) -> None:
    """Refuse values a float32 model cannot hold (inf, or beyond 3.4e38 after normalization):
    DP-SGD's clipping bounds finite gradients only (`consortium.learning.train`)."""
    bad = ~np.isfinite(X)
    if bad.any():
        cols = {names[j]: int(bad[:, j].sum()) for j in np.flatnonzero(bad.any(axis=0))}
        found = ", ".join(f"{name} ({n} row{'s' if n > 1 else ''})" for name, n in cols.items())
        raise ValueError(
            f"values too large for the model in {found}: check these measurements in the cohort "
            "table (a unit error?), then ingest again"
        )


@dataclass(frozen=True)
class HoldoutSplit:
    """Boolean masks over the rows of a cohort table; disjoint, together covering every row."""

    train: np.ndarray
    test: np.ndarray


def _rank_key(site: str, pid: str) -> str:
    return hashlib.sha256(f"consortium/holdout/v1|{site}|{pid}".encode()).hexdigest()


def holdout_split(
    table: pd.DataFrame, *, test_fraction_bp: int = 2000, fold: int = 0
) -> HoldoutSplit:
    """Deterministic held-out split: ``test_fraction_bp`` / 10,000 of each stratum held out.

    Strata are the label, and the site as well when the table pools several sites. Within a
    stratum, rows are ranked by a hash of (site, pid); fold ``f`` holds out ranks
    ``round(n·f·fraction)`` to ``round(n·(f+1)·fraction)`` (clipped to n), so fold 0 is the first
    ``round(n·fraction)``. When the fraction divides 10,000 into K parts (2000 bp: K = 5), folds
    0 to K − 1 hold out every row exactly once: cross-fitting (`consortium demo --cross-fit`).
    """
    if not 0 < test_fraction_bp < 10000:
        raise ValueError("test_fraction_bp must be between 1 and 9999")
    if not 0 <= fold * test_fraction_bp < 10000:
        raise ValueError(
            f"held-out fold {fold} does not exist at {test_fraction_bp} bp held out: folds run "
            f"from 0 to {folds_of(test_fraction_bp) - 1}"
        )
    sites = table["site"].astype(str) if "site" in table else pd.Series([""] * len(table))
    keys = [_rank_key(s, str(p)) for s, p in zip(sites, table["pid"], strict=True)]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate (site, pid) in the cohort table: the split needs unique rows")
    pooled = sites.nunique() > 1
    strata: dict[Any, list[int]] = {}
    for i, (site, label) in enumerate(zip(sites, table["label"], strict=True)):
        strata.setdefault((site if pooled else "", int(label)), []).append(i)
    test = np.zeros(len(table), dtype=bool)
    for rows in strata.values():
        start = (len(rows) * fold * test_fraction_bp + 5000) // 10000
        end = (len(rows) * (fold + 1) * test_fraction_bp + 5000) // 10000
        for i in sorted(rows, key=lambda r: keys[r])[start:end]:
            test[i] = True
    return HoldoutSplit(train=~test, test=test)


def folds_of(test_fraction_bp: int) -> int:
    """How many distinct held-out folds `holdout_split` has at this fraction (⌈10,000 / bp⌉)."""
    return -(-10000 // test_fraction_bp)


def train_test(
    table: pd.DataFrame,
    definition: CohortDefinition,
    *,
    missing_indicators: bool = False,
    fold: int = 0,
) -> tuple[DesignMatrix, DesignMatrix]:
    """The training rows and the held-out rows (of held-out ``fold``) of ``table``."""
    matrix = design_matrix(table, definition, missing_indicators=missing_indicators)
    split = holdout_split(table, fold=fold)
    return matrix.rows(split.train), matrix.rows(split.test)
