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


# The task's numbers take the contract's ranges (`records.Task`): a SimConfig the contract would
# refuse stopped a run at its setup with a ValidationError about `Task`, or not at all (a
# planned_updates of 0, a seed past 64 bits at the initial model's generator).
@pytest.mark.parametrize(
    ("field", "value", "bound"),
    [
        ("planned_updates", 0, "of at least 1"),
        ("epochs", 0, "of at least 1"),
        ("batch_size", -32, "of at least 1"),
        ("buffer_size", 0, "of at least 1 and at most 10000"),
        ("committee_size", 0, "of at least 1 and at most 100"),
        ("committee_size", 101, "of at least 1 and at most 100"),
        ("quorum", 0, "of at least 1 and at most 100"),
        ("staleness_exponent_bp", -5000, "of at least 0 and at most 100000"),
        ("max_staleness", -1, "of at least 0 and at most 1000000"),
        ("server_lr_bp", 0, "of at least 1 and at most 100000"),
        ("retarget_every", 0, "of at least 1 and at most 1000"),
        ("target_interval_ms", 0, "of at least 1 and at most 1099511627776"),
        ("min_interval_bp", 10_001, "of at least 0 and at most 10000"),
        ("gain_decay_intervals", -1, "of at least 0 and at most 1000"),
        ("initial_required_gain_bp", 10_001, "of at least -10000 and at most 10000"),
        ("min_required_gain_bp", -10_001, "of at least -10000 and at most 10000"),
        ("verdict_timeout_ms", -1, "of at least 0 and at most 1099511627776"),
        ("kill_every_blocks", 0, "of at least 1"),
        ("seed", -1, "of at least 0 and at most 18446744073709551615"),
        ("seed", 2**64, "of at least 0 and at most 18446744073709551615"),
    ],
)
def test_a_whole_number_outside_its_range_is_refused(field: str, value: int, bound: str) -> None:
    with pytest.raises(ValidationError) as caught:
        SimConfig(**{field: value})  # type: ignore[arg-type]
    message = str(caught.value)
    assert f"{field} must be a whole number {bound} (got {value})" in message
    default = SimConfig.model_fields[field].default
    assert f"e.g. {field}={6 if default is None else default}" in message


def test_a_quorum_above_the_committee_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        SimConfig(committee_size=2, quorum=3)
    message = str(caught.value)
    assert "quorum 3 is above committee_size 2" in message and "e.g. quorum=2" in message


@pytest.mark.parametrize(
    "gains",
    [
        {"min_required_gain_bp": -100, "initial_required_gain_bp": -500},
        {"initial_required_gain_bp": 600, "max_required_gain_bp": 500},
    ],
)
def test_the_initial_required_gain_lies_between_the_floor_and_the_cap(
    gains: dict[str, int],
) -> None:
    with pytest.raises(ValidationError, match="min_required_gain_bp <= initial_required_gain_bp "
                       "<= max_required_gain_bp"):  # fmt: skip
        SimConfig(**gains)


def test_a_hidden_layer_of_no_unit_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"hidden \(16, 0\): a hidden layer of 0 units"):
        SimConfig(hidden=(16, 0))


def test_the_ends_and_the_zeros_meaning_none_are_kept() -> None:
    none = SimConfig(min_interval_bp=0, gain_decay_intervals=0, max_staleness=0,
                     staleness_exponent_bp=0, verdict_timeout_ms=0)  # fmt: skip
    assert (none.min_interval_bp, none.gain_decay_intervals, none.max_staleness) == (0, 0, 0)
    ends = SimConfig(committee_size=100, quorum=100, buffer_size=10_000, retarget_every=1000,
                     target_interval_ms=2**40, seed=2**64 - 1, kill_every_blocks=1,
                     min_required_gain_bp=-10_000, initial_required_gain_bp=10_000,
                     max_required_gain_bp=10_000, train_seed=-3)  # fmt: skip
    assert (ends.quorum, ends.seed, ends.train_seed) == (100, 2**64 - 1, -3)
