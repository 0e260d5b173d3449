"""A task's ``verdict_timeout_ms``: a committee seat that has given no endorsement that long after
the update's reveal counts as an abstention, as a seat revoked before its verdict does
(decisions/0007, "A verifier whose node is down"). Derived from the ledger and the transaction's
timestamp, like every status; 0 (or absent) keeps the rule before: no timeout."""

from __future__ import annotations

from typing import Any

from consortium.ledger.contract import codes
from consortium.ledger.contract.scenario import Scenario, example_task

from .flows import endorse, proposal_args, reveal, submit

TIMEOUT_MS = 60_000


def _publish(sc: Scenario, task_id: str, timeout_ms: int) -> Any:
    task = example_task(task_id, verdict_timeout_ms=timeout_ms)
    return sc.ok("admin", "PublishTask", {"task": task})


def _status(sc: Scenario, update: Any, after_ms: int = 0) -> str:
    args = {"task_id": update["task_id"], "update_id": update["update_id"]}
    return str(sc.ok("aud", "GetUpdate", args, after_ms=after_ms)["status"])


def _silent_seat(sc: Scenario, task_id: str, second: str, who: str = "h1") -> tuple[Any, str]:
    """``who``'s update on ``task_id``, revealed; one seat accepts, one gives ``second``, one is
    silent. Returns the update and the silent member."""
    update = submit(sc, who, task=task_id)
    reveal(sc, update)
    first, other, silent = update["committee"]
    assert endorse(sc, update, first).valid
    assert endorse(sc, update, other, second).valid
    return update, silent


def test_a_silent_seat_keeps_an_update_pending_until_the_timeout_then_abstains(
    sc: Scenario,
) -> None:
    _publish(sc, "timed", TIMEOUT_MS)
    shy, _ = _silent_seat(sc, "timed", "abstain")
    split, _ = _silent_seat(sc, "timed", "reject", who="h2")

    seen = []
    for update in (shy, split):
        deadline = _revealed(sc, update) + TIMEOUT_MS
        sc.now_ms = deadline - 1
        before = _status(sc, update)
        sc.now_ms = deadline
        seen.append((before, _status(sc, update)))

    # 1 abstention, 1 accept, 1 expired: 1 seat left; 1 accept, 1 reject, 1 expired: 2 seats
    assert seen == [("pending", "accepted"), ("pending", "rejected")]


def test_without_a_timeout_the_silent_seat_keeps_the_update_pending(sc: Scenario) -> None:
    stored = _publish(sc, "plain", 0)
    update, _ = _silent_seat(sc, "plain", "abstain")

    status = _status(sc, update, after_ms=10**9)

    assert status == "pending"
    assert "verdict_timeout_ms" not in stored  # stored only when set: the bytes of before


def test_the_silent_seat_can_no_longer_endorse_after_the_timeout(sc: Scenario) -> None:
    _publish(sc, "timed", TIMEOUT_MS)
    update, silent = _silent_seat(sc, "timed", "abstain")
    sc.now_ms = _revealed(sc, update) + TIMEOUT_MS - sc.step_ms

    late = endorse(sc, update, silent, "reject")  # stamped at the deadline

    assert late.code == codes.VERDICT_CLOSED
    assert "verdict_timeout_ms" in late.message and "abstention" in late.message
    assert _status(sc, update) == "accepted"


def test_a_seat_endorsing_in_time_still_counts(sc: Scenario) -> None:
    _publish(sc, "timed", TIMEOUT_MS)
    update, silent = _silent_seat(sc, "timed", "abstain")
    sc.now_ms = _revealed(sc, update) + TIMEOUT_MS - 1 - sc.step_ms

    in_time = endorse(sc, update, silent, "reject")  # stamped 1 ms before the deadline

    assert in_time.valid
    assert _status(sc, update, after_ms=10**9) == "rejected"  # 2 seats, 1 accept, 1 reject


def test_the_aggregate_and_the_proposal_see_the_expired_seat(sc: Scenario) -> None:
    _publish(sc, "timed", TIMEOUT_MS)
    update, _ = _silent_seat(sc, "timed", "abstain")
    args = proposal_args(sc, [update], task="timed")
    refused = sc.run("h2", "ProposeBlock", args)
    assert refused.code == codes.UPDATE_NOT_ACCEPTED and "pending" in refused.message

    sc.now_ms = _revealed(sc, update) + TIMEOUT_MS
    proposal = sc.run("h2", "ProposeBlock", proposal_args(sc, [update], task="timed"))

    assert proposal.valid, proposal.message


def test_an_unrevealed_update_never_times_out(sc: Scenario) -> None:
    _publish(sc, "timed", TIMEOUT_MS)
    update = submit(sc, "h1", task="timed")

    status = _status(sc, update, after_ms=10**9)

    assert status == "pending"  # verification starts at the reveal: no seat is due before it


def test_a_negative_or_float_timeout_is_refused(sc: Scenario) -> None:
    for bad in (-1, 1.5):
        task = example_task(f"bad{int(bad * 10) + 20}", verdict_timeout_ms=bad)
        refused = sc.run("admin", "PublishTask", {"task": task})
        assert refused.code == codes.BAD_ARGS and "verdict_timeout_ms" in refused.message


def _revealed(sc: Scenario, update: Any) -> int:
    args = {"task_id": update["task_id"], "update_id": update["update_id"]}
    return int(sc.ok("aud", "GetUpdate", args, after_ms=0)["update"]["revealed_ms"])
