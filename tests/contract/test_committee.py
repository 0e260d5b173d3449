"""Committees are a pure function of the transaction id and the candidates."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from consortium.ledger.contract.committee import committee_outcome, draw_committee

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
