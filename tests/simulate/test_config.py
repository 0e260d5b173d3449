"""`SimConfig` refuses, with a message naming the field, a number a run cannot use: a duration
or factor that is infinite, not a number, or not above 0 (`consortium simulate` checks its own
options too; this is what a caller from Python gets)."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from consortium.simulate.config import SimConfig

POSITIVE = ["lr", "flush_seconds", "sync_round_seconds", "sealer_timeout_seconds", "max_seconds"]


@pytest.mark.parametrize("field", POSITIVE)
@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, 0.0, -1.0])
def test_a_duration_or_rate_must_be_finite_and_above_0(field: str, value: float) -> None:
    # SimConfig(max_seconds=float("inf")) was accepted: a run whose nodes stall never ended
    with pytest.raises(ValidationError) as caught:
        SimConfig(**{field: value})  # type: ignore[arg-type]
    message = str(caught.value)
    assert f"{field} must be a finite number greater than 0 (got {value})" in message
    default = SimConfig.model_fields[field].default
    assert f"e.g. {field}={default}" in message


@pytest.mark.parametrize("value", [math.inf, math.nan, -0.5])
def test_update_seconds_must_be_finite_and_not_negative(value: float) -> None:
    with pytest.raises(ValidationError, match=rf"update_seconds must be a finite number of at "
                       rf"least 0 \(got {value}\)"):  # fmt: skip
        SimConfig(update_seconds=value)


@pytest.mark.parametrize("value", [math.inf, math.nan, 0.0, -2.0])
def test_a_speed_factor_must_be_finite_and_above_0(value: float) -> None:
    with pytest.raises(ValidationError) as caught:
        SimConfig(speeds={"va": value})
    message = str(caught.value)
    assert f"speeds: 'va' has factor {value}" in message
    assert "a finite number greater than 0" in message and "{'va': 5.0}" in message


@pytest.mark.parametrize("value", [math.inf, math.nan, 0.0, -0.1, 1.5])
def test_a_target_auroc_must_lie_above_0_and_at_most_1(value: float) -> None:
    with pytest.raises(ValidationError) as caught:
        SimConfig(target_auroc=value)
    message = str(caught.value)
    assert f"target_auroc must be above 0 and at most 1 (got {value})" in message
    assert "e.g. target_auroc=0.85" in message


def test_the_numbers_a_run_can_use_are_kept() -> None:
    cfg = SimConfig(lr=0.05, update_seconds=0.0, flush_seconds=1.0, sync_round_seconds=5.0,
                    sealer_timeout_seconds=600.0, max_seconds=45.0, speeds={"va": 5.0},
                    target_auroc=1.0)  # fmt: skip
    assert (cfg.lr, cfg.update_seconds, cfg.max_seconds, cfg.target_auroc) == (0.05, 0.0, 45, 1)
    assert cfg.speeds == {"va": 5.0} and SimConfig().target_auroc is None
