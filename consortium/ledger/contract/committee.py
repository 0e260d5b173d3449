"""Deterministic committees: who verifies an update or attests a block.

No randomness inside a contract (every peer must compute the same result), and no party should be
able to pick its own verifiers. The committee is therefore a pure function of the transaction id,
which the submitter cannot choose freely in Fabric (it is the hash of a fresh nonce and the
creator), over the ledger's current active verifiers: anyone recomputes it from the ledger.
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
