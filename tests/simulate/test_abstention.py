"""A small consortium in which one hospital cannot measure the metric still seals blocks.

Switzerland's held-out rows (1 negative of 21) cannot measure AUROC, so it abstains from
attesting. With three hospitals and the committee of 2 of quorum 2, a proposal sealed by Cleveland
or VA has Switzerland and the other one as its committee: its abstention gives its seat up and
the other hospital's accept decides (`attest_quorum` in the contract). Before abstentions were
recorded such proposals stayed open until they went stale, blocks came only when Switzerland
sealed, and this run did not finish within its time limit. (Which hospital seals is drawn per
aggregate; the data_schemas vectors pin the rule itself.)

Endorsements follow the same rule when a verifier can run no direction check at all: on version 0
(no trajectory yet) Switzerland, which cannot run the mirror test either, abstains (reason
UNMEASURABLE) on an update that passes the checks it can run, and the other member of the
committee decides alone. From version 1 on it judges direction by the trajectory cosine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from consortium.simulate.config import SimConfig
from consortium.simulate.runner import run_simulation

SITES = ("cleveland", "switzerland", "va")


@pytest.mark.timeout(200)
def test_an_abstaining_attester_gives_its_seat_up(tmp_path: Path) -> None:
    from consortium.node.open import open_session

    cfg = SimConfig(
        sites=SITES, in_process=True, update_seconds=0.0, flush_seconds=1.0, planned_updates=3,
        epochs=1, committee_size=2, quorum=2, max_seconds=150, train_seed=7,
        workdir=str(tmp_path),
    )  # fmt: skip
    report = run_simulation(cfg)

    assert report.seconds < cfg.max_seconds, "the run did not finish"
    assert report.ledger_verified
    admin = open_session(report.workdir, "admin")
    versions = admin.q("ListVersions", task_id="heart")[1:]
    assert len(versions) >= 2
    for block in versions:
        view = admin.q("GetProposal", task_id="heart", proposal_id=block["proposal_id"])
        verdicts = {a["member_id"]: a["verdict"] for a in view["attestations"]}
        assert "switzerland" not in block["attesters"]  # it never lends its noise to a gain
        if block["sealer"] != "switzerland":  # then it sat on the committee of two
            assert verdicts["switzerland"] == "abstain", verdicts
            assert len(block["attesters"]) == 1  # the one seat left decided
            assert verdicts[block["attesters"][0]] == "accept"
    swiss = [(e, v) for v in admin.q("ListUpdates", task_id="heart") for e in v["endorsements"]
             if e["member_id"] == "switzerland"]  # fmt: skip
    assert swiss, "switzerland endorsed nothing"
    for e, v in swiss:  # no direction check on version 0: it never vouches there
        on_first = v["update"]["base_version"] == 0
        assert (e["verdict"] == "accept") is (not on_first and e["reason"] == "OK"), (e, v)
    alone = [v for e, v in swiss
             if e["verdict"] == "abstain" and v["status"] in ("accepted", "included")]  # fmt: skip
    assert alone, "no update was accepted by the one seat left after an abstention"
    for view in alone:
        others = [e["verdict"] for e in view["endorsements"] if e["member_id"] != "switzerland"]
        assert others == ["accept"], view["endorsements"]
    _held_out_scores_stay_with_the_verifiers(admin, Path(report.workdir))


def _held_out_scores_stay_with_the_verifiers(admin: Any, root: Path) -> None:
    """What a verifier measured on its held-out patients is in its own state, not on the ledger
    (decisions/0004, "What the verifiers publish"); an accepted update's metric is published."""
    import json

    from consortium.federation.verifier import HELD_OUT_SCORES

    seen = 0
    for view in admin.q("ListUpdates", task_id="heart"):
        for e in view["endorsements"]:
            assert not HELD_OUT_SCORES & set(e["scores"]), e
            kept = root / "members" / e["member_id"] / "state" / "tasks" / "heart" / "verdicts"
            local = json.loads((kept / f"{view['update']['update_id']}.json").read_text())
            assert local["verdict"] == e["verdict"] and local["reason"] == e["reason"]
            if e["verdict"] == "accept":
                assert e["metric_bp"] == local["metric_bp"] > 0
            else:
                assert e["metric_bp"] == 0
            seen += "base_metric_bp" in local["scores"]
    assert seen, "no verifier kept a held-out score"
