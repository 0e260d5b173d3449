"""The portal's own reading of an update's status, when the contract's list does not have it yet:
the contract's committee rule, abstentions included (docs/decisions/0001-protocol.md)."""

from __future__ import annotations

import pandas as pd
from portal_ledger import _status

TASK = {"quorum": 2, "committee_size": 3}


def _votes(*verdicts: str) -> pd.DataFrame:
    reasons = {"accept": "OK", "reject": "DIRECTION_OUTLIER", "abstain": "UNMEASURABLE"}
    return pd.DataFrame({"verdict": list(verdicts), "reason": [reasons[v] for v in verdicts]})


def test_the_fallback_status_follows_the_contracts_committee_rule() -> None:
    cases = {
        ("accept",): "pending",
        ("accept", "accept"): "accepted",
        ("reject", "reject"): "rejected",
        ("abstain", "accept"): "pending",  # the seat left must accept too
        ("abstain", "accept", "accept"): "accepted",
        ("abstain", "reject"): "rejected",  # two seats, one reject: the quorum cannot be met
        ("abstain", "abstain", "abstain"): "rejected",  # nobody could judge it
    }
    for verdicts, status in cases.items():
        assert _status({}, "u", TASK, _votes(*verdicts)) == status, verdicts


def test_the_contracts_own_status_wins() -> None:
    assert _status({"u": "included"}, "u", TASK, _votes("abstain", "reject")) == "included"
