"""A proposal whose attestation committee never reaches its quorum (a drawn attester's node is
down, and the seats left cannot decide without it) does not hold the aggregate: the next sealer in
line proposes it too, on its own committee, when its turn comes.

The contract takes several open proposals of one aggregate at a height, each with the committee
drawn for its sealer (0001-protocol.md, ProposeBlock, Committees); the first to reach its quorum
appends the block and the others close as superseded.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from consortium.federation import sealer

from .doubles import SealerSession

TIMEOUT_S = 2.0  # SealerSession's sealer_timeout_seconds
POSTED_MS = 1_000
HOSPITALS = ("h1", "h2")


AGGREGATE = {"aggregate_id": "agg1", "head": 1, "ms": POSTED_MS, "updates": ["u1", "u2"],
             "weights_ppm": [500_000, 500_000], "contribution_ppm": [500_000, 500_000],
             "aggregate_digest": "d" * 64}  # fmt: skip


def _proposal(sealer_id: str, ms: int, status: str = "open") -> dict[str, Any]:
    return {**AGGREGATE, "height": 2, "sealer": sealer_id, "ms": ms, "status": status}


def _second_in_line() -> str:
    """The hospital that seals ``agg1`` after the other one (the order is drawn per aggregate)."""
    from consortium.ledger.contract.committee import draw_committee

    return draw_committee("agg1", ["h1", "h2"], 2)[1]


def _first_in_line() -> str:
    return ({"h1", "h2"} - {_second_in_line()}).pop()


@pytest.fixture()
def proposed(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(sealer, aggregate id) of every proposal `seal_step` sends."""
    sent: list[tuple[str, str]] = []

    def propose(s: Any, agg: dict[str, Any], head: dict[str, Any]) -> str:
        sent.append((s.member_id, agg["aggregate_id"]))
        return "VALID"

    monkeypatch.setattr(sealer, "_propose", propose)
    return sent


def _seal(node: SealerSession, proposal_ids: list[str]) -> bool:
    return sealer.seal_step(node, [copy.deepcopy(AGGREGATE)], proposal_ids)  # type: ignore[arg-type]


def test_an_open_proposal_past_the_timeout_is_proposed_again_by_the_next_sealer(
    proposed: list[tuple[str, str]],
) -> None:
    # Arrange: the first sealer proposed at once; its proposal is still open when the second
    # sealer's turn comes (one timeout after the aggregate), a timeout after it was made
    turn = POSTED_MS + int(TIMEOUT_S * 1000)
    node = SealerSession(_second_in_line(), HOSPITALS, now_ms=turn + 1)
    node.proposals["p1"] = _proposal(_first_in_line(), ms=POSTED_MS)
    # Act
    did = _seal(node, ["p1"])
    # Assert
    assert did and proposed == [(node.member_id, "agg1")]


def test_an_open_proposal_younger_than_the_timeout_is_waited_for(
    proposed: list[tuple[str, str]],
) -> None:
    # Arrange: the second sealer's turn has come, but the proposal before it was made only just
    turn = POSTED_MS + int(TIMEOUT_S * 1000)
    node = SealerSession(_second_in_line(), HOSPITALS, now_ms=turn + 1)
    node.proposals["p1"] = _proposal(_first_in_line(), ms=turn)
    # Act: once now, and once the proposal has been open for the timeout
    first = _seal(node, ["p1"])
    node.clock_ms = turn + int(TIMEOUT_S * 1000)
    second = _seal(node, ["p1"])
    # Assert: its attesters had the timeout to decide, then the aggregate is proposed again
    assert not first and second and proposed == [(node.member_id, "agg1")]


@pytest.mark.parametrize("status", ["final", "below_target", "rejected", "superseded"])
def test_a_closed_proposal_settles_the_aggregate(
    proposed: list[tuple[str, str]], status: str
) -> None:
    node = SealerSession(_second_in_line(), HOSPITALS, now_ms=POSTED_MS + 60_000)
    node.proposals["p1"] = _proposal(_first_in_line(), ms=POSTED_MS, status=status)
    _seal(node, ["p1"])
    assert proposed == []
    assert node.files[("tasks", "heart", "sealer.json")]["done"] == ["agg1"]


def test_a_sealer_never_proposes_the_same_aggregate_twice(
    proposed: list[tuple[str, str]],
) -> None:
    # Its own proposal is still open long after (its attesters are down): the next sealer's turn
    node = SealerSession(_first_in_line(), HOSPITALS, now_ms=POSTED_MS + 60_000)
    node.proposals["p1"] = _proposal(node.member_id, ms=POSTED_MS)
    _seal(node, ["p1"])
    assert proposed == []
