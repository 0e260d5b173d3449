"""What a verifier keeps as norm references (`verifier._remember`): an update it could not
compare with any norm is abstained on (`checks.decide`) and is no norm reference later."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import cast

from consortium.federation.checks import Verdict
from consortium.federation.session import Session
from consortium.federation.verifier import _remember
from consortium.node.state import StateDir


def test_only_updates_whose_norm_was_compared_become_norm_references(tmp_path: Path) -> None:
    fake = SimpleNamespace(task_id="heart", state=StateDir(tmp_path / "state"))
    s = cast(Session, fake)
    norm = {"norm_ppm": 50_000, "norm_ratio_bp": 10_000, "norm_z_bp": 0}
    verdicts = {
        "accepted": Verdict(verdict="accept", reason="OK", metric_bp=8000, scores=norm),
        # no direction check could run (version 0, unmeasurable metric): its norm was compared
        "blind": Verdict(verdict="abstain", reason="UNMEASURABLE", metric_bp=8000, scores=norm),
        # no norm reference: it might be a ×10 update
        "unnormed": Verdict(
            verdict="abstain", reason="UNMEASURABLE", metric_bp=8000, scores={"norm_ppm": 500_000}
        ),
        "rejected": Verdict(verdict="reject", reason="NORM_OUTLIER", metric_bp=0, scores=norm),
    }
    for uid, verdict in verdicts.items():
        _remember(s, uid, verdict)
    mem = fake.state.read_json("tasks", "heart", "verifier.json")
    assert mem["accepted"] == ["accepted", "blind"]
    assert mem["done"] == list(verdicts)
