"""Reward split: exact conservation, largest remainder, nothing for outsiders."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from consortium.ledger.base import Creator
from consortium.pole.rewards import Contribution, split_rewards


def test_thirds_share_the_leftover_by_largest_remainder() -> None:
    parts = [
        Contribution("u1", "h1", 333_333),
        Contribution("u2", "h2", 333_333),
        Contribution("u3", "h3", 333_334),
    ]
    # sealer 100; pool 900: floors 299, 299, 300 (sum 898); remainders 999700, 999700, 600
    # -> the two units left go to u1 and u2.
    assert split_rewards(1000, 1000, "s", parts) == {"h1": 300, "h2": 300, "h3": 300, "s": 100}


def test_ties_go_by_update_id() -> None:
    parts = [Contribution("b", "hb", 500_000), Contribution("a", "ha", 500_000)]

    assert split_rewards(3, 0, "s", parts) == {"ha": 2, "hb": 1}


def test_the_sealer_share_adds_to_its_own_contribution() -> None:
    parts = [Contribution("u1", "h1", 1_000_000)]

    assert split_rewards(1000, 2500, "h1", parts) == {"h1": 1000}


contributions = st.lists(
    st.tuples(st.sampled_from(["h1", "h2", "h3", "h4"]), st.integers(0, 1_000_000)),
    min_size=1,
    max_size=8,
).filter(lambda xs: sum(c for _, c in xs) > 0)


@given(st.integers(0, 10**12), st.integers(0, 10_000), contributions)
def test_the_sum_is_exactly_the_block_reward(reward: int, share: int, xs: list) -> None:
    parts = [Contribution(f"u{i}", m, c) for i, (m, c) in enumerate(xs)]

    rewards = split_rewards(reward, share, "sealer", parts)

    assert sum(rewards.values()) == reward
    assert set(rewards) <= {"sealer"} | {m for m, _ in xs}
    assert all(units > 0 for units in rewards.values())


@given(st.integers(0, 10**9), contributions)
def test_each_update_is_within_one_unit_of_its_exact_share(reward: int, xs: list) -> None:
    parts = [Contribution(f"u{i}", f"m{i}", c) for i, (_, c) in enumerate(xs)]
    total = sum(c for _, c in xs)

    rewards = split_rewards(reward, 0, "sealer", parts)

    for part in parts:
        exact = reward * part.contribution_ppm / total
        assert abs(rewards.get(part.member_id, 0) - exact) < 1


def test_a_balance_stops_at_the_largest_integer_the_ledger_holds() -> None:
    # the same cases as chaincode/test/units.test.ts: the two contracts agree at the cap
    from consortium.pole.rewards import MAX_BALANCE, credited

    assert MAX_BALANCE == 2**53 - 1
    assert credited(0, 1000) == 1000
    assert credited(MAX_BALANCE - 10, 10) == MAX_BALANCE
    assert credited(MAX_BALANCE - 10, 2**40) == MAX_BALANCE
    assert credited(MAX_BALANCE, 1) == MAX_BALANCE
    assert credited(2**52, 2**40) == 2**52 + 2**40


def test_a_block_that_would_pass_a_balance_beyond_the_cap_is_appended_at_the_cap(
    people: dict[str, Creator],
) -> None:
    # Before, the payment raised a bare ValidationError out of the contract (no code), and the
    # chaincode wrote a number JavaScript cannot hold: the block could never be appended.
    from consortium.canonical import canonical_json
    from consortium.ledger.contract.scenario import Scenario, example_task
    from consortium.pole.rewards import MAX_BALANCE

    from .conftest import GENESIS, member_args
    from .flows import accepted_update, finalize, proposal_args

    sc = Scenario(people)
    sc.ok("admin", "Bootstrap", {"members": [member_args(people[n]) for n in GENESIS]})
    sc.ok("admin", "PublishTask", {"task": example_task("heart")})
    sc.state.put("balance/h1", canonical_json({"member_id": "h1", "units": MAX_BALANCE - 10}))
    update = accepted_update(sc, "h1")
    finalize(sc, sc.ok("h2", "ProposeBlock", proposal_args(sc, [update])))

    assert sc.ok("aud", "GetHead", {"task_id": "heart"}, after_ms=0)["height"] == 1
    assert sc.ok("aud", "GetBalance", {"member_id": "h1"}, after_ms=0)["units"] == MAX_BALANCE
