"""PoLe difficulty: the gain a learning block must show, retargeted toward a steady block rate.

Proof of Work keeps its block interval near a target by retargeting a hash difficulty; its
intervals stay exponential (coefficient of variation ≈ 1). Proof of Learning (Lan et al., "Proof
of Learning (PoLe): Empowering Neural Network Training with Consensus Building on Blockchains",
2021) replaces the hash puzzle with a required model improvement. Here the requirement is the
*attested gain* of the task metric over the parent version, in basis points, and the contract
retargets it every ``retarget_every`` blocks from the intervals just observed:

    target = retarget_every × target_interval_ms
    actual = sum(intervals), clamped to [floor(target / 4), 4 × target]
    adjust = max(50, |old|)
    new    = old + floor(adjust × (target − actual) / max(target, actual))
    new    clamped to [min_required_gain_bp, max_required_gain_bp]

The step is bounded by ±0.75 × adjust whatever the intervals were (the ratio lies in [−0.75,
0.75] after the clamp), so one very slow period cannot swing the bar from a large gain to a large
loss; it is continuous at ``actual == target`` and decreases as ``actual`` grows, so blocks that
came faster never lower the bar. ``min_required_gain_bp`` may be negative: once the model
plateaus, the chain still advances at the target rate while tolerating that much metric noise.

The target-interval gate. Retargeting alone does not steady the rate once the attested gain is
mostly evaluation noise (AUROC on held-out sets of a few dozen rows): the time until a noisy
measurement first crosses a threshold has a long tail, and a bar at the plateau tolerance lets the
first arriving update through, so intervals are as irregular as Proof of Work's or worse
(docs/decisions/0009-pole.md, measured by ``bench/pole_block_rate.py``). A task may therefore set
``min_interval_bp``: the contract refuses (``TOO_EARLY``) a proposal made less than
``min_interval_bp``/10⁴ of ``target_interval_ms`` after the head,

    too early  ⇔  interval_ms × 10000 < target_interval_ms × min_interval_bp

(exact integers, no rounding: the earliest accepted interval is the ceiling of the product over
10⁴). The gate bounds intervals from below; the learning condition is unchanged (the attested
gain must still meet the requirement), and retargeting still lowers the bar when blocks come too
slowly and raises it when they come faster than the target. ``min_interval_bp = 0`` (the default)
is no gate. Keeping the step floor at 50 bp is deliberate: with a gate, windows that come early
are at least ``min_interval_bp``/10⁴ of the target long, so the upward signal is at most
``1 − min_interval_bp/10⁴`` of the step; a smaller floor could no longer lift a bar that sits at 0
and the requirement would collapse to "any update" at the gate.

In a simulation where training gains a drifting number of basis points per second without
evaluation noise, retargeting alone keeps the mean interval within 5 % of the target with a
coefficient of variation of at most 0.3 (`tests/contract/test_difficulty.py`); with evaluation
noise, the gate is what brings it under 0.3 (``bench/pole_block_rate.py``).

The decaying requirement (liveness). Retargeting acts only when a block is appended, so a bar the
model can no longer meet (its gain per block has fallen below the requirement and the attested
gains are not noisy enough to cross it) would stop the chain for good; the aggregator would sum
the same updates again and again. A task may therefore set ``gain_decay_intervals`` (k): once the
head is older than the target interval, the requirement a proposal must meet falls linearly from
the head's ``required_gain_bp`` (r) to ``min_required_gain_bp`` (m, the task's plateau tolerance)
over the next k target intervals T,

    late     = interval_ms − T
    required = r                                   if k = 0, late ≤ 0 or r ≤ m
             = max(m, r − floor((r − m) × late / (k × T)))   otherwise

and the proposal records the requirement at its own interval; the block is appended if the
attested gain meets that number. The learning condition is unchanged in kind (a block still needs
the committee's median attested gain to reach a bar the task set), it only stops waiting for a gain
that no longer comes. Retargeting still starts from the head's undecayed requirement; the long
interval in its window then lowers the bar for the blocks after. ``gain_decay_intervals = 0`` (the
default) is no decay, so tasks published before keep their rule.

Integer arithmetic only, floor division toward −∞ (the chaincode uses BigInt with the same floor):
every peer computes the same number.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

MIN_ADJUST_BP = 50


class DifficultyParams(Protocol):
    """The task fields retargeting reads (a `Task` record satisfies it)."""

    @property
    def target_interval_ms(self) -> int: ...

    @property
    def retarget_every(self) -> int: ...

    @property
    def min_required_gain_bp(self) -> int: ...

    @property
    def max_required_gain_bp(self) -> int: ...


class DecayParams(Protocol):
    """The task fields the decaying requirement reads (a `Task` record satisfies it)."""

    @property
    def target_interval_ms(self) -> int: ...

    @property
    def min_required_gain_bp(self) -> int: ...

    @property
    def gain_decay_intervals(self) -> int: ...


class GateParams(Protocol):
    """The task fields the target-interval gate reads (a `Task` record satisfies it)."""

    @property
    def target_interval_ms(self) -> int: ...

    @property
    def min_interval_bp(self) -> int: ...


def earliest_interval_ms(task: GateParams) -> int:
    """The shortest interval the gate accepts: ⌈target_interval_ms × min_interval_bp / 10⁴⌉."""
    return -((-task.target_interval_ms * task.min_interval_bp) // 10_000)


def too_early(task: GateParams, interval_ms: int) -> bool:
    """Whether a proposal ``interval_ms`` after the head falls before the target-interval gate."""
    return interval_ms * 10_000 < task.target_interval_ms * task.min_interval_bp


def required_gain_at(task: DecayParams, head_required_gain_bp: int, interval_ms: int) -> int:
    """The gain a proposal made ``interval_ms`` after the head must show (module docstring)."""
    late = interval_ms - task.target_interval_ms
    floor_bp = task.min_required_gain_bp
    if task.gain_decay_intervals == 0 or late <= 0 or head_required_gain_bp <= floor_bp:
        return head_required_gain_bp
    span = task.gain_decay_intervals * task.target_interval_ms
    drop = ((head_required_gain_bp - floor_bp) * late) // span
    return max(floor_bp, head_required_gain_bp - drop)


def is_retarget_height(task: DifficultyParams, height: int) -> bool:
    """Whether the block at ``height`` recomputes the requirement for its successor."""
    return height >= 1 and height % task.retarget_every == 0


def retarget(task: DifficultyParams, old_bp: int, intervals_ms: Sequence[int]) -> int:
    """The formula of the module docstring for ``old_bp`` and the window's intervals."""
    target = task.retarget_every * task.target_interval_ms
    actual = min(max(sum(intervals_ms), target // 4), 4 * target)
    adjust = max(MIN_ADJUST_BP, abs(old_bp))
    new = old_bp + (adjust * (target - actual)) // max(target, actual)
    return min(max(new, task.min_required_gain_bp), task.max_required_gain_bp)


def next_required_gain(
    task: DifficultyParams,
    parent_required_gain_bp: int,
    recent_intervals_ms: Sequence[int],
    height: int,
) -> int:
    """The gain required of block ``height + 1``, as block ``height`` must state it.

    ``parent_required_gain_bp`` is the requirement block ``height`` itself had to meet (its
    parent's ``next_required_gain_bp``). At a retarget height, ``recent_intervals_ms`` are the
    intervals of blocks ``height − retarget_every + 1 … height`` (oldest first, the last one is
    block ``height``'s own); elsewhere the requirement carries over unchanged and they are ignored.
    """
    if not is_retarget_height(task, height):
        return parent_required_gain_bp
    if len(recent_intervals_ms) != task.retarget_every:
        raise ValueError(
            f"retargeting at height {height} needs {task.retarget_every} intervals, "
            f"got {len(recent_intervals_ms)}"
        )
    if any(interval < 0 for interval in recent_intervals_ms):
        raise ValueError("intervals must not be negative")
    return retarget(task, parent_required_gain_bp, recent_intervals_ms)
