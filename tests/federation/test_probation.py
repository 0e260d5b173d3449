"""Who is on probation, and a member's record: from the ledger's verdicts on the submitter's
earlier updates."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from consortium.federation.verifier import direction_record, on_probation


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


def _cosines(ledger: _Ledger, member: str, ms: int, status: str, *cosines_bp: int | None) -> None:
    update = ledger.add(member, ms, status)
    view = ledger.views[-1]
    view["endorsements"] = [
        {"verdict": "reject", "reason": D, "scores": {} if c is None else {"cosine_bp": c}}
        for c in cosines_bp
    ]
    assert view["update"] is update


def test_a_record_holds_the_submitters_judged_cosines_oldest_first() -> None:
    ledger = _Ledger()
    _cosines(ledger, "va", 300, "rejected", -900, -900)
    _cosines(ledger, "va", 100, "included", 400, 400, 400)  # listed later, submitted earlier
    _cosines(ledger, "va", 200, "accepted", 100, 100)
    _cosines(ledger, "va", 250, "pending", -2000)  # not judged yet
    _cosines(ledger, "hungary", 150, "rejected", -3000, -3000)  # another member's
    _cosines(ledger, "va", 120, "rejected", None, None)  # version 0: no trajectory, no cosine
    _cosines(ledger, "va", 500, "rejected", -500, -500)  # submitted after this one
    update = ledger.add("va", 400, "pending")

    assert direction_record(update, ledger.views) == [0.04, 0.01, -0.09]


def test_one_verifier_cannot_lower_a_record_alone() -> None:
    ledger = _Ledger()
    _cosines(ledger, "va", 100, "accepted", 300, -9000, 300)  # one verifier records a lie
    update = ledger.add("va", 200, "pending")

    assert direction_record(update, ledger.views) == [0.03]
