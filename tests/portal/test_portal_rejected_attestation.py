"""A version one attester rejected while the others accepted: the rejecting attester did not score
the proposed version and sends ``metric_bp`` 0 (`consortium.federation.attester`), a placeholder
to which the contract gives no meaning (it ranks the accepting attestations only; decisions/0001,
AttestBlock). The Models page must show that the site rejected, and why, not an AUROC of 0; the
parent's AUROC it measured is shown, and the Audit page lists the attestation with its reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from portal_fixture import HOSPITAL, PASSWORD, TASK, h

SITES = ("cleveland", "hungary", "switzerland", "va")


@pytest.fixture(scope="module")
def one_rejected(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A real ledger, committee 3 and quorum 2: cleveland's update is accepted and cleveland
    proposes version 1 with it. The first attester drawn rejects it as the attester does (its
    parent measured, ``metric_bp`` 0, the check it failed as its reason); the other two accept,
    and the second accept seals the version. Returns the directory and the rejecting site."""
    from portal_auth import set_password
    from portal_fixture import _real_version

    from consortium.config import ConsortiumConfig
    from consortium.ledger.factory import open_ledger
    from consortium.simulate.config import SimConfig
    from consortium.simulate.setup import create_consortium

    root = tmp_path_factory.mktemp("one-rejected") / "consortium"
    cfg = SimConfig(sites=SITES, sml=False, committee_size=3, quorum=2)
    create_consortium(cfg, root)
    ledgers = {name: open_ledger(ConsortiumConfig.load(root), name) for name in SITES}
    try:
        args = {"task_id": TASK, "base_version": 0, "model_digest": h(HOSPITAL),
                "n_samples": 200, "epsilon_spent": "1", "commitment": ""}  # fmt: skip
        update = ledgers[HOSPITAL].submit_ok("SubmitUpdate", args)
        reveal = {"task_id": TASK, "update_id": update["update_id"], "nonce": "",
                  "unmapped_digest": h(f"u{HOSPITAL}")}  # fmt: skip
        ledgers[HOSPITAL].submit_ok("RevealNonce", reveal)
        for judge in update["committee"][:2]:  # the quorum's accepts decide it
            ledgers[judge].submit_ok("Endorse", {
                "task_id": TASK, "update_id": update["update_id"], "verdict": "accept",
                "reason": "OK", "metric_bp": 7100, "scores": {"norm": 10},
            })  # fmt: skip
        head = ledgers[HOSPITAL].evaluate("GetHead", {"task_id": TASK})
        model_digest, blob_digest = _real_version(root, ledgers[HOSPITAL], 1)
        proposal = ledgers[HOSPITAL].submit_ok("ProposeBlock", {
            "task_id": TASK, "height": 1, "parent_digest": head["model_digest"],
            "updates": [update["update_id"]], "weights_ppm": [1_000_000],
            "contribution_ppm": [1_000_000], "aggregate_digest": h("agg1"),
            "model_digest": model_digest, "blob_digest": blob_digest,
            "next_required_gain_bp": head["required_gain_bp"],
        })  # fmt: skip
        rejecter, *accepters = proposal["committee"]
        verdicts = [(rejecter, "reject", 0, {"reason": "VERSION_MISMATCH"})]
        verdicts += [(a, "accept", 7400 + 50 * i, {}) for i, a in enumerate(accepters)]
        for site, verdict, metric, reason in verdicts:
            ledgers[site].submit_ok("AttestBlock", {
                "task_id": TASK, "proposal_id": proposal["proposal_id"], "verdict": verdict,
                "metric_bp": metric, "base_metric_bp": 7100, **reason,
            })  # fmt: skip
        assert ledgers[HOSPITAL].evaluate("GetHead", {"task_id": TASK})["height"] == 1
    finally:
        for ledger in ledgers.values():
            ledger.close()
    set_password(root / "members" / HOSPITAL, PASSWORD, n_log2=12)
    return root, rejecter


def test_a_rejecting_attester_has_no_metric_on_the_models_page(
    one_rejected: tuple[Path, str], portal: Any
) -> None:
    import pyarrow as pa

    root, rejecter = one_rejected

    at = portal(root, HOSPITAL, page="models")

    assert not at.exception
    table = at.dataframe[1].value.set_index("site")
    assert table.loc[rejecter, "verdict"] == "reject"  # the site's verdict stays visible
    assert table.loc[rejecter, "reason"] == "VERSION_MISMATCH"  # and why it rejected
    assert pd.isna(table.loc[rejecter, "metric_bp"])
    assert table.loc[rejecter, "base_metric_bp"] == 7100  # the parent it did measure
    accepted = table[table["verdict"] == "accept"]
    assert len(accepted) == 2 and accepted["metric_bp"].notna().all()
    assert (accepted["reason"] == "").all()
    (chart,) = at.get("vega_lite_chart")
    plotted = pa.ipc.open_stream(chart.proto.datasets[0].data.data).read_pandas()
    assert sorted(plotted["site"]) == sorted(accepted.index)


def test_the_audit_page_lists_the_reject_with_its_reason(
    one_rejected: tuple[Path, str], portal: Any
) -> None:
    root, rejecter = one_rejected

    at = portal(root, HOSPITAL, page="audit")

    assert not at.exception
    table = next(d.value for d in at.dataframe if {"verdict", "reason"} <= set(d.value))
    row = table.set_index("site").loc[rejecter]
    assert (row["verdict"], row["reason"], row["base_metric_bp"]) == (
        "reject", "VERSION_MISMATCH", 7100,
    )  # fmt: skip
    assert pd.isna(row["metric_bp"])
    assert len(table) == 3  # the proposal's three attestations


def test_the_provenance_keeps_the_rejecting_attesters_reason(
    one_rejected: tuple[Path, str],
) -> None:
    from consortium.config import ConsortiumConfig
    from consortium.ledger.factory import open_ledger
    from consortium.pole.provenance import build_provenance

    root, rejecter = one_rejected
    ledger = open_ledger(ConsortiumConfig.load(root), HOSPITAL)
    try:
        provenance = build_provenance(ledger, TASK, 1)
    finally:
        ledger.close()

    reasons = {a.member_id: a.reason for a in provenance.attestations}
    assert reasons.pop(rejecter) == "VERSION_MISMATCH"
    assert set(reasons.values()) == {None}  # the accepts give none
