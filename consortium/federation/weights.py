"""Aggregation weights of a buffer of accepted updates: staleness × contribution, as integers.

``w_k = s(τ_k) · c_k`` where
- ``s(τ) = (τ + 1)^(−a)`` is FedAsync's polynomial staleness function (Xie et al., 2019), τ the
  number of versions between the update's base and the head it is aggregated at, and ``a`` the
  task's ``staleness_exponent_bp / 10⁴``;
- ``c_k`` is the update's contribution score by the **entropy weight method** (EWM) over the
  buffer's indicators (BAFL, Feng et al. 2021): data size, the verifiers' metric, agreement with
  the consortium's trajectory (the verifiers' cosine with θ(base) − θ(0), `checks`; 0 on
  version 0, which has none), and deviation (robust norm z), which counts against.

EWM, as implemented in `entropy_scores` (docs/decisions/0007-bafl.md says why each step):
1. normalise each indicator to (0, 1] by the linear ratio ``x / max`` (benefit indicators; a cost
   indicator is first turned into a benefit one, e.g. deviation ``z -> 1 / (1 + |z|)``);
   the ratio keeps proportions (twice the rows, twice the score) where min-max would turn two
   almost equal values into 0 and 1;
2. ``p_ij = x_ij / Σ_i x_ij``; entropy ``e_j = −Σ_i p_ij ln p_ij / ln m`` (m items; e_j = 1 when
   m = 1);
3. indicator weights ``w_j = (1 − e_j) / Σ_k (1 − e_k)`` (equal when every indicator is uniform):
   an indicator on which the updates differ more says more about who contributed what;
4. score ``c_i = Σ_j w_j x_ij`` in (0, 1].

The ledger carries only integers (0001: no floats): ``weights_ppm = max(1, round(w · 10⁶))`` and
``contribution_ppm`` = the scores as shares of 10⁶ (largest remainder, so they sum to exactly 10⁶).
The aggregate uses the integers, never the floats, so anyone recomputes it from the ledger.
Each weight is at most 10⁶, so a buffer of more than 16 updates could sum past
`MAX_WEIGHT_SUM_PPM`, the range of the encrypted sum: the weights are then scaled down together
(only their ratios enter the version, which divides by Σ w_k/s(τ_k), `federation.versions`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from consortium.crypto.params import MAX_WEIGHT_SUM_PPM

__all__ = [
    "BufferWeights",
    "BufferedUpdate",
    "buffer_weights",
    "entropy_scores",
    "indicator_matrix",
    "shares_ppm",
    "staleness_factor",
    "staleness_ppm",
]

PPM = 1_000_000


class BufferedUpdate(BaseModel):
    """An accepted update as the aggregator sees it on the ledger (no plaintext anywhere)."""

    model_config = ConfigDict(frozen=True)

    update_id: str
    member_id: str
    base_version: int
    n_samples: int
    metric_bp: int  # median of the accepting verifiers' metric_bp
    cosine_bp: int = 0  # median trajectory cosine (verifiers' scores; 0 when none has one)
    norm_z_bp: int = 0  # median robust norm z (verifiers' scores)


class BufferWeights(BaseModel):
    """What `PostAggregate` records: update ids, weights and contributions, aligned."""

    updates: list[str]
    weights_ppm: list[int]
    contribution_ppm: list[int]


def staleness_factor(tau: int, exponent_bp: int) -> float:
    """FedAsync's ``s(τ) = (τ + 1)^(−a)`` with ``a = exponent_bp / 10⁴``; ``τ ≥ 0``."""
    if tau < 0:
        raise ValueError(f"staleness must be >= 0, got {tau}")
    return float((tau + 1) ** (-exponent_bp / 10_000))


def staleness_ppm(tau: int, exponent_bp: int) -> int:
    """``s(τ)`` as an integer share of 10⁶ (at least 1): what the version's step divides by
    (`consortium.federation.versions.step_factor`), so that the version depends on integers only."""
    return max(1, round(staleness_factor(tau, exponent_bp) * PPM))


def indicator_matrix(items: Sequence[BufferedUpdate]) -> list[list[float]]:
    """Rows = updates, columns = benefit indicators (data size, metric, agreement, conformity)."""
    rows = []
    for it in items:
        agreement = (1.0 + max(-1.0, min(1.0, it.cosine_bp / 10_000))) / 2.0
        conformity = 1.0 / (1.0 + abs(it.norm_z_bp) / 10_000)
        rows.append(
            [float(max(it.n_samples, 1)), float(max(it.metric_bp, 1)), agreement, conformity]
        )
    return rows


def _ratio_normalise(matrix: list[list[float]]) -> list[list[float]]:
    cols = list(zip(*matrix, strict=True))
    out_cols = []
    for col in cols:
        top = max(col)
        out_cols.append([max(v, 1e-9) / top if top > 0 else 1.0 for v in col])
    return [list(r) for r in zip(*out_cols, strict=True)]


def entropy_scores(matrix: list[list[float]]) -> tuple[list[float], list[float]]:
    """EWM over benefit indicators: (indicator weights, item scores in (0, 1])."""
    if not matrix:
        return [], []
    x = _ratio_normalise(matrix)
    m, k = len(x), len(x[0])
    divergence = []
    for j in range(k):
        col = [x[i][j] for i in range(m)]
        total = sum(col)
        if m == 1:
            e = 1.0
        else:
            p = [v / total for v in col]
            e = -sum(pi * math.log(pi) for pi in p if pi > 0) / math.log(m)
        divergence.append(max(0.0, 1.0 - e))
    d_total = sum(divergence)
    w = [d / d_total for d in divergence] if d_total > 1e-12 else [1.0 / k] * k
    scores = [sum(w[j] * x[i][j] for j in range(k)) for i in range(m)]
    return w, scores


def shares_ppm(values: Sequence[float]) -> list[int]:
    """Split 10⁶ in proportion to ``values`` by the largest-remainder method (ties: lower index)."""
    total = sum(values)
    if total <= 0:
        raise ValueError("shares need a positive total")
    raw = [v * PPM / total for v in values]
    floors = [math.floor(r) for r in raw]
    left = PPM - sum(floors)
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return floors


def buffer_weights(
    items: Sequence[BufferedUpdate], *, head: int, exponent_bp: int
) -> BufferWeights:
    """Weights for aggregating ``items`` at version ``head`` (ordered by update id)."""
    ordered = sorted(items, key=lambda it: it.update_id)
    _, scores = entropy_scores(indicator_matrix(ordered))
    raw = [
        staleness_factor(head - it.base_version, exponent_bp) * c * PPM
        for it, c in zip(ordered, scores, strict=True)
    ]
    # Only the ratios matter (the version divides by Σ w/s(τ)), but the encrypted sum must stay in
    # the CKKS range: past it, scale down, leaving room for rounding up and the floor of 1 each.
    cap, total = MAX_WEIGHT_SUM_PPM - len(raw), sum(raw)
    if total > cap:
        raw = [r * cap / total for r in raw]
    weights = [max(1, round(r)) for r in raw]
    return BufferWeights(
        updates=[it.update_id for it in ordered],
        weights_ppm=weights,
        contribution_ppm=shares_ppm(scores) if ordered else [],
    )
