"""Sealer role (a hospital): turn a posted aggregate into the next version and propose the block.

The sealer decrypts the aggregate (it holds the secret context; the aggregator does not), forms
``θ(v+1) = θ(v) + η·S·10⁶/D`` (`consortium.federation.versions`; D = Σ w_k/s(τ_k)), stores the
version's safetensors under AES-GCM, and sends `ProposeBlock` with both digests, the aggregate's
updates and weights, and the next difficulty as the contract computes it
(`consortium.pole.difficulty`).

Who seals: every hospital ranks itself by ``sha256(aggregate_id | member)`` (the committee
function); the first seals at once, the k-th only after ``k × sealer_timeout`` (the first is
presumably dead). Two sealers racing is harmless: the contract takes the first valid proposal
for a height and the next one fails ``WRONG_HEIGHT`` or ``UPDATE_ALREADY_INCLUDED``. Before
proposing, a sealer looks for a proposal of the aggregate among those its follower has read: one
by a sealer before it, or its own from before a kill that came before ``sealer.json`` recorded it
(the contract takes several open proposals for one height, and each draws its own attesters).
Its own, or one that has closed, settles the aggregate. One by a sealer before it that is still
open after ``sealer_timeout`` does not: its committee may hold a verifier whose node is down, and
the seats left may be unable to decide without it (committee of 3, quorum 2: one abstention or
reject among the others leaves the proposal open for good). The next sealer then proposes the
aggregate too, on the committee drawn for itself (`_turn`); before, every sealer after the first
left the aggregate to that open proposal, and the block waited for the aggregator to post the
same sum again after its outstanding timeout, under a new sealer order
(docs/decisions/0007-bafl.md, "A verifier whose node is down"). An
aggregate naming an update of a member revoked since it was posted is not sealed (the contract
would refuse it, MEMBER_REVOKED): recorded in ``sealer.json`` like any refused aggregate, and not
retried.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from consortium.federation.ledgerview import revoked_members
from consortium.federation.session import Session
from consortium.federation.versions import step_staleness, version_bytes

__all__ = ["form_version", "seal_step", "sealer_rank"]


def sealer_rank(s: Session, aggregate_id: str) -> int:
    """This member's place among the active hospitals for sealing ``aggregate_id``."""
    from consortium.ledger.contract.committee import draw_committee

    hospitals = [
        m["member_id"] for m in s.q("ListMembers")
        if "hospital" in m["roles"] and m["status"] == "active"
    ]  # fmt: skip
    order = draw_committee(aggregate_id, hospitals, len(hospitals))
    return order.index(s.member_id) if s.member_id in order else len(order)


def form_version(s: Session, agg: dict[str, Any], height: int) -> bytes:
    """The safetensors bytes of version ``height + 1`` from version ``height`` and ``agg`` (an
    aggregate or a proposal: its updates, weights, shares and ``aggregate_digest``).

    Only what the ledger defines is decrypted: the weights and shares must be those the ledger
    gives the updates at ``height`` (`aggregator.weights_as_ledger_says`), and the weighted sum is
    recomputed on ciphertexts and must match ``aggregate_digest``; otherwise `VaultError`.
    Decrypting a blob the aggregator chose would make this member a decryption oracle (a
    ciphertext (0, c) decrypts to c·s, so one released version and its parent give the CKKS secret
    key) and would let the public key write anything into the model.
    """
    from consortium.canonical import sha256_hex
    from consortium.federation.aggregator import weights_as_ledger_says
    from consortium.federation.recompute import recompute_aggregate
    from consortium.federation.vault import VaultError

    if not weights_as_ledger_says(s, agg, height):
        raise VaultError("the aggregate's weights or shares are not those the ledger gives")
    block = {"updates": agg["updates"], "weights_ppm": agg["weights_ppm"]}
    aggregate = recompute_aggregate(s.ledger, s.blobs, s.vault, s.task_id, block)
    if sha256_hex(aggregate) != agg["aggregate_digest"]:
        raise VaultError(
            f"aggregate {agg['aggregate_digest'][:12]}… is not the weighted sum of its updates: "
            "not decrypted"
        )
    task = s.task()
    bases = [s.q("GetUpdate", task_id=s.task_id, update_id=u)["update"]["base_version"]
             for u in agg["updates"]]  # fmt: skip
    staleness = step_staleness(bases, height, int(task["staleness_exponent_bp"]))
    return version_bytes(s.vault, s.version(height), aggregate, agg["weights_ppm"],
                         int(task["server_lr_bp"]), staleness)  # fmt: skip


def _next_gain(s: Session, head: dict[str, Any], height: int) -> int:
    from consortium.pole.difficulty import is_retarget_height, next_required_gain

    task = s.task()
    params = _difficulty_params(task)
    window: list[int] = []
    if is_retarget_height(params, height):
        earlier = int(task["retarget_every"]) - 1  # blocks height-R+1 … height-1 are on the ledger
        versions = s.q("ListVersions", task_id=s.task_id) if earlier else []
        window = [int(v["interval_ms"]) for v in versions[len(versions) - earlier :]]
        window.append(max(0, s.now_ms() - int(head["ms"])))
    return int(next_required_gain(params, int(head["required_gain_bp"]), window, height))


def _too_early(s: Session, head: dict[str, Any]) -> bool:
    """Would a proposal now be `TOO_EARLY`: before the head's own time (this clock is behind the
    previous sealer's) or before the task's target-interval gate?"""
    from consortium.pole.difficulty import too_early

    interval = s.now_ms() - int(head["ms"])
    if interval < 0:
        return True
    task = _difficulty_params(s.task())
    if not task.min_interval_bp:
        return False
    return bool(too_early(task, interval))


def _difficulty_params(task: dict[str, Any]) -> Any:
    from consortium.ledger.contract.records import TaskRecord

    return TaskRecord.model_validate(task)


def _propose(s: Session, agg: dict[str, Any], head: dict[str, Any]) -> str:
    from consortium.canonical import sha256_hex
    from consortium.federation.vault import VaultError
    from consortium.ledger.contract.records import ProposeBlockArgs

    height = int(head["height"])
    if _names_a_revoked_member(s, agg):
        return "MEMBER_REVOKED"  # the contract refuses it: not decrypted, recorded, not retried
    try:
        data = form_version(s, agg, height)
    except VaultError:
        return "AGGREGATE_MISMATCH"  # not proposed; recorded in sealer.json, not retried
    blob_digest = s.blobs.put(s.vault.seal_model(data))
    args: dict[str, Any] = {
        "task_id": s.task_id, "height": height + 1, "parent_digest": head["model_digest"],
        "aggregate_id": agg["aggregate_id"], "updates": agg["updates"],
        "weights_ppm": agg["weights_ppm"], "contribution_ppm": agg["contribution_ppm"],
        "aggregate_digest": agg["aggregate_digest"], "model_digest": sha256_hex(data),
        "blob_digest": blob_digest, "next_required_gain_bp": _next_gain(s, head, height + 1),
    }  # fmt: skip
    args = {k: v for k, v in args.items() if k in ProposeBlockArgs.model_fields}
    for _ in range(3):
        res = s.ledger.submit("ProposeBlock", args)
        if res.code != "WRONG_DIFFICULTY":
            return res.code
        # The requirement depends on the transaction's own timestamp (its interval since the
        # head) at retarget heights: take the value the contract computed and try again.
        found = re.search(r"must be (-?\d+)", res.message)
        if not found:
            return res.code
        args["next_required_gain_bp"] = int(found.group(1))
    return "WRONG_DIFFICULTY"


def _names_a_revoked_member(s: Session, agg: dict[str, Any]) -> bool:
    """Does ``agg`` hold an update of a member revoked since it was posted? Nothing of a revoked
    member enters a block: the contract refuses the proposal with MEMBER_REVOKED."""
    revoked = revoked_members(s)
    return bool(revoked) and any(
        s.q("GetUpdate", task_id=s.task_id, update_id=u)["update"]["member_id"] in revoked
        for u in agg["updates"]
    )


def _turn(s: Session, agg: dict[str, Any], proposals: list[str]) -> str:
    """Whether to propose ``agg`` now, from the proposals of it the follower has read:
    ``"settled"`` when one of them has closed or is this member's own (from before a kill that came
    before ``sealer.json`` recorded it); ``"wait"`` while one by another sealer has been open for
    less than ``sealer_timeout`` (its attesters may still decide); ``"propose"`` otherwise: none,
    or each open for longer, as when its committee holds a verifier whose node is down (module
    docstring). (If a proposal fell below the target, the aggregator aggregates afresh.) By
    aggregate id, not digest: the aggregator posts the same sum again, under a new id, once the
    bar has decayed to the gain it fell short with."""
    turn = "propose"
    for proposal_id in proposals[-10:]:
        p = s.q("GetProposal", task_id=s.task_id, proposal_id=proposal_id)["proposal"]
        if p.get("aggregate_id") != agg["aggregate_id"]:
            continue
        if p["status"] != "open" or p["sealer"] == s.member_id:
            return "settled"
        if s.now_ms() - int(p["ms"]) < s.settings.sealer_timeout_seconds * 1000:
            turn = "wait"
    return turn


def seal_step(s: Session, aggregates: list[dict[str, Any]], proposals: Sequence[str] = ()) -> bool:
    """Seal the next posted aggregate this member should seal; True if it did something."""
    if "hospital" not in s.roles or not s.vault.can_decrypt:
        return False
    mem: dict[str, Any] = s.state.read_json("tasks", s.task_id, "sealer.json", default={})
    done = set(mem.get("done", []))
    for agg in aggregates:
        if agg["aggregate_id"] in done:
            continue
        head = s.head()
        stale = agg.get("head") is not None and int(agg["head"]) != int(head["height"])
        if stale:
            mem.setdefault("done", []).append(agg["aggregate_id"])
            s.state.write_json(mem, "tasks", s.task_id, "sealer.json")
            continue
        wait = sealer_rank(s, agg["aggregate_id"]) * s.settings.sealer_timeout_seconds
        if s.now_ms() - int(agg["ms"]) < wait * 1000:
            continue
        if _too_early(s, head):
            continue  # the task's target-interval gate: propose once it opens
        turn = _turn(s, agg, list(proposals))
        if turn == "wait":
            continue
        if turn == "settled":
            mem.setdefault("done", []).append(agg["aggregate_id"])
            s.state.write_json(mem, "tasks", s.task_id, "sealer.json")
            continue
        code = _propose(s, agg, head)
        if code == "TOO_EARLY":
            return True  # clocks differ a little: retry on a later step
        mem.setdefault("done", []).append(agg["aggregate_id"])
        mem.setdefault("codes", {})[agg["aggregate_id"]] = code
        s.state.write_json(mem, "tasks", s.task_id, "sealer.json")
        return True
    return False
