"""``max_staleness`` holds where an update is included, not only where it is submitted: an update
accepted at head h enters no aggregate, proposal or block once its base is older than
head − max_staleness (STALE_BASE; 0001-protocol.md, PostAggregate)."""

from __future__ import annotations

from typing import Any

from consortium.ledger.base import Creator
from consortium.ledger.contract import codes
from consortium.ledger.contract.scenario import Scenario, example_task

from .conftest import GENESIS, member_args
from .flows import accepted_update, finalize, proposal_args


def _aggregate(sc: Scenario, updates: list[Any]) -> dict[str, Any]:
    """PostAggregate args over ``updates`` (weights and shares as `proposal_args` gives them)."""
    proposal = proposal_args(sc, updates)
    fields = ("task_id", "updates", "weights_ppm", "contribution_ppm", "aggregate_digest")
    return {name: proposal[name] for name in fields}


def _block(sc: Scenario, update: Any) -> None:
    proposal = sc.ok("h3", "ProposeBlock", proposal_args(sc, [update]))
    assert finalize(sc, proposal)["proposal_status"] == "final"


def _one_step_stale(people: dict[str, Creator]) -> tuple[Scenario, Any, Any]:
    """Task heart with max_staleness 1; h1's update on version 0 accepted, then two blocks of
    others: the head is 2, so h1's update is 2 versions old. Returns it and a fresh one."""
    sc = Scenario(people)
    sc.ok("admin", "Bootstrap", {"members": [member_args(people[n]) for n in GENESIS]})
    sc.ok("admin", "PublishTask", {"task": example_task("heart", max_staleness=1)})
    old = accepted_update(sc, "h1", 0)
    _block(sc, accepted_update(sc, "h2", 0))
    assert sc.run("agg", "PostAggregate", _aggregate(sc, [old])).valid  # 1 version old: fine
    _block(sc, accepted_update(sc, "h2", 1))
    return sc, old, accepted_update(sc, "h3", 2)


def test_an_aggregate_with_an_update_grown_too_stale_is_refused(
    people: dict[str, Creator],
) -> None:
    sc, old, fresh = _one_step_stale(people)

    refused = sc.run("agg", "PostAggregate", _aggregate(sc, [fresh, old]))

    assert refused.code == codes.STALE_BASE, f"{refused.code}: {refused.message}"
    assert old["update_id"] in refused.message and "leave it out" in refused.message
    assert refused.writes == {}
    assert sc.run("agg", "PostAggregate", _aggregate(sc, [fresh])).valid


def test_a_proposal_with_an_update_grown_too_stale_is_refused(
    people: dict[str, Creator],
) -> None:
    sc, old, fresh = _one_step_stale(people)

    refused = sc.run("h3", "ProposeBlock", proposal_args(sc, [fresh, old]))

    assert refused.code == codes.STALE_BASE, f"{refused.code}: {refused.message}"
    status = sc.ok("aud", "GetUpdate", {"task_id": "heart", "update_id": old["update_id"]})
    assert status["status"] == "accepted"  # the committee's verdict stands; it is never included
