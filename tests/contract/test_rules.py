"""Contract rules beyond single vectors: atomicity, identity, MVCC-friendly keys, life cycles."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest

from consortium.ledger.base import Creator
from consortium.ledger.contract import codes
from consortium.ledger.contract._updates import sml_commitment
from consortium.ledger.contract.committee import draw_committee
from consortium.ledger.contract.memory import MemoryState
from consortium.ledger.contract.scenario import Scenario, example_task

from .flows import (
    accepted_update,
    endorse,
    finalize,
    nonce,
    proposal_args,
    reveal,
    submit,
    submit_args,
)


def test_a_rejected_transaction_changes_nothing(sc: Scenario) -> None:
    before = sc.state.items()
    update = submit(sc, "h1")
    after_submit = sc.state.items()

    again = sc.run("h1", "SubmitUpdate", {**_submit_args(update), "model_digest": "0" * 64})

    assert again.code == codes.DUPLICATE_SUBMISSION
    assert again.writes == {}
    assert sc.state.items() == after_submit != before


def _submit_args(update: dict) -> dict:
    fields = ("task_id", "base_version", "model_digest", "n_samples", "epsilon_spent", "commitment")
    return {name: update[name] for name in fields}


def test_the_same_certificate_rewrapped_is_the_same_member(
    sc: Scenario, people: dict[str, Creator]
) -> None:
    h1 = people["h1"]
    body = "".join(h1.cert_pem.strip().splitlines()[1:-1])
    rewrapped = "-----BEGIN CERTIFICATE-----\r\n" + "\r\n".join(textwrap.wrap(body, 40))
    rewrapped += "\r\n-----END CERTIFICATE-----\r\n"
    sc.identities["h1-rewrapped"] = h1.model_copy(update={"cert_pem": rewrapped})

    assert rewrapped != h1.cert_pem
    assert sc.run("h1-rewrapped", "SubmitUpdate", _fresh_submit()).valid


def test_another_certificate_under_a_member_id_is_refused(sc: Scenario) -> None:
    outcome = sc.run("rogue-h1", "SubmitUpdate", _fresh_submit())

    assert outcome.code == codes.CERT_MISMATCH


def test_another_msp_with_the_right_certificate_is_refused(
    sc: Scenario, people: dict[str, Creator]
) -> None:
    sc.identities["h1-elsewhere"] = people["h1"].model_copy(update={"msp_id": "Org9MSP"})

    assert sc.run("h1-elsewhere", "SubmitUpdate", _fresh_submit()).code == codes.CERT_MISMATCH


def test_roles_come_from_the_ledger_not_the_certificate(
    sc: Scenario, people: dict[str, Creator]
) -> None:
    boasting = people["h1"].model_copy(update={"roles": ("admin", "hospital")})
    sc.identities["h1-boasting"] = boasting

    outcome = sc.run("h1-boasting", "RevokeMember", {"member_id": "h2"})

    assert outcome.code == codes.MISSING_ROLE


def _fresh_submit() -> dict:
    return {
        "task_id": "heart",
        "base_version": 0,
        "model_digest": "a" * 64,
        "n_samples": 10,
        "epsilon_spent": "1",
        "commitment": sml_commitment(nonce("fresh")),
    }


def test_committee_is_the_hash_order_of_active_verifiers_without_the_submitter(
    sc: Scenario,
) -> None:
    sc.ok("admin", "RevokeMember", {"member_id": "v2"})

    update = submit(sc, "h3")

    assert update["committee"] == draw_committee(update["update_id"], ["v1", "v3"], 3)
    assert "h3" not in update["committee"] and "v2" not in update["committee"]
    assert update["quorum"] == 2


def test_update_status_goes_pending_accepted_included(sc: Scenario) -> None:
    update = submit(sc, "h1")
    reveal(sc, update)
    first, second, *_ = update["committee"]

    assert endorse(sc, update, first).valid and _status(sc, update) == "pending"
    assert endorse(sc, update, first).code == codes.ALREADY_ENDORSED
    assert endorse(sc, update, second).valid and _status(sc, update) == "accepted"
    proposal = sc.ok("h2", "ProposeBlock", proposal_args(sc, [update]))
    finalize(sc, proposal)
    view = sc.ok("aud", "GetUpdate", {"task_id": "heart", "update_id": update["update_id"]})
    assert view["status"] == "included" and view["included_height"] == 1


@pytest.mark.parametrize(
    ("verdicts", "statuses"),
    [
        # committee 3, quorum 2: two rejections of three reject; a later accept changes nothing
        (("reject", "reject", "accept"), ("pending", "rejected", "rejected")),
        # an abstention gives its seat up: two accepts are still needed of the two seats left
        (("abstain", "accept", "accept"), ("pending", "pending", "accepted")),
        # ... so one rejection beside an abstention leaves too few seats to accept
        (("abstain", "reject"), ("pending", "rejected")),
    ],
)
def test_endorsements_decide_an_update_by_the_seat_rule(
    sc: Scenario, verdicts: tuple[str, ...], statuses: tuple[str, ...]
) -> None:
    update = submit(sc, "h1")
    reveal(sc, update)

    for member, verdict, status in zip(update["committee"], verdicts, statuses, strict=False):
        assert endorse(sc, update, member, verdict).valid
        assert _status(sc, update) == status, (verdict, status)


def test_an_update_every_seat_abstained_on_is_rejected_and_cannot_be_included(
    sc: Scenario,
) -> None:
    update = submit(sc, "h1")
    reveal(sc, update)
    for member in update["committee"]:
        endorse(sc, update, member, "abstain")
    other = submit(sc, "h2")
    reveal(sc, other)
    for member in other["committee"][:2]:
        endorse(sc, other, member)

    assert _status(sc, update) == "rejected"
    refused = sc.run("h2", "ProposeBlock", proposal_args(sc, [other, update]))
    assert refused.code == codes.UPDATE_NOT_ACCEPTED
    listed = sc.ok("aud", "ListUpdates", {"task_id": "heart", "status": "rejected"})
    assert [v["update"]["update_id"] for v in listed] == [update["update_id"]]


def test_an_abstention_must_carry_the_reason_unmeasurable(sc: Scenario) -> None:
    update = submit(sc, "h1")
    reveal(sc, update)
    args = {
        "task_id": "heart", "update_id": update["update_id"], "metric_bp": 7000, "scores": {},
    }  # fmt: skip
    member = update["committee"][0]

    for verdict, reason in (("abstain", "OK"), ("abstain", "NORM_OUTLIER"),
                            ("reject", "UNMEASURABLE"), ("accept", "UNMEASURABLE")):  # fmt: skip
        outcome = sc.run(member, "Endorse", {**args, "verdict": verdict, "reason": reason})
        assert outcome.code == codes.BAD_ARGS, (verdict, reason)
        assert "UNMEASURABLE" in outcome.message or "OK" in outcome.message


def _status(sc: Scenario, update: dict) -> str:
    args = {"task_id": update["task_id"], "update_id": update["update_id"]}
    return str(sc.ok("aud", "GetUpdate", args)["status"])


def test_concurrent_submissions_and_endorsements_write_disjoint_keys(sc: Scenario) -> None:
    a = sc.run("h1", "SubmitUpdate", submit_args("h1"))
    b = sc.run("h2", "SubmitUpdate", submit_args("h2"))
    reveal(sc, b.result)
    e1, e2 = (endorse(sc, b.result, m) for m in b.result["committee"][:2])

    assert a.valid and b.valid and e1.valid and e2.valid
    assert not set(a.writes) & set(b.writes)
    assert not set(e1.writes) & set(e2.writes)


def test_a_block_pays_exactly_the_block_reward_and_only_its_contributors(sc: Scenario) -> None:
    u1, u2 = accepted_update(sc, "h1"), accepted_update(sc, "h2")
    proposal = sc.ok("h3", "ProposeBlock", proposal_args(sc, [u1, u2]))

    result = finalize(sc, proposal)

    balances = {b["member_id"]: b["units"] for b in sc.ok("aud", "ListBalances", {})}
    assert result["proposal_status"] == "final"
    assert sum(balances.values()) == example_task()["block_reward"]
    assert set(balances) == {"h1", "h2", "h3"}  # h3 sealed; verifiers earn nothing
    assert balances["h3"] == 1000 * 1000 // 10_000


def test_the_lower_median_gain_decides_the_block(sc: Scenario) -> None:
    u1 = accepted_update(sc, "h1")
    proposal = sc.ok("h2", "ProposeBlock", proposal_args(sc, [u1]))

    result = finalize(sc, proposal, gains=(400, 49))  # required 50: the median (49) is too low

    assert result["proposal_status"] == "below_target"
    assert sc.ok("aud", "GetHead", {"task_id": "heart"})["height"] == 0


def test_a_wrong_difficulty_is_refused_and_the_right_one_accepted(sc: Scenario) -> None:
    u1 = accepted_update(sc, "h1")
    args = proposal_args(sc, [u1])

    wrong = sc.run("h2", "ProposeBlock", {**args, "next_required_gain_bp": 49})
    sc.now_ms -= sc.step_ms  # the same proposal time as `args` was computed for
    right = sc.run("h2", "ProposeBlock", args)

    assert wrong.code == codes.WRONG_DIFFICULTY
    assert right.valid


def test_no_float_anywhere_in_the_state_after_two_blocks(sc: Scenario) -> None:
    for height in (1, 2):
        update = accepted_update(sc, "h1", base=height - 1)
        finalize(sc, sc.ok("h2", "ProposeBlock", proposal_args(sc, [update])))

    def refuse(text: str) -> float:
        raise AssertionError(f"float {text} in state")

    values = [json.loads(raw, parse_float=refuse) for raw in sc.state.items().values()]
    assert sc.ok("aud", "GetHead", {"task_id": "heart"})["height"] == 2
    assert len(values) > 30


def test_bad_args_names_the_field(sc: Scenario) -> None:
    outcome = sc.run("h1", "SubmitUpdate", {**_fresh_submit(), "n_samples": "ten"})

    assert outcome.code == codes.BAD_ARGS
    assert "n_samples" in outcome.message


def test_a_float_argument_is_bad_args(sc: Scenario) -> None:
    outcome = sc.run("h1", "SubmitUpdate", {**_fresh_submit(), "n_samples": 10.0})

    assert outcome.code == codes.BAD_ARGS
    assert "float" in outcome.message


def test_queries_never_write(sc: Scenario) -> None:
    before = sc.state.items()

    result = sc.run("aud", "ListVersions", {"task_id": "heart"})

    assert result.valid and result.writes == {} and sc.state.items() == before
    assert [v["height"] for v in result.result] == [0]


def test_memory_range_is_half_open_and_ordered() -> None:
    state = MemoryState({"a/1": b"1", "a/2": b"2", "a0": b"x", "a/0": b"0"})

    assert [k for k, _ in state.range("a/", "a0")] == ["a/0", "a/1", "a/2"]
    assert [k for k, _ in state.range("a/1", "a/2")] == ["a/1"]


def _with_task(people: dict[str, Creator], task: dict[str, Any]) -> Scenario:
    from .conftest import GENESIS, member_args

    sc = Scenario(people)
    sc.ok("admin", "Bootstrap", {"members": [member_args(people[n]) for n in GENESIS]})
    sc.ok("admin", "PublishTask", {"task": task})
    return sc


def test_a_gated_task_refuses_a_proposal_one_millisecond_before_the_gate(
    people: dict[str, Creator],
) -> None:
    # target 10 s, gate 9000 bp: the earliest interval is exactly 9000 ms
    sc = _with_task(people, example_task("heart", target_interval_ms=10_000, min_interval_bp=9000))
    head_ms = sc.ok("aud", "GetHead", {"task_id": "heart"}, after_ms=0)["ms"]
    u1 = accepted_update(sc, "h1")
    assert sc.now_ms + sc.step_ms < head_ms + 8999  # the update was ready before the gate

    sc.now_ms = head_ms + 8999 - sc.step_ms
    early = sc.run("h2", "ProposeBlock", proposal_args(sc, [u1]))
    sc.now_ms = head_ms + 9000 - sc.step_ms
    on_time = sc.run("h2", "ProposeBlock", proposal_args(sc, [u1]))

    assert early.code == codes.TOO_EARLY and "9000 ms" in early.message
    assert early.writes == {}
    assert on_time.valid and on_time.result["interval_ms"] == 9000


def test_without_min_interval_bp_a_task_is_not_gated(people: dict[str, Creator]) -> None:
    task = example_task("heart", target_interval_ms=10**9)
    del task["min_interval_bp"]
    sc = _with_task(people, task)
    u1 = accepted_update(sc, "h1")

    proposal = sc.run("h2", "ProposeBlock", proposal_args(sc, [u1]))

    assert sc.ok("aud", "GetTask", {"task_id": "heart"})["min_interval_bp"] == 0
    assert proposal.valid and proposal.result["interval_ms"] < 10_000
