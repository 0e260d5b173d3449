"""Pacing a member's ε budget over the updates it plans to send for a task.

DP-SGD's ε composes over every update a member ever sends for a task. A member that picked its
noise for one update at a time would spend the budget in its first few rounds (fast hospitals
first), then fall silent while the model drifts toward those still training. Instead a member
fixes, once per task, the number of updates U it plans (`NodeSettings.planned_updates`) and the
noise multiplier at which U updates of ``epochs × ⌈n/batch⌉`` steps fit the budget
(`consortium.privacy.accountant.noise_for_budget`). The plan is persisted, so a restart keeps the
same noise; the accountant still refuses any run past the budget.

A small safety margin (0.5 % of ε) keeps rounding of the accountant's numerics, and the ledger's
decimal declaration rounded up to 10⁻⁶, from crossing the budget on the last update.
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, Decimal

from pydantic import BaseModel

__all__ = ["PacingPlan", "epsilon_decimal", "plan_pacing"]

MARGIN = 0.995


class PacingPlan(BaseModel):
    """The noise a member trains with for a task, and what it is for."""

    planned_updates: int
    steps_per_update: int
    sample_rate: float
    noise_multiplier: float


def plan_pacing(
    *,
    epsilon_budget: float,
    delta: float,
    accountant: str,
    n_train: int,
    batch_size: int,
    epochs: int,
    planned_updates: int,
) -> PacingPlan:
    """The noise multiplier at which ``planned_updates`` updates fit ``epsilon_budget``."""
    from consortium.privacy.accountant import noise_for_budget

    steps_per_epoch = max(1, math.ceil(n_train / batch_size))
    sample_rate = 1.0 / steps_per_epoch
    steps = epochs * steps_per_epoch
    sigma = noise_for_budget(
        epsilon_budget * MARGIN,
        delta,
        sample_rate,
        steps,
        planned_updates,
        accountant,  # type: ignore[arg-type]
    )
    return PacingPlan(
        planned_updates=planned_updates,
        steps_per_update=steps,
        sample_rate=sample_rate,
        noise_multiplier=sigma,
    )


def epsilon_decimal(epsilon: float) -> str:
    """ε as the ledger's decimal string, rounded *up* to 10⁻⁶ (never under-declare)."""
    return str(Decimal(repr(epsilon)).quantize(Decimal("0.000001"), rounding=ROUND_CEILING))
