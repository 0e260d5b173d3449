"""PoLe difficulty retargeting: exact examples and properties (bounded, monotone, calm)."""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consortium.pole.difficulty import (
    earliest_interval_ms,
    next_required_gain,
    required_gain_at,
    retarget,
    too_early,
)


@dataclass(frozen=True)
class Params:
    target_interval_ms: int = 60_000
    retarget_every: int = 2
    min_required_gain_bp: int = -100
    max_required_gain_bp: int = 2000


P = Params()


def test_fast_blocks_raise_the_bar_by_the_worked_example() -> None:
    # target 120000, actual 60000: 50 + floor(50 × 60000 / 120000) = 75
    assert next_required_gain(P, 50, [30_000, 30_000], height=2) == 75


def test_slow_blocks_lower_it_with_floor_toward_minus_infinity() -> None:
    # actual 480000 (the clamp): 50 + floor(50 × −360000 / 480000) = 50 + floor(−37.5) = 12
    assert next_required_gain(P, 50, [240_000, 240_000], height=4) == 12


def test_a_negative_requirement_moves_by_its_own_size() -> None:
    # adjust = max(50, |−80|) = 80: −80 + floor(80 × 0.5) = −40
    assert next_required_gain(P, -80, [30_000, 30_000], height=2) == -40


def test_on_target_nothing_changes_and_off_retarget_heights_carry_over() -> None:
    assert next_required_gain(P, 333, [60_000, 60_000], height=2) == 333
    assert next_required_gain(P, 333, [], height=3) == 333


def test_a_wrong_window_is_an_error() -> None:
    with pytest.raises(ValueError, match="needs 2 intervals"):
        next_required_gain(P, 50, [1], height=2)


gains = st.integers(min_value=-100, max_value=2000)
intervals = st.lists(st.integers(min_value=0, max_value=10**9), min_size=2, max_size=2)


@given(gains, intervals)
def test_result_stays_within_the_task_bounds(old: int, window: list[int]) -> None:
    new = retarget(P, old, window)

    assert P.min_required_gain_bp <= new <= P.max_required_gain_bp


@given(gains, intervals, st.integers(min_value=0, max_value=10**9))
def test_faster_blocks_never_lower_the_bar(old: int, window: list[int], slower_by: int) -> None:
    slower = [window[0], window[1] + slower_by]

    assert retarget(P, old, window) >= retarget(P, old, slower)


@given(gains, intervals)
def test_one_step_moves_at_most_three_quarters_of_adjust(old: int, window: list[int]) -> None:
    adjust = max(50, abs(old))

    new = retarget(Params(min_required_gain_bp=-(10**6), max_required_gain_bp=10**6), old, window)

    assert -0.75 * adjust - 1 <= new - old <= 0.75 * adjust


def _simulate(retarget_every: int, seed: int, blocks: int = 200) -> list[int]:
    """Block intervals when training gains ``rate`` bp per second (halving over 200 blocks, ±20%
    noise per block) and a block needs ``required`` bp: interval = required / rate."""
    rng = random.Random(seed)
    task = Params(retarget_every=retarget_every)
    required, intervals = 50, []
    for height in range(1, blocks + 1):
        rate = 2.0 / (1 + height / 200) * rng.uniform(0.8, 1.2)
        intervals.append(int(max(required, 1) / rate * 1000))
        window = intervals[-retarget_every:] if height % retarget_every == 0 else []
        required = next_required_gain(task, required, window, height)
    return intervals[blocks // 4 :]  # after the warm-up


@pytest.mark.parametrize("retarget_every", [1, 2, 4])
def test_the_controller_holds_the_target_interval_steadily(retarget_every: int) -> None:
    intervals = _simulate(retarget_every, seed=retarget_every)

    mean = statistics.fmean(intervals)
    cv = statistics.pstdev(intervals) / mean
    assert abs(mean - P.target_interval_ms) < 0.05 * P.target_interval_ms
    assert cv <= 0.3  # Proof of Work's exponential intervals have CV = 1


@dataclass(frozen=True)
class Gate:
    target_interval_ms: int
    min_interval_bp: int


def test_the_gate_by_the_worked_example() -> None:
    # 9_999_999 × 8000 / 10000 = 7_999_999.2: 7_999_999 ms is early, 8_000_000 ms is not
    gate = Gate(9_999_999, 8000)
    assert earliest_interval_ms(gate) == 8_000_000
    assert too_early(gate, 7_999_999) and not too_early(gate, 8_000_000)


@given(st.integers(min_value=1, max_value=2**40), st.integers(min_value=0, max_value=10_000))
def test_the_earliest_interval_is_the_first_the_gate_accepts(target: int, bp: int) -> None:
    gate = Gate(target, bp)
    earliest = earliest_interval_ms(gate)

    assert not too_early(gate, earliest)
    assert earliest == 0 or too_early(gate, earliest - 1)
    assert earliest <= target  # a gate never asks for more than the target interval


def test_no_gate_accepts_any_interval() -> None:
    assert earliest_interval_ms(Gate(60_000, 0)) == 0 and not too_early(Gate(60_000, 0), 0)


@dataclass(frozen=True)
class Decay:
    target_interval_ms: int = 60_000
    min_required_gain_bp: int = -100
    gain_decay_intervals: int = 2


def test_the_decaying_requirement_by_the_worked_examples() -> None:
    d = Decay()
    assert required_gain_at(d, 50, 60_000) == 50  # on time: the head's requirement
    assert required_gain_at(d, 50, 120_000) == -25  # half way through 2 intervals: 50 - 75
    assert required_gain_at(d, 50, 150_000) == -62  # 50 - floor(112.5)
    assert required_gain_at(d, 50, 180_000) == -100  # the task's floor ...
    assert required_gain_at(d, 50, 2**52) == -100  # ... and no further
    assert required_gain_at(d, -150, 10**9) == -150  # a bar already below the floor stays
    assert required_gain_at(Decay(gain_decay_intervals=0), 50, 10**9) == 50  # no decay


@given(
    st.integers(min_value=-100, max_value=2000),
    st.integers(min_value=0, max_value=10**9),
    st.integers(min_value=0, max_value=10**9),
    st.integers(min_value=1, max_value=1000),
)
def test_the_requirement_only_falls_with_lateness_and_never_below_the_floor(
    head: int, interval: int, later_by: int, k: int
) -> None:
    d = Decay(gain_decay_intervals=k)
    now, later = required_gain_at(d, head, interval), required_gain_at(d, head, interval + later_by)

    assert d.min_required_gain_bp <= later <= now <= head
    if interval + later_by >= (k + 1) * d.target_interval_ms:
        assert later == d.min_required_gain_bp
