"""How the portal names a verifier's reasons: a direction rejection of a member on probation or
with a record against the trajectory (the verifier's higher lines, decisions/0007) says so, on
the training page's update table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import portal_ledger as pl
from portal_fixture import FakeTx


@dataclass
class _Data:
    """The ledger reads `updates` makes: transactions by function, tasks, contract queries."""

    txs: dict[str, list[FakeTx]] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)

    def valid(self, fn: str) -> list[FakeTx]:
        return self.txs.get(fn, [])

    def tasks(self) -> dict[str, dict[str, int]]:
        return {"heart": {"quorum": 2, "committee_size": 3}}

    def query(self, fn: str, args: dict[str, Any]) -> list[dict[str, Any]]:
        if fn == "ListUpdates":
            return [{"update": {"update_id": u}, "status": s} for u, s in self.statuses.items()]
        return []


def _judged(update_id: str, *verdicts: tuple[str, str, dict[str, int]]) -> list[FakeTx]:
    return [
        FakeTx(f"e-{update_id}-{i}", judge, {"update_id": update_id, "verdict": "reject",
                                          "reason": reason, "metric_bp": 7000, "scores": scores})
        for i, (judge, reason, scores) in enumerate(verdicts)
    ]  # fmt: skip


def test_a_direction_rejection_on_probation_is_named_so() -> None:
    submit = [FakeTx(u, "va", {"task_id": "heart", "base_version": 2}) for u in ("u1", "u2", "u3")]
    endorse = (
        _judged("u1", ("cleveland", "DIRECTION_OUTLIER", {"cosine_bp": -900}),
                ("hungary", "DIRECTION_OUTLIER", {"cosine_bp": -900}))
        + _judged("u2", ("cleveland", "DIRECTION_OUTLIER", {"cosine_bp": -80, "probation": 1}),
                  ("hungary", "DIRECTION_OUTLIER", {"cosine_bp": -80, "probation": 1}))
        + _judged("u3", ("cleveland", "NORM_OUTLIER", {"probation": 1}),
                  ("hungary", "NORM_OUTLIER", {"probation": 1}))
    )  # fmt: skip
    data = _Data(
        {"SubmitUpdate": submit, "Endorse": endorse}, dict.fromkeys(("u1", "u2", "u3"), "rejected")
    )

    table = pl.updates(data).set_index("update_id")  # type: ignore[arg-type]
    votes = pl.endorsements(data)  # type: ignore[arg-type]

    assert table.loc["u1", "reject_reasons"] == "DIRECTION_OUTLIER"
    assert table.loc["u2", "reject_reasons"] == "DIRECTION_OUTLIER (on probation)"
    assert table.loc["u3", "reject_reasons"] == "NORM_OUTLIER"  # probation changes no other check
    assert list(votes.groupby("update_id")["probation"].all()) == [False, True, True]


def test_a_direction_rejection_for_a_members_record_is_named_so() -> None:
    submit = [FakeTx(u, "va", {"task_id": "heart", "base_version": 4}) for u in ("u1", "u2", "u3")]
    low, high = {"cosine_bp": 300, "record_z_bp": -21000}, {"cosine_bp": -900, "record_z_bp": 4000}
    endorse = (
        _judged("u1", ("cleveland", "DIRECTION_OUTLIER", low),
                ("hungary", "DIRECTION_OUTLIER", low))
        + _judged("u2", ("cleveland", "DIRECTION_OUTLIER", high),
                  ("hungary", "DIRECTION_OUTLIER", high))
        + _judged("u3", ("cleveland", "DIRECTION_OUTLIER",
                         {"cosine_bp": -80, "probation": 1, "record_z_bp": -15000}),
                  ("hungary", "NORM_OUTLIER", {"record_z_bp": -30000}))
    )  # fmt: skip
    data = _Data(
        {"SubmitUpdate": submit, "Endorse": endorse}, dict.fromkeys(("u1", "u2", "u3"), "rejected")
    )

    table = pl.updates(data).set_index("update_id")  # type: ignore[arg-type]

    assert table.loc["u1", "reject_reasons"] == "DIRECTION_OUTLIER (record z -2.10)"
    assert table.loc["u2", "reject_reasons"] == "DIRECTION_OUTLIER"  # a record above the line
    assert table.loc["u3", "reject_reasons"] == (
        "DIRECTION_OUTLIER (on probation; record z -1.50), NORM_OUTLIER"
    )


def test_an_abstaining_attester_has_no_metric() -> None:
    # an attester whose held-out rows cannot measure AUROC abstains with metric_bp 0, a
    # placeholder (0001, AttestBlock): `consortium trace` shows "-", the Models page plotted 0
    propose = [FakeTx("p1", "va", {"task_id": "heart", "height": 1, "model_digest": "m1"})]
    attest = [
        FakeTx("a1", "hungary", {"proposal_id": "p1", "verdict": "accept", "metric_bp": 8351,
                              "base_metric_bp": 7149}),
        FakeTx("a2", "switzerland", {"proposal_id": "p1", "verdict": "abstain", "metric_bp": 0,
                                  "base_metric_bp": 0}),
    ]  # fmt: skip
    data = _Data({"ProposeBlock": propose, "AttestBlock": attest})

    sites = pl.attestations(data).set_index("site")  # type: ignore[arg-type]

    assert sites.loc["hungary", "metric_bp"] == 8351
    assert pd.isna(sites.loc["switzerland", "metric_bp"])
    assert pd.isna(sites.loc["switzerland", "base_metric_bp"])


def test_a_rejecting_attester_shows_its_reason_and_the_parent_it_measured() -> None:
    # a reject's metric_bp is a placeholder (it did not score the version); its base_metric_bp is
    # the parent's AUROC when its rows could measure it, 0 when not (0001, AttestBlock)
    propose = [FakeTx("p1", "va", {"task_id": "heart", "height": 1, "model_digest": "m1"})]
    attest = [
        FakeTx("a1", "hungary", {"proposal_id": "p1", "verdict": "reject", "metric_bp": 0,
                              "base_metric_bp": 7149, "reason": "VERSION_MISMATCH"}),
        FakeTx("a2", "switzerland", {"proposal_id": "p1", "verdict": "reject", "metric_bp": 0,
                                  "base_metric_bp": 0, "reason": "PROPOSAL_LATE"}),
        FakeTx("a3", "cleveland", {"proposal_id": "p1", "verdict": "reject", "metric_bp": 0,
                                "base_metric_bp": 7149}),  # before attesters gave reasons
    ]  # fmt: skip
    data = _Data({"ProposeBlock": propose, "AttestBlock": attest})

    sites = pl.attestations(data).set_index("site")  # type: ignore[arg-type]

    assert sites.loc["hungary", "reason"] == "VERSION_MISMATCH"
    assert sites.loc["hungary", "base_metric_bp"] == 7149
    assert pd.isna(sites.loc["hungary", "metric_bp"])
    assert sites.loc["switzerland", "reason"] == "PROPOSAL_LATE"
    assert pd.isna(sites.loc["switzerland", "base_metric_bp"])
    assert sites.loc["cleveland", "reason"] == ""
    assert sites.loc["cleveland", "base_metric_bp"] == 7149
