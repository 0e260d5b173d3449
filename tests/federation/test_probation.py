"""Who is on probation: from the ledger's verdicts on the submitter's earlier updates."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from consortium.federation.verifier import on_probation


@dataclass
class _Ledger:
    """The task's updates with their endorsements, as ``ListUpdates`` returns them."""

    views: list[dict[str, Any]] = field(default_factory=list)

    def add(self, member: str, ms: int, status: str, *reasons: str) -> dict[str, Any]:
        update = {"update_id": f"{member}-{ms}", "member_id": member, "submitted_ms": ms}
        ends = [{"verdict": "reject" if r != "OK" else "accept", "reason": r} for r in reasons]
        self.views.append({"update": update, "status": status, "endorsements": ends})
        return update


D = "DIRECTION_OUTLIER"


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        ([], False),
        ([("va", 100, "rejected", (D, D))], True),
        ([("va", 100, "rejected", (D, "METRIC_DROP"))], True),  # one direction reject suffices
        ([("va", 100, "rejected", ("METRIC_DROP", "METRIC_DROP"))], False),  # not a direction
        ([("va", 100, "accepted", (D, "OK", "OK"))], False),  # the committee took it
        ([("hungary", 100, "rejected", (D, D))], False),  # another member's
        ([("va", 300, "rejected", (D, D))], False),  # submitted after this one
        # an accepted update after the rejection ends probation; another reason does not
        ([("va", 100, "rejected", (D, D)), ("va", 150, "included", ("OK", "OK"))], False),
        ([("va", 100, "rejected", (D, D)), ("va", 150, "rejected", ("METRIC_DROP",) * 2)], True),
        ([("va", 100, "accepted", ("OK", "OK")), ("va", 150, "rejected", (D, D))], True),
        ([("va", 100, "rejected", (D, D)), ("va", 150, "pending", ())], True),  # not judged yet
    ],
)
def test_probation_follows_the_submitters_last_judged_update(
    history: list[tuple[str, int, str, tuple[str, ...]]], expected: bool
) -> None:
    ledger = _Ledger()
    for member, ms, status, reasons in history:
        ledger.add(member, ms, status, *reasons)
    update = ledger.add("va", 200, "pending")

    assert on_probation(update, ledger.views) is expected
