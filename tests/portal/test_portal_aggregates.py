"""The aggregator's own work on its Training page: the aggregates it posted (PostAggregate), on
which head, how many updates, and what became of each (which proposal closed it, how)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import portal_ledger as pl
from portal_fixture import TASK, FakeTx


@dataclass
class _Data:
    """The ledger reads `aggregates` makes: tasks, ProposeBlock transactions, contract queries."""

    aggregates: list[dict[str, Any]]
    proposals: dict[str, tuple[str, str, int]] = field(default_factory=dict)  # id: agg, status, h
    head: int = 3

    def tasks(self) -> dict[str, dict[str, Any]]:
        return {TASK: {"task_id": TASK}}

    def valid(self, fn: str) -> list[FakeTx]:
        if fn != "ProposeBlock":
            return []
        return [
            FakeTx(pid, "cleveland", {"task_id": TASK, "aggregate_id": agg, "height": height})
            for pid, (agg, _, height) in self.proposals.items()
        ]

    def query(self, fn: str, args: dict[str, Any]) -> Any:
        if fn == "ListAggregates":
            return self.aggregates
        if fn == "GetHead":
            return {"height": self.head}
        if fn == "GetProposal":
            _, status, height = self.proposals[args["proposal_id"]]
            return {"proposal": {"status": status, "sealer": "cleveland", "height": height}}
        return None


def _agg(aggregate_id: str, head: int, by: str = "aggregator", n: int = 2) -> dict[str, Any]:
    return {"aggregate_id": aggregate_id, "task_id": TASK, "head": head, "by": by,
            "updates": [f"u{i}" for i in range(n)], "ms": 1_795_000_000_000 + head}  # fmt: skip


def test_each_aggregate_says_which_proposal_closed_it_and_how() -> None:
    data = _Data(
        aggregates=[_agg("a1", 1, n=3), _agg("a2", 2), _agg("a3", 2), _agg("a4", 3),
                    _agg("x", 3, by="other")],
        proposals={"p1": ("a1", "final", 2), "p2": ("a2", "below_target", 3),
                   "p4": ("a4", "open", 4)},
    )  # fmt: skip
    table = pl.aggregates(data, by="aggregator")  # type: ignore[arg-type]
    assert list(table["aggregate_id"]) == ["a1", "a2", "a3", "a4"]
    assert list(table["base_version"]) == [1, 2, 2, 3]
    assert list(table["updates"]) == [3, 2, 2, 2]
    assert list(table["proposal_id"]) == ["p1", "p2", "", "p4"]
    assert list(table["status"]) == [
        "in version 2 (sealed by cleveland)",
        "closed: below_target",
        "never proposed: the head moved past its base (head v3)",
        "proposed, attestation open",
    ]


def test_an_aggregate_on_the_head_with_no_proposal_waits_for_a_sealer() -> None:
    table = pl.aggregates(_Data(aggregates=[_agg("a", 3)]), by="aggregator")  # type: ignore[arg-type]
    assert list(table["status"]) == ["waiting for a sealer's proposal"]


def test_the_aggregators_training_page_shows_its_aggregates_not_a_hospitals_sections(
    simulated: Path, portal: Any
) -> None:
    from consortium.config import ConsortiumConfig
    from consortium.ledger.factory import open_ledger

    ledger = open_ledger(ConsortiumConfig.load(simulated), "auditor")
    try:
        posted = ledger.evaluate("ListAggregates", {"task_id": TASK})
    finally:
        ledger.close()
    mine = [a for a in posted if a["by"] == "aggregator"]
    assert mine, "the simulation's aggregator posted aggregates"
    at = portal(simulated, "aggregator", page="training")
    assert not at.exception
    headings = [s.value for s in at.subheader]
    assert "Aggregates this member posted" in headings, headings
    assert "Updates this member submitted" not in headings
    assert "Endorsements received" not in headings
    shown = at.dataframe[0].value
    assert sorted(shown["aggregate_id"]) == sorted(a["aggregate_id"][:12] for a in mine)
