"""A hospital whose node never trains still verifies, so updates on whose committee it sits are
decided (docs/decisions/0007-bafl.md, "A verifier that never trains").

Three hospitals, committees of 2 with quorum 2: every update's committee is the two other
hospitals, so VA, whose site's ε cap refuses every run, holds a seat on each of Cleveland's and
Hungary's updates. Before, a hospital verifier waited for its own first delta (`verifier._ready`)
and VA never endorsed anything: each update had one verdict of the two it needs and stayed
pending until the run's ``max_seconds``. Now VA verifies against the updates the ledger accepted
and abstains while there is none (its seat leaves the committee and the other decides).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consortium.simulate.config import SimConfig
from consortium.simulate.runner import run_simulation

from .capping import cap_site

CAPPED = "va"


@pytest.mark.timeout(200)
def test_updates_get_decided_when_a_committee_seat_never_trains(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from consortium.node.open import open_session

    cap_site(monkeypatch, CAPPED)
    cfg = SimConfig(
        sites=("cleveland", "hungary", CAPPED), in_process=True, update_seconds=0.0,
        flush_seconds=1.0, planned_updates=2, epochs=1, committee_size=2, quorum=2,
        max_seconds=120, train_seed=5, workdir=str(tmp_path),
    )  # fmt: skip

    report = run_simulation(cfg)

    assert report.seconds < cfg.max_seconds, "updates waited for the capped hospital's verdict"
    subs = json.loads((Path(report.workdir) / "members" / CAPPED / "state" / "tasks" / "heart"
                       / "submissions.json").read_text())  # fmt: skip
    assert subs and {r["status"] for r in subs.values()} == {"refused"}
    assert report.versions[-1].height >= 1
    views = open_session(report.workdir, "admin").q("ListUpdates", task_id="heart")
    assert views and all(v["update"]["member_id"] != CAPPED for v in views)
    assert not [v for v in views if v["status"] == "pending"]
    judged = 0
    for view in views:
        assert CAPPED in view["update"]["committee"]
        mine = [e for e in view["endorsements"] if e["member_id"] == CAPPED]
        if view["status"] in ("accepted", "included"):  # it needed VA's accept or abstention
            assert mine, view
        for e in mine:  # it abstains exactly when it had no norm to compare with
            assert (e["verdict"] == "abstain") is ("norm_ratio_bp" not in e["scores"]), e
            judged += e["verdict"] != "abstain"
    assert judged, "the capped hospital never judged an update against the ledger's accepted ones"
