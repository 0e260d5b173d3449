"""Committees are a pure function of their seed and the candidates; the seed is the task's head
and the submitter (or proposer), or, for a task published without ``committee_seed``, the
transaction id (decisions/0001, "Committees")."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from consortium.ledger.contract.committee import committee_outcome, draw_committee, head_seed
from consortium.ledger.contract.memory import MemoryState
from consortium.ledger.contract.records import Task
from consortium.ledger.contract.scenario import Scenario, example_task, fake_digest

from .flows import endorse, finalize, proposal_args, reveal, submit, submit_args

members = st.lists(st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True), max_size=12)


def test_order_is_sha256_of_tx_id_bar_member() -> None:
    def rank(m: str) -> str:
        return hashlib.sha256(f"tx1|{m}".encode()).hexdigest()

    expected = sorted(["v1", "v2", "v3", "v4"], key=rank)[:2]

    assert draw_committee("tx1", ["v4", "v3", "v2", "v1"], 2) == expected


@given(st.text(min_size=1, max_size=20), members, st.integers(0, 15))
def test_same_inputs_same_committee_whatever_the_order(tx: str, cands: list, size: int) -> None:
    first = draw_committee(tx, cands, size)

    assert first == draw_committee(tx, list(reversed(cands)), size)
    assert len(first) == min(size, len(set(cands)))
    assert set(first) <= set(cands)


def test_different_transactions_draw_different_committees() -> None:
    candidates = [f"v{i}" for i in range(10)]
    drawn = {tuple(draw_committee(f"tx{i}", candidates, 3)) for i in range(20)}

    assert len(drawn) > 10


def _old_rule(size: int, quorum: int, accepts: int, rejects: int) -> str | None:
    """The rule before abstentions: accepted at the quorum, rejected past size − quorum."""
    if accepts >= quorum:
        return "accept"
    return "reject" if rejects > size - quorum else None


@given(st.integers(1, 7), st.data())
def test_without_abstentions_the_outcome_is_the_rule_before_them(
    size: int, data: st.DataObject
) -> None:
    quorum = data.draw(st.integers(1, size))
    accepts = data.draw(st.integers(0, size))
    rejects = data.draw(st.integers(0, size - accepts))

    got = committee_outcome(size, quorum, accepts=accepts, rejects=rejects, abstentions=0)

    assert got == _old_rule(size, quorum, accepts, rejects)


@given(st.integers(1, 7), st.data())
def test_an_abstention_never_weighs_more_than_an_accept(size: int, data: st.DataObject) -> None:
    quorum = data.draw(st.integers(1, size))
    abstentions = data.draw(st.integers(1, size))
    accepts = data.draw(st.integers(0, size - abstentions))
    rejects = data.draw(st.integers(0, size - abstentions - accepts))
    counts = {"accepts": accepts, "rejects": rejects}

    abstaining = committee_outcome(size, quorum, **counts, abstentions=abstentions)
    counts["accepts"] += 1
    accepting = committee_outcome(size, quorum, **counts, abstentions=abstentions - 1)

    # Whatever an abstention lets through, an accept in its place lets through too.
    assert abstaining != "accept" or accepting == "accept"
    assert accepting != "reject" or abstaining == "reject"


def test_committee_of_three_quorum_two_with_abstentions() -> None:
    def outcome(accepts: int, rejects: int, abstentions: int) -> str | None:
        return committee_outcome(3, 2, accepts=accepts, rejects=rejects, abstentions=abstentions)

    assert outcome(1, 0, 1) is None  # one abstention changes nothing: two accepts still needed
    assert outcome(2, 0, 1) == "accept"
    assert outcome(0, 1, 1) == "reject"  # two seats, one rejects: two accepts cannot come
    assert outcome(1, 0, 2) == "accept"  # one seat left: one accept decides
    assert outcome(0, 0, 2) is None
    assert outcome(0, 0, 3) == "reject"  # nobody could judge: fail closed


# --------------------------------------------------------------------------- the draw's seed
# Committee 2 of the 4 verifiers besides h1 (h3, v1, v2, v3): 6 possible committees, so a seed
# the submitter could vary would let it pick one.

SEEDED = {"committee_size": 2, "quorum": 2}


def _publish(sc: Scenario, task_id: str, **fields: Any) -> dict[str, Any]:
    task = example_task(task_id, **SEEDED, **fields)
    sc.ok("admin", "PublishTask", {"task": task})
    return task


def _on_a_copy(sc: Scenario, who: str, fn: str, args: dict[str, Any], tx_id: str) -> Any:
    """Run one transaction with a chosen transaction id, then undo it (state and clock)."""
    saved, now = sc.state, sc.now_ms
    sc.state = MemoryState(saved.items())
    try:
        return sc.ok(who, fn, args, tx_id=tx_id)
    finally:
        sc.state, sc.now_ms = saved, now


def _committees(sc: Scenario, who: str, fn: str, args: dict[str, Any]) -> set[tuple[str, ...]]:
    """The committees of the same transaction sent with 30 different nonces (transaction ids)."""
    return {tuple(_on_a_copy(sc, who, fn, args, tx_id=f"{i:064x}")["committee"]) for i in range(30)}


def test_a_submitter_gets_one_committee_per_head_whatever_its_nonce(sc: Scenario) -> None:
    task = _publish(sc, "seeded", committee_seed="head")

    drawn = _committees(sc, "h1", "SubmitUpdate", submit_args("h1", task="seeded"))

    seed = head_seed("update", "seeded", 0, task["initial_model_digest"], "h1")
    assert drawn == {tuple(draw_committee(seed, ["h3", "v1", "v2", "v3"], 2))}


def test_the_head_seed_is_domain_separated_sha256() -> None:
    digest = "ab" * 32
    text = f"consortium/committee/v1|block|t|3|{digest}|h2"

    assert head_seed("block", "t", 3, digest, "h2") == hashlib.sha256(text.encode()).hexdigest()
    assert head_seed("update", "t", 3, digest, "h2") != head_seed("block", "t", 3, digest, "h2")


def test_a_new_head_draws_anew(sc: Scenario) -> None:
    _publish(sc, "seeded", committee_seed="head")
    first = submit(sc, "h1", task="seeded")
    reveal(sc, first)
    for member in first["committee"]:
        assert endorse(sc, first, member).valid
    proposal = sc.ok("h2", "ProposeBlock", proposal_args(sc, [first], task="seeded"))
    assert finalize(sc, proposal)["proposal_status"] == "final"
    head = sc.ok("admin", "GetHead", {"task_id": "seeded"}, after_ms=0)

    drawn = _committees(sc, "h1", "SubmitUpdate", submit_args("h1", base=1, task="seeded"))

    seed = head_seed("update", "seeded", 1, head["model_digest"], "h1")
    assert drawn == {tuple(draw_committee(seed, ["h3", "v1", "v2", "v3"], 2))}
    # over heads the draw moves: 20 head digests give more than one committee
    heads = {
        tuple(draw_committee(head_seed("update", "seeded", h, fake_digest(f"model {h}"), "h1"),
                             ["h3", "v1", "v2", "v3"], 2))
        for h in range(20)
    }  # fmt: skip
    assert len(heads) > 1


def test_a_proposer_gets_one_committee_per_head_whatever_its_nonce(sc: Scenario) -> None:
    task = _publish(sc, "seeded", committee_seed="head")
    update = submit(sc, "h1", task="seeded")
    reveal(sc, update)
    for member in update["committee"]:
        assert endorse(sc, update, member).valid
    args = proposal_args(sc, [update], task="seeded")

    drawn = _committees(sc, "h2", "ProposeBlock", args)

    seed = head_seed("block", "seeded", 0, task["initial_model_digest"], "h2")
    assert drawn == {tuple(draw_committee(seed, ["h3", "v1", "v2", "v3"], 2))}


def test_a_task_without_committee_seed_keeps_the_transaction_id_draw(sc: Scenario) -> None:
    task = _publish(sc, "legacy")
    args = submit_args("h1", task="legacy")

    drawn = {
        tx_id: _on_a_copy(sc, "h1", "SubmitUpdate", args, tx_id=tx_id)["committee"]
        for tx_id in (f"{i:064x}" for i in range(30))
    }

    cands = ["h3", "v1", "v2", "v3"]
    assert all(c == draw_committee(tx_id, cands, 2) for tx_id, c in drawn.items())
    assert len({tuple(c) for c in drawn.values()}) > 1  # the old draw: the nonce chooses
    # stored as a contract before the field wrote it: a ledger written then replays the same
    stored = json.loads(sc.state.get("task/legacy") or b"{}")
    recorded = {"published_by", "published_ms"}
    later = {"committee_seed", "verdict_timeout_ms", "attest_reasons"}  # stored only when set
    assert set(stored) == set(Task.model_fields) - later | recorded
    assert {k: stored[k] for k in task} == task
    assert sc.ok("aud", "GetTask", {"task_id": "legacy"})["committee_seed"] == "tx"


def test_a_head_seeded_task_is_stored_with_its_seed(sc: Scenario) -> None:
    _publish(sc, "seeded", committee_seed="head")

    stored = json.loads(sc.state.get("task/seeded") or b"{}")

    assert stored["committee_seed"] == "head"


def test_an_unknown_committee_seed_is_refused(sc: Scenario) -> None:
    for value in ("block", None, "", "HEAD"):
        task = example_task("odd", committee_seed=value)
        outcome = sc.run("admin", "PublishTask", {"task": task})
        assert outcome.code == "BAD_ARGS" and "committee_seed" in outcome.message, outcome
