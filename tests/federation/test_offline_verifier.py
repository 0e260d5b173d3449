"""A consortium keeps sealing versions while one member's node never runs, although the contract
draws that member into every committee (docs/decisions/0007-bafl.md, "A verifier whose node is
down").

Four hospitals, each also a verifier, committees of 3 with quorum 2: every attestation committee
is the three hospitals other than the sealer, so VA, whose node is never started, sits on every
one of them. Switzerland's held-out rows cannot measure the metric, so it abstains from every
attestation, and a proposal sealed by Cleveland or Hungary is left with one accept of the two
seats it needs: it stays open for good. Only a proposal sealed by Switzerland can pass (Cleveland
and Hungary accept). Before, every sealer after the first left the aggregate to that open
proposal, and a block waited for the aggregator to post the same sum again (after
``sealer_timeout`` × 5) until a new sealer order happened to put Switzerland first. Now the next
sealer in line proposes the same aggregate once the open proposal has waited ``sealer_timeout``,
so Switzerland's proposal comes within three turns.

The sealer order is drawn per aggregate from its (random) transaction id; the test pins the worst
one, VA first and Switzerland last, so that it does not depend on the draw: before the change the
test failed with "head still at version 0 after 120 s".

Updates: on version 0 Switzerland abstains from every endorsement, so Cleveland's and Hungary's
first updates (Hungary's accept plus Switzerland's abstention on Cleveland's, mirrored on
Hungary's) wait for VA's seat for good. A task with ``verdict_timeout_ms`` counts that seat as an
abstention once the timeout has passed since the reveal, and both are decided."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

OFFLINE = "va"
SITES = ("cleveland", "hungary", "switzerland", OFFLINE)
SEALER_ORDER = (OFFLINE, "cleveland", "hungary", "switzerland")  # the worst the draw can give


def _pinned_rank(s: Any, aggregate_id: str) -> int:
    return SEALER_ORDER.index(s.member_id)


def _nodes_without_va(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **overrides: Any
) -> list[Any]:
    """Every node but VA's, stepped in this process, under the worst sealer order."""
    from consortium.federation import sealer
    from consortium.pole.localrun import open_nodes
    from consortium.simulate.config import SimConfig
    from consortium.simulate.setup import create_consortium

    monkeypatch.setattr(sealer, "sealer_rank", _pinned_rank)
    cfg = SimConfig(sites=SITES, plaintext=True, update_seconds=0.0, planned_updates=3, epochs=1,
                    flush_seconds=1.0, sealer_timeout_seconds=3.0, train_seed=3,
                    **overrides)  # fmt: skip
    root = create_consortium(cfg, tmp_path / "consortium")
    return list(open_nodes(root, [s for s in SITES if s != OFFLINE] + ["aggregator"]))


@pytest.mark.timeout(200)
def test_versions_are_sealed_while_a_drawn_verifier_never_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from consortium.pole.localrun import height_at_least, run_nodes

    # Arrange: every node but VA's, stepped in this process; the worst sealer order
    nodes = _nodes_without_va(tmp_path, monkeypatch)
    # Act
    progressed = run_nodes(nodes, height_at_least(3), max_seconds=120)
    # Assert: three versions, each attested without VA although VA was drawn for it
    s = nodes[0].s
    assert progressed, f"head still at version {s.head()['height']} after 120 s"
    for height in (1, 2, 3):
        block = s.q("GetVersion", task_id=s.task_id, version=height)
        view = s.q("GetProposal", task_id=s.task_id, proposal_id=block["proposal_id"])
        assert OFFLINE in view["proposal"]["committee"]
        assert OFFLINE not in {a["member_id"] for a in view["attestations"]}
        for update_id in block["updates"]:  # decided without VA's seat too
            update = s.q("GetUpdate", task_id=s.task_id, update_id=update_id)
            assert OFFLINE in update["update"]["committee"]
            assert OFFLINE not in {e["member_id"] for e in update["endorsements"]}


def _first_updates(s: Any) -> dict[str, Any]:
    """The updates on version 0 of the online hospitals, by member."""
    views = s.q("ListUpdates", task_id=s.task_id)
    return {
        v["update"]["member_id"]: v for v in views
        if v["update"]["base_version"] == 0 and v["update"]["member_id"] != OFFLINE
    }  # fmt: skip


def _first_updates_decided(s: Any) -> bool:
    found = _first_updates(s)
    waiting = [m for m in ("cleveland", "hungary") if m not in found]
    return not waiting and all(v["status"] != "pending" for v in found.values())


@pytest.mark.timeout(200)
def test_with_a_verdict_timeout_the_updates_waiting_for_va_are_decided(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from consortium.ledger.contract._updates import status_of
    from consortium.ledger.contract.records import Endorsement, Update
    from consortium.pole.localrun import run_nodes

    # Arrange: the same consortium, its task with a verdict timeout of 5 s
    nodes = _nodes_without_va(tmp_path, monkeypatch, verdict_timeout_ms=5000)
    # Act
    decided = run_nodes(nodes, _first_updates_decided, max_seconds=120)
    # Assert: Cleveland's and Hungary's first updates are decided, VA drawn and silent on both
    s = nodes[0].s
    found = _first_updates(s)
    statuses = {m: v["status"] for m, v in found.items()}
    assert decided, f"updates on version 0 still pending after 120 s: {statuses}"
    alone = {}  # the status the endorsements give without the timeout
    for member in ("cleveland", "hungary"):
        view = found[member]
        assert OFFLINE in view["update"]["committee"]
        assert OFFLINE not in {e["member_id"] for e in view["endorsements"]}
        given = [Endorsement.model_validate(e) for e in view["endorsements"]]
        alone[member] = status_of(Update.model_validate(view["update"]), given)
    assert "pending" in alone.values(), alone  # decided by VA's expired seat, not without it
