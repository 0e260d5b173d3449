"""An attester's reject says why, on the ledger (`AttestBlock.reason`, decisions/0001): a reason
goes with a reject and with nothing else, and a task published with ``attest_reasons`` refuses a
reject without one (REASON_MISSING). A task published before the field (none stored) takes a
reject without a reason as it always did, and the contract writes the bytes it wrote then, so a
ledger written before the reasons replays (`ledger verify`)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from consortium.canonical import canonical_json
from consortium.ledger.contract import codes
from consortium.ledger.contract.scenario import Scenario, example_task

from .flows import endorse, proposal_args, reveal, submit


def _proposal(sc: Scenario, task_id: str) -> Any:
    """h1's update on ``task_id``, accepted by its quorum, proposed as version 1 by h1."""
    update = submit(sc, "h1", task=task_id)
    reveal(sc, update)
    for member in update["committee"][: update["quorum"]]:
        assert endorse(sc, update, member).valid
    return sc.ok("h1", "ProposeBlock", proposal_args(sc, [update], task=task_id))


def _attest(proposal: Any, verdict: str, **extra: Any) -> dict[str, Any]:
    return {
        "task_id": proposal["task_id"], "proposal_id": proposal["proposal_id"],
        "verdict": verdict, "metric_bp": 7300 if verdict == "accept" else 0,
        "base_metric_bp": 7000, **extra,
    }  # fmt: skip


def _attestations(sc: Scenario, proposal: Any) -> list[Any]:
    args = {"task_id": proposal["task_id"], "proposal_id": proposal["proposal_id"]}
    return list(sc.ok("aud", "GetProposal", args)["attestations"])


def test_a_reject_in_a_task_with_attest_reasons_must_say_why(sc: Scenario) -> None:
    sc.ok("admin", "PublishTask", {"task": example_task("reasons", attest_reasons=True)})
    proposal = _proposal(sc, "reasons")
    member = proposal["committee"][0]

    untold = sc.run(member, "AttestBlock", _attest(proposal, "reject"))
    told = sc.run(member, "AttestBlock", _attest(proposal, "reject", reason="VERSION_MISMATCH"))

    assert untold.code == codes.REASON_MISSING
    assert "reason" in untold.message and "VERSION_MISMATCH" in untold.message  # what to give
    assert told.valid, told
    assert told.result["attestation"]["reason"] == "VERSION_MISMATCH"
    stored = json.loads(sc.state.get(f"attest/{proposal['proposal_id']}/{member}") or b"{}")
    assert stored["reason"] == "VERSION_MISMATCH"
    assert [a["reason"] for a in _attestations(sc, proposal)] == ["VERSION_MISMATCH"]


@pytest.mark.parametrize("verdict", ["accept", "abstain"])
def test_only_a_reject_carries_a_reason(sc: Scenario, verdict: str) -> None:
    proposal = _proposal(sc, "heart")
    member = proposal["committee"][0]

    out = sc.run(member, "AttestBlock", _attest(proposal, verdict, reason="VERSION_MISMATCH"))

    assert out.code == codes.BAD_ARGS
    assert "reason" in out.message and "reject" in out.message
    assert sc.run(member, "AttestBlock", _attest(proposal, verdict)).valid


@pytest.mark.parametrize("reason", ["METRIC_DROP", "OK", "version_mismatch", ""])
def test_a_reason_is_one_of_the_attesters_checks(sc: Scenario, reason: str) -> None:
    proposal = _proposal(sc, "heart")

    out = sc.run(
        proposal["committee"][0], "AttestBlock", _attest(proposal, "reject", reason=reason)
    )

    assert out.code == codes.BAD_ARGS


def test_a_task_published_before_attest_reasons_keeps_its_rule_and_its_bytes(
    sc: Scenario,
) -> None:
    # heart is published as every client did before the field: a reject without a reason is what
    # its attesters sent, and the record it writes is the one a ledger of that time holds.
    proposal = _proposal(sc, "heart")
    first, second, _ = proposal["committee"]
    key = f"attest/{proposal['proposal_id']}/{first}"

    untold = sc.run(first, "AttestBlock", _attest(proposal, "reject"))
    stamped = sc.now_ms
    told = sc.run(second, "AttestBlock", _attest(proposal, "reject", reason="PROPOSAL_LATE"))

    assert "attest_reasons" not in json.loads(sc.state.get("task/heart") or b"{}")
    assert sc.ok("aud", "GetTask", {"task_id": "heart"})["attest_reasons"] is False
    assert untold.valid and told.valid, (untold, told)
    before = {
        "proposal_id": proposal["proposal_id"], "member_id": first, "verdict": "reject",
        "metric_bp": 0, "base_metric_bp": 7000, "ms": stamped,
    }  # fmt: skip
    assert untold.writes[key] == canonical_json(before)
    assert untold.result["attestation"] == before
    assert told.result["attestation"]["reason"] == "PROPOSAL_LATE"  # a newer attester says why
    assert told.result["proposal_status"] == "rejected"
    reasons = {a["member_id"]: a["reason"] for a in _attestations(sc, proposal)}
    assert reasons == {first: None, second: "PROPOSAL_LATE"}


def test_attest_reasons_is_stored_only_when_set(sc: Scenario) -> None:
    told = sc.ok("admin", "PublishTask", {"task": example_task("told", attest_reasons=True)})
    untold = sc.ok("admin", "PublishTask", {"task": example_task("untold", attest_reasons=False)})

    assert told["attest_reasons"] is True
    assert "attest_reasons" not in untold
    assert json.loads(sc.state.get("task/untold") or b"{}") == untold
