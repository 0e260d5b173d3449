"""Revocation reaches everything not yet in a block: a revoked member's accepted updates enter no
aggregate, no proposal and no block, and earn nothing; blocks already appended stay as they are."""

from __future__ import annotations

from typing import Any

from consortium.ledger.contract import codes
from consortium.ledger.contract.scenario import Scenario, example_task

from .flows import accepted_update, endorse, finalize, proposal_args, reveal, submit


def _aggregate(sc: Scenario, updates: list[Any]) -> dict[str, Any]:
    """PostAggregate args over ``updates`` (weights and shares as `proposal_args` gives them)."""
    proposal = proposal_args(sc, updates)
    fields = ("task_id", "updates", "weights_ppm", "contribution_ppm", "aggregate_digest")
    return {name: proposal[name] for name in fields}


def _revoke(sc: Scenario, member_id: str) -> None:
    sc.ok("admin", "RevokeMember", {"member_id": member_id})


def _balance(sc: Scenario, member_id: str) -> int:
    return int(sc.ok("aud", "GetBalance", {"member_id": member_id})["units"])


def _status(sc: Scenario, update: Any) -> str:
    args = {"task_id": "heart", "update_id": update["update_id"]}
    return str(sc.ok("aud", "GetUpdate", args)["status"])


def test_an_aggregate_naming_a_revoked_members_update_is_refused(sc: Scenario) -> None:
    mine, other = accepted_update(sc, "h1"), accepted_update(sc, "h2")
    _revoke(sc, "h1")

    refused = sc.run("agg", "PostAggregate", _aggregate(sc, [other, mine]))

    assert refused.code == codes.MEMBER_REVOKED
    assert mine["update_id"] in refused.message and "'h1'" in refused.message
    assert sc.run("agg", "PostAggregate", _aggregate(sc, [other])).valid


def test_an_aggregate_posted_before_the_revocation_can_no_longer_be_proposed(
    sc: Scenario,
) -> None:
    mine, other = accepted_update(sc, "h1"), accepted_update(sc, "h2")
    aggregate = sc.ok("agg", "PostAggregate", _aggregate(sc, [mine, other]))
    _revoke(sc, "h1")

    args = proposal_args(sc, [mine, other], aggregate_id=aggregate["aggregate_id"])
    refused = sc.run("h2", "ProposeBlock", args)

    assert refused.code == codes.MEMBER_REVOKED
    assert mine["update_id"] in refused.message and "'h1'" in refused.message
    without = sc.run("h2", "ProposeBlock", proposal_args(sc, [mine, other]))
    assert without.code == codes.MEMBER_REVOKED  # a proposal naming no aggregate as well


def test_an_open_proposal_closes_without_a_block_once_a_contributor_is_revoked(
    sc: Scenario,
) -> None:
    mine, other = accepted_update(sc, "h1"), accepted_update(sc, "h2")
    proposal = sc.ok("h3", "ProposeBlock", proposal_args(sc, [mine, other]))
    _revoke(sc, "h1")

    result = finalize(sc, proposal)  # a quorum of accepts, the gain above the requirement

    assert result["proposal_status"] == "member_revoked" and result["block"] is None
    assert sc.ok("aud", "GetHead", {"task_id": "heart"})["height"] == 0
    assert [_balance(sc, m) for m in ("h1", "h2", "h3")] == [0, 0, 0]
    assert _status(sc, mine) == "accepted"  # in no block, and none will take it
    assert sc.run("h2", "ProposeBlock", proposal_args(sc, [other])).valid


def test_an_open_proposal_closes_without_a_block_once_its_sealer_is_revoked(
    sc: Scenario,
) -> None:
    update = accepted_update(sc, "h1")
    proposal = sc.ok("h2", "ProposeBlock", proposal_args(sc, [update]))
    _revoke(sc, "h2")

    result = finalize(sc, proposal)

    assert result["proposal_status"] == "member_revoked" and result["block"] is None
    assert _balance(sc, "h2") == 0 and _balance(sc, "h1") == 0


def test_the_next_block_leaves_the_revoked_member_out_and_pays_the_others(sc: Scenario) -> None:
    mine, other = accepted_update(sc, "h1"), accepted_update(sc, "h2")
    _revoke(sc, "h1")
    aggregate = sc.ok("agg", "PostAggregate", _aggregate(sc, [other]))
    args = proposal_args(sc, [other], aggregate_id=aggregate["aggregate_id"])
    proposal = sc.ok("h3", "ProposeBlock", args)

    block = finalize(sc, proposal)["block"]

    assert block["updates"] == [other["update_id"]]
    assert block["rewards"] == {"h3": 100, "h2": 900}  # sealer share 10 % of 1000
    assert _balance(sc, "h1") == 0 and _status(sc, mine) == "accepted"


def test_a_block_appended_before_the_revocation_keeps_its_updates_and_rewards(
    sc: Scenario,
) -> None:
    update = accepted_update(sc, "h1")
    finalize(sc, sc.ok("h2", "ProposeBlock", proposal_args(sc, [update])))
    _revoke(sc, "h1")

    assert _status(sc, update) == "included"
    assert _balance(sc, "h1") == 900
    version = sc.ok("aud", "GetVersion", {"task_id": "heart", "version": 1})
    assert version["updates"] == [update["update_id"]] and version["rewards"]["h1"] == 900


def test_a_committee_seat_of_a_member_revoked_before_its_verdict_leaves_the_committee(
    sc: Scenario,
) -> None:
    update = submit(sc, "h1")
    reveal(sc, update)
    first, second, third = update["committee"]  # committee 3, quorum 2
    assert endorse(sc, update, first, "accept").valid
    assert endorse(sc, update, second, "reject").valid
    assert _status(sc, update) == "pending"  # the third verdict decides

    _revoke(sc, third)  # it never can: its seat leaves, as an abstention's does

    assert endorse(sc, update, third, "accept").code == codes.MEMBER_REVOKED
    assert _status(sc, update) == "rejected"  # 2 seats, 1 reject: 2 accepts cannot come


def test_a_full_quorum_can_still_accept_once_a_committee_member_is_revoked(
    sc: Scenario,
) -> None:
    sc.ok("admin", "PublishTask", {"task": example_task("strict", quorum=3)})
    update = submit(sc, "h1", task="strict")
    reveal(sc, update)
    first, second, third = update["committee"]
    endorse(sc, update, first)
    endorse(sc, update, second)
    view = {"task_id": "strict", "update_id": update["update_id"]}
    assert sc.ok("aud", "GetUpdate", view)["status"] == "pending"

    _revoke(sc, third)

    assert sc.ok("aud", "GetUpdate", view)["status"] == "accepted"  # 2 accepts of 2 seats
