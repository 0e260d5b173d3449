"""A sealer killed between its proposal and remembering it does not propose the same block again."""

from __future__ import annotations

from typing import Any

import pytest

from consortium.federation import sealer

from .doubles import SealerSession


class _Killed(Exception):
    """The node was killed (kill -9) here."""


class _Sealer(SealerSession):
    """The only hospital, so first to seal any aggregate; killed where the test says."""

    def __init__(self) -> None:
        super().__init__()
        self.killed_before_writing = False

    def write_json(self, doc: Any, *path: str) -> None:
        if self.killed_before_writing:
            raise _Killed
        super().write_json(doc, *path)


def _aggregate(aggregate_id: str) -> dict[str, Any]:
    return {"aggregate_id": aggregate_id, "head": 1, "ms": 1_000, "updates": ["u1", "u2"],
            "weights_ppm": [500_000, 500_000], "contribution_ppm": [500_000, 500_000],
            "aggregate_digest": "d" * 64}  # fmt: skip


def test_a_block_proposed_just_before_a_kill_is_not_proposed_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    node = _Sealer()
    proposed: list[str] = []

    def propose(s: Any, agg: dict[str, Any], head: dict[str, Any]) -> str:
        proposed.append(agg["aggregate_id"])  # the version formed, ProposeBlock committed
        node.proposals[f"p{len(proposed)}"] = {**agg, "height": 2, "sealer": s.member_id,
                                               "ms": s.now_ms(), "status": "open"}  # fmt: skip
        return "VALID"

    monkeypatch.setattr(sealer, "_propose", propose)
    # Arrange: proposed, then killed before sealer.json recorded it
    node.killed_before_writing = True
    with pytest.raises(_Killed):
        sealer.seal_step(node, [_aggregate("agg1")], [])  # type: ignore[arg-type]
    # Act: restarted; its follower has read its own ProposeBlock since
    node.killed_before_writing = False
    sealer.seal_step(node, [_aggregate("agg1")], ["p1"])  # type: ignore[arg-type]
    # Assert: not formed and proposed a second time
    assert proposed == ["agg1"]


def test_the_same_sum_posted_again_is_proposed_again(monkeypatch: pytest.MonkeyPatch) -> None:
    # The aggregator posts the same updates again once the bar has decayed to the gain their
    # block fell short with (`aggregator` module docstring): another aggregate, the same digest.
    node = _Sealer()
    proposed: list[str] = []

    def propose(s: Any, agg: dict[str, Any], head: dict[str, Any]) -> str:
        proposed.append(agg["aggregate_id"])
        return "VALID"

    monkeypatch.setattr(sealer, "_propose", propose)
    node.proposals["p1"] = {**_aggregate("agg1"), "height": 2, "sealer": "h1", "ms": 2_000,
                            "status": "below_target"}  # fmt: skip
    node.files[("tasks", "heart", "sealer.json")] = {"done": ["agg1"]}
    aggregates = [_aggregate("agg1"), _aggregate("agg2")]
    assert sealer.seal_step(node, aggregates, ["p1"])  # type: ignore[arg-type]
    assert proposed == ["agg2"]
