"""Deterministic committees: who verifies an update or attests a block.

No randomness inside a contract (every peer must compute the same result). The committee is a pure
function of a seed over the ledger's current active verifiers: anyone recomputes it from the
ledger. The seed is `head_seed`: the task, its current head and the submitter (or proposer), which
the submitter cannot vary, so it gets one draw per head. A task published without
``committee_seed: "head"`` keeps the draw it was published under, seeded by the transaction id;
that id hashes a nonce the submitter picks, so there a submitter can try nonces until it draws
the committee it wants (decisions/0001, "Committees").
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Literal

HEAD_SEED_PREFIX = "consortium/committee/v1|"


def committee_rank(seed: str, member_id: str) -> str:
    """The sort key of ``member_id`` for ``seed``: ``sha256(seed + "|" + member_id)`` in hex."""
    return hashlib.sha256(f"{seed}|{member_id}".encode()).hexdigest()


def head_seed(
    kind: Literal["update", "block"], task_id: str, height: int, model_digest: str, member_id: str
) -> str:
    """``sha256("consortium/committee/v1|{kind}|{task_id}|{height}|{model_digest}|{member_id}")``
    in hex: the seed of the committee of ``member_id``'s update (``kind`` "update") or block
    proposal ("block") while the task's head is version ``height`` with ``model_digest``.

    Nothing in it is the submitter's to choose: the head was appended before it acts, and its own
    id is fixed by its certificate. So it gets one draw per head (one update per base is enforced
    already), and a proposal made again at the same height meets the same committee. The head's
    ``model_digest`` is the SHA-256 of the version's plaintext, which the attesters check against
    the weighted mean of its updates (up to the sum's noise) and a member recomputes byte for byte
    (`consortium trace`): its sealer chose only which accepted updates it holds, unless it left
    evidence. Its ``blob_digest`` is left out, since the sealer re-encrypts with a fresh AES-GCM
    nonce at will, and so is its ``ms``, the sealer's own timestamp. The height makes a version that
    repeats its parent's digest another seed. The prefix and ``kind`` keep this hash apart from
    every other SHA-256 of the protocol and an update's draw apart from a block's. Identifiers
    cannot contain ``|`` (`records.Ident`), so the text is unambiguous.
    """
    text = f"{HEAD_SEED_PREFIX}{kind}|{task_id}|{height}|{model_digest}|{member_id}"
    return hashlib.sha256(text.encode()).hexdigest()


def draw_committee(seed: str, candidates: Iterable[str], size: int) -> list[str]:
    """The first ``size`` of ``candidates`` ordered by `committee_rank` (ties by member id).

    Callers pass the active members with role ``verifier`` minus the submitter (or sealer); fewer
    candidates than ``size`` give a smaller committee (the contract then checks the quorum).
    ``seed``: `head_seed`, or the transaction id for a task without ``committee_seed: "head"``.
    """
    unique = sorted(set(candidates))
    ranked = sorted(unique, key=lambda member: (committee_rank(seed, member), member))
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
