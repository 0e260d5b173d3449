"""Deterministic committees: who verifies an update or attests a block.

No randomness inside a contract (every peer must compute the same result). The committee is a pure
function of the transaction id over the ledger's current active verifiers: anyone recomputes it
from the ledger. The transaction id hashes a nonce the submitter picks, so a submitter can try
nonces until it draws the committee it wants; that matters only when there are more verifiers
than the committee size (decisions/0001, "Committees": open).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def committee_rank(tx_id: str, member_id: str) -> str:
    """The sort key of ``member_id`` for ``tx_id``: ``sha256(tx_id + "|" + member_id)`` in hex."""
    return hashlib.sha256(f"{tx_id}|{member_id}".encode()).hexdigest()


def draw_committee(tx_id: str, candidates: Iterable[str], size: int) -> list[str]:
    """The first ``size`` of ``candidates`` ordered by `committee_rank` (ties by member id).

    Callers pass the active members with role ``verifier`` minus the submitter (or sealer); fewer
    candidates than ``size`` give a smaller committee (the contract then checks the quorum).
    """
    unique = sorted(set(candidates))
    ranked = sorted(unique, key=lambda member: (committee_rank(tx_id, member), member))
    return ranked[: max(size, 0)]


def quorum_of_seats(quorum: int, seats: int) -> int:
    """Accepts a committee needs when ``seats`` of its members have not abstained.

    A member that cannot judge (its held-out rows cannot measure the metric) abstains and gives
    its seat up: the quorum shrinks only when fewer seats than the quorum are left, and never below
    one accept. An abstention therefore never weighs more than an accept would (with a committee
    of 3 and quorum 2, one abstention changes nothing).
    """
    return max(1, min(quorum, seats))


def committee_outcome(
    size: int, quorum: int, *, accepts: int, rejects: int, abstentions: int
) -> str | None:
    """``"accept"``, ``"reject"`` or ``None`` (still open) for a committee's verdicts so far.

    With ``seats = size − abstentions`` and ``needed = quorum_of_seats(quorum, seats)``: accepted
    at ``accepts ≥ needed``, rejected once the seats not rejecting cannot bring the accepts needed
    (``seats − rejects < needed``). Without abstentions that is "rejects > size − quorum". When
    every member abstains nobody judged: ``seats = 0`` and the outcome is a rejection (fail closed,
    0001-protocol.md). Shared by update endorsements and block attestations.
    """
    seats = size - abstentions
    needed = quorum_of_seats(quorum, seats)
    if accepts >= needed:
        return "accept"
    if seats - rejects < needed:
        return "reject"
    return None
