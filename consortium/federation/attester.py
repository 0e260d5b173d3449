"""Attester role (a verifier): evaluate a proposed version against the head, on held-out rows.

Before it gives a metric, the attester checks that the proposal is what the ledger says it is:
the blob opens to bytes whose SHA-256 is ``model_digest``, and — since it holds the secret key —
that decrypting the aggregate (recomputed from the proposal's updates and weights, which must give
``aggregate_digest``) and applying it to the head reproduces exactly those bytes
(`consortium.federation.sealer.form_version`). A sealer that slipped anything else into the
version gets a ``reject``. So does a proposal stamped more than ``max_clock_skew_seconds`` ahead
of the attester's clock: the proposal's interval since the head comes from the sealer's own
transaction timestamp and sets the target-interval gate, retargeting and the decayed requirement
(0001, "Difficulty"), so a post-dated proposal could claim a lower bar. The contract then appends
the block when the lower median of the accepting attesters' gains meets the required gain (0001,
AttestBlock).
"""

from __future__ import annotations

from typing import Any

from consortium.canonical import sha256_hex
from consortium.federation.session import Session
from consortium.federation.vault import VaultError
from consortium.federation.verifier import metric_bp

__all__ = ["attest_step"]


def _consistent(s: Session, proposal: dict[str, Any]) -> bool:
    from consortium.federation.sealer import form_version

    try:
        data = s.vault.open_model(s.blobs.get(proposal["blob_digest"]))
        if sha256_hex(data) != proposal["model_digest"]:
            return False
        return form_version(s, proposal, int(proposal["height"]) - 1) == data  # byte for byte
    except (VaultError, OSError, ValueError):
        return False


def _can_measure(s: Session) -> bool:
    """Enough held-out rows of each class for the task metric to mean something."""
    from consortium.federation.verifier import metric_measurable

    assert s.cohort is not None
    return metric_measurable(int(s.cohort.y_test.sum()), len(s.cohort.y_test))


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
        on_time = int(p["ms"]) <= s.now_ms() + s.settings.max_clock_skew_seconds * 1000
        ok = on_time and _consistent(s, p)
        verdict, new_bp, base_bp = ("accept" if ok else "reject"), 0, 0
        if not measures:
            verdict = "abstain" if ok else "reject"
        else:
            base_bp = metric_bp(s.version(int(p["height"]) - 1), s)
            if ok:
                new_bp = metric_bp(s.model_by_digest(p["model_digest"], p["blob_digest"]), s)
        res = s.ledger.submit("AttestBlock", {
            "task_id": s.task_id, "proposal_id": proposal_id, "verdict": verdict,
            "metric_bp": new_bp, "base_metric_bp": base_bp,
        })  # fmt: skip
        if not res.valid and res.code not in ("ALREADY_ATTESTED", "PROPOSAL_CLOSED"):
            raise RuntimeError(f"AttestBlock refused: {res.code}: {res.message}")
        mem.setdefault("done", []).append(proposal_id)
        s.state.write_json(mem, "tasks", s.task_id, "attester.json")
        return True
    return False
