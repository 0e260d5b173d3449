"""What the run report and the demo's table say about a rejected update."""

from __future__ import annotations

from consortium.simulate.report import rejection_reasons


def _e(verdict: str, reason: str) -> dict[str, str]:
    return {"verdict": verdict, "reason": reason}


def test_a_rejection_is_explained_by_its_rejecting_endorsements_only() -> None:
    endorsements = [
        _e("abstain", "UNMEASURABLE"),
        _e("reject", "DIRECTION_OUTLIER"),
        _e("accept", "OK"),
        _e("reject", "NORM_OUTLIER"),
    ]
    assert rejection_reasons(endorsements) == ["DIRECTION_OUTLIER", "NORM_OUTLIER"]


def test_an_update_nobody_could_judge_names_the_abstentions_reason() -> None:
    # every seat abstained: the contract rejects it, and the report says why
    assert rejection_reasons([_e("abstain", "UNMEASURABLE")] * 3) == ["UNMEASURABLE"] * 3
    assert rejection_reasons(iter([])) == []
