"""Reward split of one learning block: a sealer share, the rest by contribution.

``block_reward`` integer units per block. The sealer gets ``floor(block_reward × sealer_share_bp /
10000)``; the rest is split over the included updates in proportion to their ``contribution_ppm``
with the largest-remainder (Hamilton) method: each update gets the floor of its exact share, and
the units left over go one each to the updates with the largest remainders, ties by update id. The
sum is exactly ``block_reward`` and no update outside the block earns anything. Integers only, so
the chaincode computes the same split (with BigInt: products may exceed 2**53).

A balance stops at 2**53 − 1 (`credited`), the largest integer the ledger holds (JavaScript
numbers hold it exactly): at the largest `block_reward` (2**40) that is 8,192 blocks to one
member. Refusing the block instead would stop the chain for every member; the units past the cap
are not credited.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple


class Contribution(NamedTuple):
    """One included update: its id, its member and its contribution in ppm."""

    update_id: str
    member_id: str
    contribution_ppm: int


MAX_BALANCE = 2**53 - 1


def credited(balance: int, units: int) -> int:
    """``balance`` plus ``units``, stopping at `MAX_BALANCE` (module docstring)."""
    return min(MAX_BALANCE, balance + units)


def split_by_update(pool: int, contributions: Sequence[Contribution]) -> dict[str, int]:
    """Split ``pool`` units over updates by ``contribution_ppm`` (largest remainder)."""
    total = sum(c.contribution_ppm for c in contributions)
    if pool < 0 or total <= 0:
        raise ValueError("need a non-negative pool and a positive total contribution")
    shares = {c.update_id: pool * c.contribution_ppm // total for c in contributions}
    remainders = sorted(
        contributions, key=lambda c: (-(pool * c.contribution_ppm % total), c.update_id)
    )
    left = pool - sum(shares.values())
    for c in remainders[:left]:
        shares[c.update_id] += 1
    return shares


def split_rewards(
    block_reward: int,
    sealer_share_bp: int,
    sealer: str,
    contributions: Sequence[Contribution],
) -> dict[str, int]:
    """Units per member for one block (members with zero units are left out).

    The sealer's share and its own contributions add up when the sealer also contributed.
    """
    if not 0 <= sealer_share_bp <= 10_000 or block_reward < 0:
        raise ValueError("sealer_share_bp must be in [0, 10000] and block_reward >= 0")
    sealer_units = block_reward * sealer_share_bp // 10_000
    rewards: dict[str, int] = {sealer: sealer_units}
    if sum(c.contribution_ppm for c in contributions) > 0:
        per_update = split_by_update(block_reward - sealer_units, contributions)
        for c in contributions:
            rewards[c.member_id] = rewards.get(c.member_id, 0) + per_update[c.update_id]
    else:
        rewards[sealer] = block_reward
    return {member: units for member, units in sorted(rewards.items()) if units > 0}
