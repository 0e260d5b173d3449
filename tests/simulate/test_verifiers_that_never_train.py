"""A consortium whose verifiers never train still gets past version 0 (docs/decisions/0007-bafl.md,
"A verifier that never trains").

Cleveland is an evaluation lab: role verifier only, with Cleveland's held-out rows. VA, Hungary
and Switzerland train and seal but verify nothing, and VA scales its updates ×10. Each update's
committee is the lab (committee of 1, quorum 1). The lab never has a delta of its own, and on
version 0 the ledger has accepted nothing: before, it had no norm reference at all, abstained
(``UNMEASURABLE``) on every update, every update was rejected with all seats abstaining, and no
version ever came. Now, while nothing is accepted, it compares an update with the other members'
submissions on its base (`Thresholds.min_peers`, two here). VA submits first (nodes are stepped in
the order of the sites) and is judged first: a norm outlier against the two honest updates.
Hungary's, next, is judged against Switzerland's and VA's ×10 and passes. From then on the
updates the ledger accepted are the reference, and the verdicts given against them are the ones
the lab remembers.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consortium.simulate.config import SimConfig
from consortium.simulate.runner import run_simulation

LAB, ATTACKER = "cleveland", "va"


@pytest.mark.timeout(120)
def test_a_consortium_whose_verifiers_never_train_gets_past_version_0(tmp_path: Path) -> None:
    from consortium.node.open import open_session

    cfg = SimConfig(
        sites=(LAB, ATTACKER, "hungary", "switzerland"),
        roles={LAB: ("verifier",), ATTACKER: ("hospital",), "hungary": ("hospital",),
               "switzerland": ("hospital",)},
        attacks={ATTACKER: "scale10"}, in_process=True, update_seconds=0.0, flush_seconds=1.0,
        planned_updates=2, epochs=1, committee_size=1, quorum=1, max_seconds=45, train_seed=5,
        workdir=str(tmp_path),
    )  # fmt: skip

    report = run_simulation(cfg)

    assert report.versions[-1].height >= 1, "no version: every update was abstained on"
    views = open_session(report.workdir, "admin").q("ListUpdates", task_id="heart")
    verdicts = {v["update"]["update_id"]: v["endorsements"][0] for v in views}
    assert {e["member_id"] for e in verdicts.values()} == {LAB}
    first = {v["update"]["member_id"]: verdicts[v["update"]["update_id"]] for v in views
             if v["update"]["base_version"] == 0}  # fmt: skip
    assert len(first) == 3
    bad, good = first[ATTACKER], first["hungary"]
    assert (bad["verdict"], bad["reason"], bad["scores"]["norm_peers"]) == (
        "reject", "NORM_OUTLIER", 2), bad  # fmt: skip
    assert (good["verdict"], good["scores"]["norm_peers"]) == ("accept", 2), good
    # once the ledger accepted Hungary's update, that is the reference, on version 0 too
    peered = {uid for uid, e in verdicts.items() if "norm_peers" in e["scores"]}
    assert len(peered) == 2
    later = [v for v in views if v["update"]["update_id"] not in peered]
    assert any(v["update"]["base_version"] >= 1 for v in later), "nothing verified after v0"
    for view in later:
        assert "norm_ratio_bp" in verdicts[view["update"]["update_id"]]["scores"], view
    lab = Path(report.workdir) / "members" / LAB / "state" / "tasks" / "heart" / "verifier.json"
    accepted = set(json.loads(lab.read_text()).get("accepted", []))
    assert not accepted & peered  # verdicts against the peers are nobody's reference later
    assert accepted, "the lab kept no verdict judged against the ledger's accepted updates"
