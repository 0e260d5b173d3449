"""What a verifier publishes of its verdict fits the ledger, whatever the update."""

from __future__ import annotations

from consortium.federation.checks import Verdict


def test_scores_far_out_of_scale_still_fit_the_ledger() -> None:
    # A crafted update can decrypt to values far out of scale; its norm z (in bp) then passes
    # what the contract holds exactly, and an Endorse carrying it would be refused for good.
    from consortium.federation.verifier import published
    from consortium.ledger.contract.records import MAX_SAFE, EndorseArgs

    huge = Verdict(verdict="reject", reason="NORM_OUTLIER", metric_bp=0,
                   scores={"norm_z_bp": 17 * 10**15, "norm_ratio_bp": 3 * 10**9,
                           "cos_bp": -10**16})  # fmt: skip
    metric, scores = published(huge)
    assert scores == {"norm_z_bp": MAX_SAFE, "norm_ratio_bp": 3 * 10**9, "cos_bp": -MAX_SAFE}
    EndorseArgs.model_validate({"task_id": "heart", "update_id": "a" * 64, "verdict": "reject",
                                "reason": "NORM_OUTLIER", "metric_bp": metric,
                                "scores": scores})  # fmt: skip
