"""A learning block's time never goes back: ProposeBlock refuses a proposal stamped before the head.

The gate, retargeting and the decaying requirement all read ``interval_ms`` from the proposal's
own (client-set) timestamp. A proposal stamped before the head used to be accepted with its
interval clamped to 0 and its block's ``ms`` behind its parent's: the next proposal's interval
then counted the whole back-dating again, so one back-dated block let the next one meet the
task's floor requirement seconds later (and fed retargeting a window longer than real time).
"""

from __future__ import annotations

from consortium.ledger.base import Creator
from consortium.ledger.contract import codes
from consortium.ledger.contract.scenario import Scenario, example_task

from .conftest import GENESIS, member_args
from .flows import accepted_update, finalize, proposal_args

YEAR_MS = 365 * 86_400_000


def _decaying(people: dict[str, Creator]) -> Scenario:
    """Task heart without a gate (the default) and with the template's decay (k = 4)."""
    sc = Scenario(people)
    sc.ok("admin", "Bootstrap", {"members": [member_args(people[n]) for n in GENESIS]})
    task = example_task("heart", gain_decay_intervals=4, retarget_every=100)
    sc.ok("admin", "PublishTask", {"task": task})
    return sc


def test_a_proposal_stamped_before_the_head_is_too_early(people: dict[str, Creator]) -> None:
    sc = _decaying(people)
    u1 = accepted_update(sc, "h1")
    head = sc.ok("aud", "GetHead", {"task_id": "heart"}, after_ms=0)

    backdated = sc.run("h1", "ProposeBlock", proposal_args(sc, [u1]), after_ms=-YEAR_MS)

    assert backdated.code == codes.TOO_EARLY, (backdated.code, backdated.result)
    assert "before the head" in backdated.message
    assert backdated.writes == {}
    assert sc.ok("aud", "GetHead", {"task_id": "heart"}, after_ms=0) == head


def test_the_next_block_cannot_claim_time_that_did_not_pass(people: dict[str, Creator]) -> None:
    sc = _decaying(people)
    u1 = accepted_update(sc, "h1")
    sc.now_ms += 60_000  # block 1 is proposed on time
    args = proposal_args(sc, [u1])
    sc.now_ms -= YEAR_MS  # ... but stamped a year back
    first = sc.run("h1", "ProposeBlock", args)
    sc.now_ms += YEAR_MS
    if first.valid:  # before the fix: block 1 lands a year behind its parent
        assert finalize(sc, first.result)["proposal_status"] == "final"
    else:  # with the fix: the sealer proposes again, stamped honestly
        assert first.code == codes.TOO_EARLY
        honest = sc.ok("h1", "ProposeBlock", proposal_args(sc, [u1]))
        assert finalize(sc, honest)["proposal_status"] == "final"
    u2 = accepted_update(sc, "h2", base=1)

    second = sc.ok("h2", "ProposeBlock", proposal_args(sc, [u2]))

    # a few seconds after block 1: the head's requirement holds, undecayed
    assert second["interval_ms"] < 60_000
    assert second["required_gain_bp"] == 50
