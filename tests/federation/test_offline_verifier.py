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
test failed with "head still at version 0 after 120 s"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

OFFLINE = "va"
SITES = ("cleveland", "hungary", "switzerland", OFFLINE)
SEALER_ORDER = (OFFLINE, "cleveland", "hungary", "switzerland")  # the worst the draw can give


def _pinned_rank(s: Any, aggregate_id: str) -> int:
    return SEALER_ORDER.index(s.member_id)


@pytest.mark.timeout(200)
def test_versions_are_sealed_while_a_drawn_verifier_never_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from consortium.federation import sealer
    from consortium.pole.localrun import height_at_least, open_nodes, run_nodes
    from consortium.simulate.config import SimConfig
    from consortium.simulate.setup import create_consortium

    # Arrange: every node but VA's, stepped in this process; the worst sealer order
    monkeypatch.setattr(sealer, "sealer_rank", _pinned_rank)
    cfg = SimConfig(sites=SITES, plaintext=True, update_seconds=0.0, planned_updates=3, epochs=1,
                    flush_seconds=1.0, sealer_timeout_seconds=3.0, train_seed=3)  # fmt: skip
    root = create_consortium(cfg, tmp_path / "consortium")
    nodes: list[Any] = open_nodes(root, [s for s in SITES if s != OFFLINE] + ["aggregator"])
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
