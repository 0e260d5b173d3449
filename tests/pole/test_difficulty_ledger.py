"""PoLe difficulty end to end: the real embedded ledger (signed, ordered, validated by the contract)
recomputes the next required gain and refuses a `ProposeBlock` that states another one."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import pytest

from consortium.identity.setup import create_identities
from consortium.ledger.base import Ledger
from consortium.ledger.contract.records import TaskRecord
from consortium.ledger.contract.scenario import example_task
from consortium.ledger.factory import bootstrap_ledger, open_ledger
from consortium.pole.difficulty import next_required_gain
from consortium.pole.sml import commitment

ROLES = {
    "admin": ["admin"],
    "h1": ["hospital", "verifier"],
    "h2": ["hospital", "verifier"],
    "v1": ["verifier"],
}


def _h(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def ledgers(tmp_path: Path) -> dict[str, Ledger]:
    """A consortium on the embedded ledger; task ``heart`` retargets every 2 blocks."""
    return _consortium(tmp_path)


def _consortium(tmp_path: Path, **task_overrides: Any) -> dict[str, Ledger]:
    config = create_identities(tmp_path / "c", "difficulty", ROLES)
    bootstrap_ledger(config, "admin")
    out = {name: open_ledger(config, name) for name in ROLES}
    task = (
        example_task(
            "heart",
            retarget_every=2,
            target_interval_ms=1,
            initial_required_gain_bp=-100,
            min_required_gain_bp=-500,
            max_required_gain_bp=500,
            committee_size=2,
            quorum=2,
        )
        | task_overrides
    )
    out["admin"].submit_ok("PublishTask", {"task": task})
    return out


def _accepted(ledgers: dict[str, Ledger], who: str, base: int) -> str:
    nonce = _h(f"{who}{base}")
    args = {
        "task_id": "heart",
        "base_version": base,
        "model_digest": _h(f"m{who}{base}"),
        "n_samples": 10,
        "epsilon_spent": "1",
        "commitment": commitment(nonce),
    }
    update = ledgers[who].submit_ok("SubmitUpdate", args)
    uid = update["update_id"]
    ledgers[who].submit_ok(
        "RevealNonce",
        {"task_id": "heart", "update_id": uid, "nonce": nonce, "unmapped_digest": _h("u")},
    )
    for member in update["committee"]:
        ledgers[member].submit_ok(
            "Endorse",
            {
                "task_id": "heart",
                "update_id": uid,
                "verdict": "accept",
                "reason": "OK",
                "metric_bp": 7000,
                "scores": {},
            },
        )
    return str(uid)


def _proposal(ledgers: dict[str, Ledger], uid: str, next_bp: int) -> dict[str, Any]:
    head = ledgers["h1"].evaluate("GetHead", {"task_id": "heart"})
    h = head["height"] + 1
    return {
        "task_id": "heart",
        "height": h,
        "parent_digest": head["model_digest"],
        "aggregate_id": "",
        "updates": [uid],
        "weights_ppm": [1_000_000],
        "contribution_ppm": [1_000_000],
        "aggregate_digest": _h(f"a{h}"),
        "model_digest": _h(f"model{h}"),
        "blob_digest": _h(f"blob{h}"),
        "next_required_gain_bp": next_bp,
    }


def _finalize(ledgers: dict[str, Ledger], proposal: dict[str, Any], gain: int) -> Any:
    result = None
    for member in proposal["committee"]:
        result = ledgers[member].submit_ok(
            "AttestBlock",
            {
                "task_id": "heart",
                "proposal_id": proposal["proposal_id"],
                "verdict": "accept",
                "metric_bp": 7000 + gain,
                "base_metric_bp": 7000,
            },
        )
    return result


def test_a_block_stating_another_difficulty_is_rejected(ledgers: dict[str, Ledger]) -> None:
    # Arrange: an accepted update; height 1 is not a retarget height, the bar carries over.
    uid = _accepted(ledgers, "h2", 0)
    head = ledgers["h1"].evaluate("GetHead", {"task_id": "heart"})
    # Act
    wrong = ledgers["h1"].submit(
        "ProposeBlock", _proposal(ledgers, uid, head["required_gain_bp"] + 1)
    )
    right = ledgers["h1"].submit("ProposeBlock", _proposal(ledgers, uid, head["required_gain_bp"]))
    # Assert
    assert wrong.code == "WRONG_DIFFICULTY" and str(head["required_gain_bp"]) in wrong.message
    assert right.valid, right.message
    block = _finalize(ledgers, right.result, gain=50)["block"]
    assert block["next_required_gain_bp"] == head["required_gain_bp"] == -100


def test_retarget_height_is_recomputed_from_the_ledger_intervals(
    ledgers: dict[str, Ledger],
) -> None:
    # Arrange: block 1 final; block 2 retargets from intervals the contract measures itself.
    uid = _accepted(ledgers, "h2", 0)
    first = ledgers["h1"].submit_ok("ProposeBlock", _proposal(ledgers, uid, -100))
    _finalize(ledgers, first, gain=50)
    uid2 = _accepted(ledgers, "h2", 1)
    # Act: a value outside [min, max] can never be the contract's; then the contract's own.
    wrong = ledgers["h1"].submit("ProposeBlock", _proposal(ledgers, uid2, 600))
    stated = int(wrong.message.rsplit(" ", 1)[-1])
    right = ledgers["h1"].submit("ProposeBlock", _proposal(ledgers, uid2, stated))
    if right.code == "WRONG_DIFFICULTY":  # the interval moved by a millisecond: take its value
        stated = int(right.message.rsplit(" ", 1)[-1])
        right = ledgers["h1"].submit("ProposeBlock", _proposal(ledgers, uid2, stated))
    # Assert: the finalized block's stated difficulty is the formula on the recorded intervals.
    assert wrong.code == "WRONG_DIFFICULTY"
    assert right.valid, right.message
    block = _finalize(ledgers, right.result, gain=50)["block"]
    versions = ledgers["h1"].evaluate("ListVersions", {"task_id": "heart"})
    task = TaskRecord.model_validate(ledgers["h1"].evaluate("GetTask", {"task_id": "heart"}))
    intervals = [v["interval_ms"] for v in versions[1:3]]
    assert block["next_required_gain_bp"] == next_required_gain(task, -100, intervals, 2)
    # Target 1 ms per block: blocks came far too slowly, so the bar went down, within the clamp.
    assert -500 <= block["next_required_gain_bp"] < -100


def test_a_late_proposal_is_judged_against_the_decayed_requirement(tmp_path: Path) -> None:
    # Arrange: required 100 bp, floor -500; the head is late after 100 ms and the requirement
    # reaches the floor 2 × 100 ms later. The ledger stamps transactions with the real clock.
    ledgers = _consortium(
        tmp_path, target_interval_ms=100, gain_decay_intervals=2, initial_required_gain_bp=100
    )
    head = ledgers["h1"].evaluate("GetHead", {"task_id": "heart"})
    uid = _accepted(ledgers, "h2", 0)
    time.sleep(max(0.0, (head["ms"] + 301 - time.time_ns() // 1_000_000) / 1000))
    # Act: the same gain of -400 bp, far below the head's 100 bp
    proposal = ledgers["h1"].submit_ok("ProposeBlock", _proposal(ledgers, uid, 100))
    block = _finalize(ledgers, proposal, gain=-400)["block"]
    # Assert: the proposal recorded the floor (300+ ms after the head), the block was appended
    # against it and says so; the next block starts again from the head's undecayed 100 bp.
    assert proposal["interval_ms"] >= 300 and proposal["required_gain_bp"] == -500
    assert block is not None and block["required_gain_bp"] == -500 and block["gain_bp"] == -400
    assert ledgers["h1"].evaluate("GetHead", {"task_id": "heart"})["required_gain_bp"] == 100


def test_without_decay_the_same_late_proposal_falls_below_target(tmp_path: Path) -> None:
    ledgers = _consortium(tmp_path, target_interval_ms=100, initial_required_gain_bp=100)
    head = ledgers["h1"].evaluate("GetHead", {"task_id": "heart"})
    uid = _accepted(ledgers, "h2", 0)
    time.sleep(max(0.0, (head["ms"] + 301 - time.time_ns() // 1_000_000) / 1000))
    proposal = ledgers["h1"].submit_ok("ProposeBlock", _proposal(ledgers, uid, 100))
    result = _finalize(ledgers, proposal, gain=-400)
    assert proposal["required_gain_bp"] == 100
    assert result["proposal_status"] == "below_target" and result["block"] is None
