"""Attester role (a verifier): evaluate a proposed version against the head, on held-out rows.

Before it gives a metric, the attester checks that the proposal is what the ledger says it is:
the blob opens to bytes whose SHA-256 is ``model_digest``; the weights and shares are those the
ledger gives the updates (`consortium.federation.aggregator.weights_as_ledger_says`); and the
version is the head plus the weighted mean of the proposal's updates, up to the sum's noise
(`consortium.federation.versions.is_weighted_mean`). The last is checked on the updates in the
clear: as a verifier it has opened most of them already (`consortium.federation.ledgerview`; its
own from the plaintext it kept) and opens the others, ciphertexts the ledger names like any it
verifies. It never decrypts the aggregate. The sealer alone does, after recomputing it byte for
byte (`consortium.federation.sealer.form_version`), and the contract holds a proposal that names
a posted aggregate to it. A proposal that names none (``aggregate_id`` empty, which the contract
allows) is rejected: its ``aggregate_digest`` is bound to nothing, and the block could never be
traced. So an attester costs no homomorphic sum and no decryption of the aggregate; an aggregate
that the aggregator and the sealer both got wrong under a right version is left to those who
recompute versions byte for byte (`consortium trace`, `ledger verify`; docs/decisions/0007-bafl.md,
"What encryption costs"). A sealer that slipped anything else into the version gets a ``reject``.

So does a proposal stamped more than ``max_clock_skew_seconds`` ahead of the attester's clock:
the proposal's interval since the head comes from the sealer's own transaction timestamp and sets
the target-interval gate, retargeting and the decayed requirement (0001, "Difficulty"), so a
post-dated proposal could claim a lower bar. The contract then appends the block when the lower
median of the accepting attesters' gains meets the required gain (0001, AttestBlock).

A reject says why, on the ledger for auditors (``reason``, 0001 "Attester rejection reasons"):
the first check the proposal failed, in the order they run: ``PROPOSAL_LATE``, ``NO_AGGREGATE``,
``BLOB_UNREADABLE``, ``MODEL_DIGEST_MISMATCH``, ``WEIGHTS_MISMATCH``, ``UPDATE_UNREADABLE``,
``NOT_CANONICAL``, ``VERSION_MISMATCH``.
"""

from __future__ import annotations

from typing import Any

from consortium.blobs.base import BlobError
from consortium.canonical import sha256_hex
from consortium.federation.session import Session
from consortium.federation.vault import VaultError
from consortium.federation.verifier import metric_bp
from consortium.ledger.contract.records import AttestReason

__all__ = ["attest_step"]


def _consistent(s: Session, proposal: dict[str, Any]) -> AttestReason | None:
    """None when the proposal is what the ledger says it is; else the check it failed, in the
    order they run, which the reject gives as its reason (`AttestBlock.reason`, 0001)."""
    from consortium.federation.aggregator import weights_as_ledger_says
    from consortium.federation.versions import is_weighted_mean, step_staleness

    if not proposal.get("aggregate_id"):
        # The contract binds aggregate_digest to the aggregator's posted sum only when the proposal
        # names it (0001, ProposeBlock); a digest the sealer made up would go on the ledger and no
        # trace could ever recompute the version. Sealers always name one (`sealer._propose`).
        return "NO_AGGREGATE"
    height = int(proposal["height"]) - 1
    # the parent is the head, which this node opens to measure it anyway: failing to open it is
    # this node's problem, not the proposal's, and is raised rather than given as a reason
    base = s.version(height)
    # ``failed`` names the check running: an exception it raises on what the sealer named is that
    # check failing. BlobError: a blob the store does not hold (or holds corrupted); the contract
    # cannot see the store, so that is the sealer's doing, and a reject.
    failed: AttestReason = "BLOB_UNREADABLE"
    try:
        data = s.vault.open_model(s.blobs.get(proposal["blob_digest"]))
        if sha256_hex(data) != proposal["model_digest"]:
            return "MODEL_DIGEST_MISMATCH"
        failed = "WEIGHTS_MISMATCH"
        if not weights_as_ledger_says(s, proposal, height):
            return failed
        failed = "UPDATE_UNREADABLE"
        opened = _deltas(s, proposal["updates"])
        if opened is None:
            return failed
        failed = "NOT_CANONICAL"
        version = _tensors(data)
        if version is None or not _canonical(version, base, data):
            return failed
        failed = "VERSION_MISMATCH"
        deltas, bases = opened
        task = s.task()
        staleness = step_staleness(bases, height, int(task["staleness_exponent_bp"]))
        mean = is_weighted_mean(version, base, deltas, proposal["weights_ppm"],
                                int(task["server_lr_bp"]), staleness)  # fmt: skip
        return None if mean else failed
    except (VaultError, OSError, ValueError, BlobError):
        return failed


def _deltas(s: Session, updates: list[str]) -> tuple[list[Any], list[int]] | None:
    """The unmapped deltas of the proposal's updates and their base versions; None when the blobs
    of one do not open (nothing to form a version from)."""
    from consortium.federation.ledgerview import update_delta

    deltas, bases = [], []
    for update_id in updates:
        view = s.q("GetUpdate", task_id=s.task_id, update_id=update_id)
        delta = update_delta(s, view["update"])
        if delta is None:
            return None
        deltas.append(delta)
        bases.append(int(view["update"]["base_version"]))
    return deltas, bases


def _tensors(data: bytes) -> Any:
    """The tensors of a proposed version, None when its bytes are not a model at all.

    The sealer chose these bytes; their digest only says they are the ones it proposed. Whatever
    the reader makes of them (safetensors' own error type, a header without the tensor names, a
    header that is not a table) is a reject: an exception here would stop this node at every poll
    for as long as the proposal stays open.
    """
    from safetensors import SafetensorError

    from consortium.learning.serialize import from_safetensors

    try:
        tensors, _ = from_safetensors(data)
    except (SafetensorError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return tensors


def _canonical(version: Any, base: Any, data: bytes) -> bool:
    """Are ``data`` the bytes `versions.version_bytes` writes for these tensors?

    `is_weighted_mean` checks numbers; the ledger records the digest of bytes, which `ledger
    verify` and `consortium trace` recompute as `to_safetensors` writes them: float32 tensors in the
    model's order and the names alone in the header. The same numbers stored as float64 (29 spare
    bits a parameter), or a header carrying whatever the sealer likes, are another version, which
    no one could recompute and which would carry the sealer's payload to every member.
    """
    from consortium.learning.serialize import to_safetensors

    return list(version) == list(base) and bytes(to_safetensors(version)) == data


def _can_measure(s: Session) -> bool:
    """Enough held-out rows of each class for the task metric to mean something."""
    from consortium.federation.verifier import metric_measurable

    assert s.cohort is not None
    return metric_measurable(int(s.cohort.y_test.sum()), len(s.cohort.y_test))


def _closed_meanwhile(s: Session, proposal_id: str) -> bool:
    """Did the proposal close while this attester checked it (its committee's quorum reached)?
    Then an attestation would only be refused (PROPOSAL_CLOSED) and stay on the ledger as such."""
    view = s.q("GetProposal", task_id=s.task_id, proposal_id=proposal_id)
    return bool(view["proposal"]["status"] != "open")


def _attestation(s: Session, p: dict[str, Any], measures: bool) -> dict[str, Any]:
    """The `AttestBlock` arguments (but the ids) this member gives proposal ``p``: a reject
    names the check the proposal failed (``reason``); the metrics are those its rows measure
    (the parent's also for a reject; 0 for what it did not measure)."""
    on_time = int(p["ms"]) <= s.now_ms() + s.settings.max_clock_skew_seconds * 1000
    reason = _consistent(s, p) if on_time else "PROPOSAL_LATE"
    verdict, new_bp, base_bp = ("accept" if reason is None else "reject"), 0, 0
    if not measures:
        verdict = "abstain" if reason is None else "reject"
    else:
        base_bp = metric_bp(s.version(int(p["height"]) - 1), s)
        if reason is None:
            new_bp = metric_bp(s.model_by_digest(p["model_digest"], p["blob_digest"]), s)
    told = {} if reason is None else {"reason": reason}
    return {"verdict": verdict, "metric_bp": new_bp, "base_metric_bp": base_bp, **told}


def attest_step(s: Session, proposals: list[str]) -> bool:
    """Attest the next open proposal this member is drawn for; True if it did.

    A verifier whose held-out rows cannot measure the metric (fewer than `MIN_CLASS_ROWS` of a
    class: an AUROC that moves by thousands of bp per row) still checks that the proposal is what
    it claims to be, and otherwise abstains: the block's gain must not rest on noise, and its seat
    leaves the committee so the others can reach the quorum (`attest_quorum` in the contract).
    """
    if "verifier" not in s.roles or s.cohort is None or not s.vault.can_decrypt:
        return False
    measures = _can_measure(s)
    mem: dict[str, Any] = s.state.read_json("tasks", s.task_id, "attester.json", default={})
    done = set(mem.get("done", []))
    for proposal_id in proposals:
        if proposal_id in done:
            continue
        view = s.q("GetProposal", task_id=s.task_id, proposal_id=proposal_id)
        p = view["proposal"]
        mine = any(a["member_id"] == s.member_id for a in view["attestations"])
        if p["status"] != "open" or s.member_id not in p["committee"] or mine:
            mem.setdefault("done", []).append(proposal_id)
            s.state.write_json(mem, "tasks", s.task_id, "attester.json")
            continue
        args = _attestation(s, p, measures)
        if _closed_meanwhile(s, proposal_id):  # the quorum came while this one checked
            mem.setdefault("done", []).append(proposal_id)
            s.state.write_json(mem, "tasks", s.task_id, "attester.json")
            return True
        res = s.ledger.submit(
            "AttestBlock", {"task_id": s.task_id, "proposal_id": proposal_id, **args}
        )
        if not res.valid and res.code not in ("ALREADY_ATTESTED", "PROPOSAL_CLOSED"):
            raise RuntimeError(f"AttestBlock refused: {res.code}: {res.message}")
        mem.setdefault("done", []).append(proposal_id)
        s.state.write_json(mem, "tasks", s.task_id, "attester.json")
        return True
    return False
