"""PoLe sealing: ProposeBlock, AttestBlock (with finalization) and RecordDownload.

A sealer proposes the next version; a committee of verifiers other than the sealer evaluates it
against the current head on their own held-out data. No number that decides a block rests on one
member's word: the block's gain is the lower median of the accepting attesters' gains, and it must
reach the requirement the difficulty retargeting set (`consortium.pole.difficulty`).
"""

from __future__ import annotations

from typing import Any

from consortium.ledger.base import TxContext
from consortium.ledger.contract import codes
from consortium.ledger.contract._aggregates import check_aggregate
from consortium.ledger.contract._state import (
    authenticate,
    fail,
    is_revoked,
    read,
    require_role,
    scan,
    version_key,
    write,
)
from consortium.ledger.contract._updates import (
    check_includable,
    draw,
    load_head,
    load_task,
    load_update,
)
from consortium.ledger.contract.committee import committee_outcome, quorum_of_seats
from consortium.ledger.contract.records import (
    ATTEST_REASONS,
    Attestation,
    AttestBlockArgs,
    Balance,
    Download,
    Head,
    Included,
    LearningBlock,
    Proposal,
    ProposeBlockArgs,
    RecordDownloadArgs,
    TaskRecord,
)
from consortium.pole.difficulty import (
    earliest_interval_ms,
    is_retarget_height,
    next_required_gain,
    required_gain_at,
    too_early,
)
from consortium.pole.rewards import Contribution, credited, split_rewards


def _window_intervals(ctx: TxContext, task: TaskRecord, height: int, interval: int) -> list[int]:
    """Intervals of blocks ``height − R + 1 … height`` (the last one not yet on the ledger)."""
    if not is_retarget_height(task, height):
        return []
    start = version_key(task.task_id, height - task.retarget_every + 1)
    found = [b.interval_ms for _, b in _versions(ctx, start, version_key(task.task_id, height))]
    return [*found, interval]


def _versions(ctx: TxContext, start: str, end: str) -> list[tuple[str, LearningBlock]]:
    return [(k, LearningBlock.model_validate_json(v)) for k, v in ctx.range(start, end)]


def propose_block(ctx: TxContext, args: ProposeBlockArgs) -> dict[str, Any]:
    """Hospital: propose version ``head + 1`` over accepted, not yet included updates."""
    sealer = authenticate(ctx)
    require_role(sealer, "hospital")
    task = load_task(ctx, args.task_id)
    head = load_head(ctx, args.task_id)
    if args.height != head.height + 1:
        raise fail(codes.WRONG_HEIGHT, f"the next height is {head.height + 1}")
    if args.parent_digest != head.model_digest:
        raise fail(codes.WRONG_PARENT, "parent_digest is not the head's model_digest")
    if ctx.timestamp_ms < head.ms:
        # The gate, retargeting and the decay read intervals from these client-set stamps: a
        # block stamped before its parent would make the next interval count time that never
        # passed (and an unbounded amount of it), so a block's time never goes back.
        raise fail(
            codes.TOO_EARLY,
            f"stamped {head.ms - ctx.timestamp_ms} ms before the head: a block never precedes "
            "its parent",
        )
    interval = ctx.timestamp_ms - head.ms
    if too_early(task, interval):
        raise fail(
            codes.TOO_EARLY, f"no proposal before {earliest_interval_ms(task)} ms after the head"
        )
    if args.aggregate_id:
        check_aggregate(ctx, args)
    check_includable(ctx, task, head, args.updates)
    window = _window_intervals(ctx, task, args.height, interval)
    expected = next_required_gain(task, head.required_gain_bp, window, args.height)
    if args.next_required_gain_bp != expected:
        raise fail(codes.WRONG_DIFFICULTY, f"next_required_gain_bp must be {expected}")
    committee = draw(ctx, task, head, "block", sealer.member_id)
    proposal = Proposal(
        proposal_id=ctx.tx_id, interval_ms=interval,
        required_gain_bp=required_gain_at(task, head.required_gain_bp, interval),
        sealer=sealer.member_id, committee=committee, quorum=task.quorum, ms=ctx.timestamp_ms,
        status="open", **args.model_dump(),
    )  # fmt: skip
    write(ctx, f"proposal/{task.task_id}/{ctx.tx_id}", proposal)
    return proposal.model_dump(mode="json")


def load_proposal(ctx: TxContext, task_id: str, proposal_id: str) -> Proposal:
    """The proposal or PROPOSAL_NOT_FOUND."""
    proposal = read(ctx, f"proposal/{task_id}/{proposal_id}", Proposal)
    if proposal is None:
        raise fail(codes.PROPOSAL_NOT_FOUND, f"no proposal {proposal_id!r} in task {task_id!r}")
    return proposal


def attestations(ctx: TxContext, proposal_id: str) -> list[Attestation]:
    """Attestations of a proposal, by attester id."""
    return [a for _, a in scan(ctx, f"attest/{proposal_id}/", Attestation)]


def attest_block(ctx: TxContext, args: AttestBlockArgs) -> dict[str, Any]:
    """Verifier in the proposal's committee: one attestation; the quorum-th accept finalizes."""
    member = authenticate(ctx)
    require_role(member, "verifier")
    proposal = load_proposal(ctx, args.task_id, args.proposal_id)
    if proposal.status != "open":
        raise fail(codes.PROPOSAL_CLOSED, f"the proposal is closed ({proposal.status})")
    if member.member_id not in proposal.committee:
        raise fail(codes.NOT_IN_COMMITTEE, f"{member.member_id!r} is not in this committee")
    key = f"attest/{proposal.proposal_id}/{member.member_id}"
    if ctx.get_state(key) is not None:
        raise fail(codes.ALREADY_ATTESTED, "one attestation per member and proposal")
    _check_reason(ctx, args)
    mine = Attestation(
        proposal_id=proposal.proposal_id, member_id=member.member_id, verdict=args.verdict,
        metric_bp=args.metric_bp, base_metric_bp=args.base_metric_bp, ms=ctx.timestamp_ms,
        reason=args.reason,
    )  # fmt: skip
    every = [*attestations(ctx, proposal.proposal_id), mine]
    accepts = [a for a in every if a.verdict == "accept"]
    rejects = sum(1 for a in every if a.verdict == "reject")
    outcome = committee_outcome(
        len(proposal.committee), proposal.quorum, accepts=len(accepts), rejects=rejects,
        abstentions=len(every) - len(accepts) - rejects,
    )  # fmt: skip
    status, block = "open", None
    if outcome == "accept":
        status, block = _finalize(ctx, proposal, accepts)
    elif outcome == "reject":  # the seats still open cannot bring the accepts needed
        status = "rejected"
    if status != "open":
        closed = proposal.model_copy(update={"status": status, "closed_ms": ctx.timestamp_ms})
        write(ctx, f"proposal/{proposal.task_id}/{proposal.proposal_id}", closed)
    # ``reason`` is left out unless given, so an attestation without one is stored and returned as
    # the bytes it was before reasons existed (a ledger replayed by `ledger verify` gives the same)
    plain = mine.model_dump(mode="json", exclude_none=True)
    write(ctx, key, plain)
    return {
        "attestation": plain,
        "proposal_status": status,
        "block": None if block is None else block.model_dump(mode="json"),
    }


def _check_reason(ctx: TxContext, args: AttestBlockArgs) -> None:
    """REASON_MISSING: a reject without a reason, in a task published with ``attest_reasons`` (a
    task published before the field takes one, as it did then)."""
    if args.verdict != "reject" or args.reason is not None:
        return
    if load_task(ctx, args.task_id).attest_reasons:
        raise fail(
            codes.REASON_MISSING,
            "a reject must say which check the proposal failed: give reason, one of "
            f"{', '.join(ATTEST_REASONS)} (task {args.task_id!r} sets attest_reasons)",
        )


# federation/attester.py and the abstention tests name the seat rule by this name.
attest_quorum = quorum_of_seats


def median_attestation(accepts: list[Attestation]) -> Attestation:
    """The accepting attestation with the lower-median gain (ties by member id)."""
    ranked = sorted(accepts, key=lambda a: (a.metric_bp - a.base_metric_bp, a.member_id))
    return ranked[(len(ranked) - 1) // 2]


def _finalize(
    ctx: TxContext, proposal: Proposal, accepts: list[Attestation]
) -> tuple[str, LearningBlock | None]:
    """Append the learning block if the proposal is still next, names no member revoked since it
    was made, and its gain meets the target."""
    head = load_head(ctx, proposal.task_id)
    if head.height + 1 != proposal.height or head.model_digest != proposal.parent_digest:
        return "superseded", None
    if _names_a_revoked_member(ctx, proposal):
        return "member_revoked", None
    median = median_attestation(accepts)
    gain = median.metric_bp - median.base_metric_bp
    if gain < proposal.required_gain_bp:  # the head's, decayed to the proposal's interval
        return "below_target", None
    task = load_task(ctx, proposal.task_id)
    rewards = _pay(ctx, task, proposal)
    shared = proposal.model_dump(include=set(LearningBlock.model_fields))
    block = LearningBlock(
        **shared,
        metric_bp=median.metric_bp, base_metric_bp=median.base_metric_bp, gain_bp=gain,
        attesters=sorted(a.member_id for a in accepts), rewards=rewards,
    )  # fmt: skip
    new_head = Head(
        task_id=block.task_id, height=block.height, model_digest=block.model_digest,
        blob_digest=block.blob_digest, ms=block.ms, required_gain_bp=block.next_required_gain_bp,
    )  # fmt: skip
    write(ctx, version_key(block.task_id, block.height), block)
    write(ctx, f"head/{block.task_id}", new_head)
    for update_id in block.updates:
        included = Included(update_id=update_id, task_id=block.task_id, height=block.height)
        write(ctx, f"included/{update_id}", included)
    return "final", block


def _names_a_revoked_member(ctx: TxContext, proposal: Proposal) -> bool:
    """Was the sealer, or the member of an update, revoked while the proposal was open?

    ProposeBlock refuses both (`authenticate`, `check_includable`); a revocation between the
    proposal and its quorum must not let the block in either: the model would take the revoked
    member's update and the block would pay it.
    """
    members = [proposal.sealer]
    members += [load_update(ctx, proposal.task_id, u).member_id for u in proposal.updates]
    return any(is_revoked(ctx, m) for m in members)


def _pay(ctx: TxContext, task: TaskRecord, proposal: Proposal) -> dict[str, int]:
    """Split the block reward and add it to the members' balances."""
    contributions = [
        Contribution(u, load_update(ctx, task.task_id, u).member_id, ppm)
        for u, ppm in zip(proposal.updates, proposal.contribution_ppm, strict=True)
    ]
    rewards = split_rewards(task.block_reward, task.sealer_share_bp, proposal.sealer, contributions)
    for member_id, units in rewards.items():
        balance = read(ctx, f"balance/{member_id}", Balance)
        total = credited(0 if balance is None else balance.units, units)
        write(ctx, f"balance/{member_id}", Balance(member_id=member_id, units=total))
    return rewards


def record_download(ctx: TxContext, args: RecordDownloadArgs) -> dict[str, Any]:
    """Hospital, verifier or admin: log that a model version was fetched (auditors may not)."""
    member = authenticate(ctx)
    if not {"hospital", "verifier", "admin"} & set(member.roles):
        if "auditor" in member.roles:
            raise fail(codes.ROLE_FORBIDDEN, "auditors review the ledger, they cannot download")
        require_role(member, "hospital", "verifier", "admin")
    load_task(ctx, args.task_id)
    version = read(ctx, version_key(args.task_id, args.version), LearningBlock)
    if version is None:
        raise fail(codes.VERSION_NOT_FOUND, f"task {args.task_id!r} has no version {args.version}")
    if version.model_digest != args.model_digest:
        raise fail(codes.DIGEST_MISMATCH, "model_digest is not the version's digest")
    download = Download(
        download_id=ctx.tx_id, member_id=member.member_id, task_id=args.task_id,
        version=args.version, model_digest=args.model_digest, ms=ctx.timestamp_ms,
    )  # fmt: skip
    write(ctx, f"download/{ctx.tx_id}", download)
    return download.model_dump(mode="json")
