"""The synchronous baseline with a hospital whose node refuses to train (its site's ε cap in
node.toml: `SiteBudgetExceeded`, recorded only in its own state) goes on without it once the
round's deadline has passed, instead of waiting for the run's ``max_seconds``
(docs/decisions/0007-bafl.md, "Buffer (FedBuff) and the synchronous baseline").

The refusing hospital is Switzerland: it still verifies (`verifier._ready`) and abstains on
version 0, where it can run no direction check and, before any update is accepted, has no norm
reference either (tests/simulate/test_capped_verifier.py), so the other seats decide."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consortium.simulate.config import SimConfig
from consortium.simulate.runner import run_simulation

from .capping import cap_site

CAPPED = "switzerland"


@pytest.mark.timeout(150)
def test_a_sync_round_goes_on_without_a_hospital_that_refuses_to_train(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cap_site(monkeypatch, CAPPED)
    cfg = SimConfig(
        sync=True, in_process=True, update_seconds=0.0, planned_updates=1, epochs=1,
        sync_round_seconds=5.0, max_seconds=60, train_seed=3, workdir=str(tmp_path),
    )  # fmt: skip

    report = run_simulation(cfg)

    assert report.seconds < cfg.max_seconds, "the round waited for the refusing hospital"
    assert report.versions[-1].height == 1
    assert report.versions[-1].n_updates == 3  # the round went on with the updates it had
    root = Path(report.workdir)
    subs = json.loads(
        (root / "members" / CAPPED / "state" / "tasks" / "heart" / "submissions.json").read_text()
    )
    assert {r["status"] for r in subs.values()} == {"refused"}
    sent = {s.site: s.submitted for s in report.sites}
    assert sent == {"cleveland": 1, "hungary": 1, CAPPED: 0, "va": 1}
