"""Task and update transactions: PublishTask, SubmitUpdate, RevealNonce, Endorse.

An update's status is never stored: it is derived from its endorsements (one key per endorser),
so endorsements arriving concurrently never conflict (Fabric MVCC).
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from consortium.ledger.base import TxContext
from consortium.ledger.contract import codes
from consortium.ledger.contract._state import (
    active_verifiers,
    authenticate,
    decimal_cmp,
    fail,
    is_revoked,
    read,
    require_role,
    scan,
    version_key,
    write,
)
from consortium.ledger.contract.committee import committee_outcome, draw_committee, head_seed
from consortium.ledger.contract.records import (
    EndorseArgs,
    Endorsement,
    Epsilon,
    Head,
    LearningBlock,
    PublishTaskArgs,
    RevealNonceArgs,
    SubmitUpdateArgs,
    TaskRecord,
    Update,
    too_stale,
)

SML_COMMIT_PREFIX = "consortium/sml-commit/v1|"


def sml_commitment(nonce: str) -> str:
    """``sha256("consortium/sml-commit/v1|" + nonce)`` in hex: binds an update to its SML nonce.

    The member commits before anyone sees its update and reveals after its submission is ordered,
    so the mapping layer (seeded by the nonce, the base digest and the member id) could not be
    known to anyone copying the update before the copy had to be submitted (Lan et al., PoLe).
    The prefix separates this hash from every other SHA-256 in the protocol.
    """
    return hashlib.sha256((SML_COMMIT_PREFIX + nonce).encode()).hexdigest()


def load_task(ctx: TxContext, task_id: str) -> TaskRecord:
    """The task or TASK_NOT_FOUND."""
    task = read(ctx, f"task/{task_id}", TaskRecord)
    if task is None:
        raise fail(codes.TASK_NOT_FOUND, f"no task {task_id!r}")
    return task


def load_head(ctx: TxContext, task_id: str) -> Head:
    """The task's head (exists whenever the task does)."""
    head = read(ctx, f"head/{task_id}", Head)
    if head is None:
        raise fail(codes.TASK_NOT_FOUND, f"no task {task_id!r}")
    return head


def committee_seed(
    ctx: TxContext, task: TaskRecord, head: Head, kind: Literal["update", "block"], member_id: str
) -> str:
    """The seed of the committee ``member_id``'s transaction draws: `head_seed` of the task's head,
    or the transaction id for a task published without ``committee_seed: "head"``."""
    if task.committee_seed == "tx":
        return ctx.tx_id
    return head_seed(kind, task.task_id, head.height, head.model_digest, member_id)


def draw(
    ctx: TxContext, task: TaskRecord, head: Head, kind: Literal["update", "block"], member_id: str
) -> list[str]:
    """The committee of ``member_id``'s update or proposal: the task's ``committee_size`` of the
    active verifiers other than ``member_id``, or NO_COMMITTEE when fewer than its quorum."""
    candidates = [m for m in active_verifiers(ctx) if m != member_id]
    seed = committee_seed(ctx, task, head, kind, member_id)
    committee = draw_committee(seed, candidates, task.committee_size)
    if len(committee) < task.quorum:
        raise fail(codes.NO_COMMITTEE, f"{len(committee)} verifiers < quorum {task.quorum}")
    return committee


def load_update(ctx: TxContext, task_id: str, update_id: str) -> Update:
    """The update or UPDATE_NOT_FOUND."""
    update = read(ctx, f"update/{task_id}/{update_id}", Update)
    if update is None:
        raise fail(codes.UPDATE_NOT_FOUND, f"no update {update_id!r} in task {task_id!r}")
    return update


def endorsements(ctx: TxContext, update_id: str) -> list[Endorsement]:
    """Endorsements of an update, by endorser id."""
    return [e for _, e in scan(ctx, f"endorse/{update_id}/", Endorsement)]


def status_of(update: Update, found: list[Endorsement], gone: int = 0) -> str:
    """accepted, rejected or pending, from the update's endorsements so far.

    `committee_outcome`, the rule attestations follow too: an abstention (the endorser could not
    run every check, 0001-protocol.md) gives its seat up, so the update needs
    ``quorum_of_seats(quorum, committee − abstentions)`` accepts and is rejected once the seats
    not rejecting cannot bring them. When every member abstains nobody vouched for the update: it
    is rejected (its endorsements say why: each carries reason ``UNMEASURABLE``). ``gone``: the
    committee members revoked before their verdict, whose seats leave as abstentions do.
    """
    accepts = sum(e.verdict == "accept" for e in found)
    rejects = sum(e.verdict == "reject" for e in found)
    outcome = committee_outcome(
        len(update.committee), update.quorum, accepts=accepts, rejects=rejects,
        abstentions=len(found) - accepts - rejects + gone,
    )  # fmt: skip
    return {"accept": "accepted", "reject": "rejected"}.get(outcome or "", "pending")


def verdict_deadline_ms(task: TaskRecord, update: Update) -> int | None:
    """When the seats of ``update`` that have not endorsed count as abstentions: its reveal (the
    moment verification can start, `endorse`) plus the task's ``verdict_timeout_ms``; None when
    the task sets no timeout or the update is not revealed yet."""
    if task.verdict_timeout_ms == 0 or update.revealed_ms is None:
        return None
    return update.revealed_ms + task.verdict_timeout_ms


def derived_status(ctx: TxContext, update: Update) -> str:
    """The update's status from the ledger at the transaction's timestamp, ``included`` once a
    learning block holds it.

    A committee member revoked before its verdict can never give one (`authenticate`): its seat
    leaves the committee, as an abstention's does, so that the others still decide the update
    (otherwise one accept and one reject of a committee of 3, quorum 2, left it pending for good).
    So does a seat still silent at the update's `verdict_deadline_ms` (a node that is down), which
    `endorse` then refuses. Only a pending update reads the task and the committee's member
    records: a seat leaving never turns an accepted update rejected or a rejected one accepted.
    """
    if ctx.get_state(f"included/{update.update_id}") is not None:
        return "included"
    found = endorsements(ctx, update.update_id)
    status = status_of(update, found)
    if status != "pending":
        return status
    judged = {e.member_id for e in found}
    deadline = verdict_deadline_ms(load_task(ctx, update.task_id), update)
    expired = deadline is not None and ctx.timestamp_ms >= deadline
    gone = sum(1 for m in update.committee if m not in judged and (expired or is_revoked(ctx, m)))
    return status_of(update, found, gone)


def check_includable(
    ctx: TxContext, task: TaskRecord, head: Head, update_ids: list[str]
) -> list[Update]:
    """Each update exists, is accepted, is in no learning block yet, comes from a member not
    revoked and is at most ``max_staleness`` versions behind ``head`` (in the given order).

    Revocation reaches everything not yet in a block: an update accepted (even aggregated) before
    its member was revoked enters no aggregate, no proposal and no block, so it gives the model
    nothing and earns nothing; blocks appended before stay as they are. Staleness too: SubmitUpdate
    bounds it when the update arrives, but the head moves on while it waits to be aggregated, and
    an update fresh enough at h would otherwise enter a block any number of versions later.
    """
    found = []
    for update_id in update_ids:
        update = load_update(ctx, task.task_id, update_id)
        status = derived_status(ctx, update)
        if status == "included":
            raise fail(codes.UPDATE_ALREADY_INCLUDED, f"update {update_id} is in a block already")
        if status != "accepted":
            raise fail(codes.UPDATE_NOT_ACCEPTED, f"update {update_id} is {status}")
        if is_revoked(ctx, update.member_id):
            raise fail(
                codes.MEMBER_REVOKED,
                f"update {update_id} is from {update.member_id!r}, revoked since: a revoked "
                "member's updates enter no block; leave it out",
            )
        if too_stale(head.height, update.base_version, task.max_staleness):
            raise fail(
                codes.STALE_BASE,
                f"update {update_id} is on version {update.base_version}, more than max_staleness "
                f"{task.max_staleness} behind the head {head.height}: it enters no block; leave "
                "it out",
            )
        found.append(update)
    return found


def publish_task(ctx: TxContext, args: PublishTaskArgs) -> dict[str, Any]:
    """Admin: create a task and its version 0 (the initial model)."""
    admin = authenticate(ctx)
    require_role(admin, "admin")
    task = args.task
    if ctx.get_state(f"task/{task.task_id}") is not None:
        raise fail(codes.TASK_EXISTS, f"task {task.task_id!r} exists")
    ms = ctx.timestamp_ms
    record = TaskRecord(**task.model_dump(), published_by=admin.member_id, published_ms=ms)
    genesis = LearningBlock(
        task_id=task.task_id, height=0, parent_digest=None,
        model_digest=task.initial_model_digest, blob_digest=task.initial_blob_digest,
        aggregate_id="", aggregate_digest=None, updates=[], weights_ppm=[], contribution_ppm=[],
        sealer=admin.member_id, proposal_id=ctx.tx_id, metric_bp=0, base_metric_bp=0, gain_bp=0,
        attesters=[], required_gain_bp=task.initial_required_gain_bp,
        next_required_gain_bp=task.initial_required_gain_bp, interval_ms=0, ms=ms, rewards={},
    )  # fmt: skip
    head = Head(
        task_id=task.task_id, height=0, model_digest=task.initial_model_digest,
        blob_digest=task.initial_blob_digest, ms=ms,
        required_gain_bp=task.initial_required_gain_bp,
    )  # fmt: skip
    # ``committee_seed`` is left out when "tx", so such a task's record and result are the bytes
    # they were before the field existed (a ledger replayed by `ledger verify` gives the same).
    # ``verdict_timeout_ms`` and ``attest_reasons`` likewise only when set.
    unset = {"committee_seed"} if record.committee_seed == "tx" else set()
    unset |= {"verdict_timeout_ms"} if record.verdict_timeout_ms == 0 else set()
    unset |= {"attest_reasons"} if not record.attest_reasons else set()
    plain = record.model_dump(mode="json", exclude=unset or None)
    write(ctx, f"task/{task.task_id}", plain)
    write(ctx, version_key(task.task_id, 0), genesis)
    write(ctx, f"head/{task.task_id}", head)
    return plain


def _check_budget(ctx: TxContext, task: TaskRecord, member_id: str, spent: str) -> None:
    if decimal_cmp(spent, task.epsilon_budget) > 0:
        raise fail(codes.BUDGET_EXCEEDED, f"ε {spent} exceeds the budget {task.epsilon_budget}")
    previous = read(ctx, f"epsilon/{task.task_id}/{member_id}", Epsilon)
    if previous is not None and decimal_cmp(spent, previous.epsilon_spent) < 0:
        raise fail(
            codes.EPSILON_DECREASED,
            f"cumulative ε {spent} is below the {previous.epsilon_spent} declared before",
        )


def submit_update(ctx: TxContext, args: SubmitUpdateArgs) -> dict[str, Any]:
    """Hospital: record an update and draw its verification committee."""
    member = authenticate(ctx)
    require_role(member, "hospital")
    task = load_task(ctx, args.task_id)
    head = load_head(ctx, args.task_id)
    if args.base_version > head.height:
        raise fail(codes.VERSION_NOT_FOUND, f"version {args.base_version} does not exist yet")
    if too_stale(head.height, args.base_version, task.max_staleness):
        raise fail(codes.STALE_BASE, f"base {args.base_version} is too old (head {head.height})")
    if task.sml and not args.commitment:
        raise fail(codes.COMMITMENT_MISSING, "this task uses SML: send the nonce's commitment")
    sub_key = f"sub/{task.task_id}/{args.base_version:08d}/{member.member_id}"
    if ctx.get_state(sub_key) is not None:
        raise fail(codes.DUPLICATE_SUBMISSION, f"one update per member on base {args.base_version}")
    _check_budget(ctx, task, member.member_id, args.epsilon_spent)
    committee = draw(ctx, task, head, "update", member.member_id)
    update = Update(
        update_id=ctx.tx_id, member_id=member.member_id, committee=committee, quorum=task.quorum,
        submitted_ms=ctx.timestamp_ms, **args.model_dump(),
    )  # fmt: skip
    epsilon = Epsilon(
        task_id=task.task_id, member_id=member.member_id,
        epsilon_spent=args.epsilon_spent, ms=ctx.timestamp_ms,
    )  # fmt: skip
    write(ctx, f"update/{task.task_id}/{ctx.tx_id}", update)
    write(ctx, sub_key, ctx.tx_id)
    write(ctx, f"epsilon/{task.task_id}/{member.member_id}", epsilon)
    return update.model_dump(mode="json")


def reveal_nonce(ctx: TxContext, args: RevealNonceArgs) -> dict[str, Any]:
    """Submitter: open the SML commitment and name the unmapped first-layer blob."""
    member = authenticate(ctx)
    task = load_task(ctx, args.task_id)
    update = load_update(ctx, args.task_id, args.update_id)
    if update.member_id != member.member_id:
        raise fail(codes.NOT_SUBMITTER, "only the submitter reveals its nonce")
    if update.nonce is not None:
        raise fail(codes.ALREADY_REVEALED, "the nonce of this update is revealed already")
    if update.commitment:
        opened = sml_commitment(args.nonce) == update.commitment
    else:  # no commitment: only a task without SML, and then only the empty nonce
        opened = not task.sml and args.nonce == ""
    if not opened:
        raise fail(codes.COMMITMENT_MISMATCH, "the nonce does not open the update's commitment")
    revealed = update.model_copy(
        update={
            "nonce": args.nonce,
            "unmapped_digest": args.unmapped_digest,
            "revealed_ms": ctx.timestamp_ms,
        }
    )
    write(ctx, f"update/{args.task_id}/{args.update_id}", revealed)
    return revealed.model_dump(mode="json")


def endorse(ctx: TxContext, args: EndorseArgs) -> dict[str, Any]:
    """Verifier in the committee: one verdict per update, after the reveal and, when the task
    sets ``verdict_timeout_ms``, before its deadline (a later one could reopen a decided status)."""
    member = authenticate(ctx)
    require_role(member, "verifier")
    update = load_update(ctx, args.task_id, args.update_id)
    if update.member_id == member.member_id:
        raise fail(codes.SELF_ENDORSEMENT, "a member never endorses its own update")
    if member.member_id not in update.committee:
        raise fail(codes.NOT_IN_COMMITTEE, f"{member.member_id!r} is not in this committee")
    if update.nonce is None:
        raise fail(codes.NOT_REVEALED, "wait for the submitter's RevealNonce")
    key = f"endorse/{update.update_id}/{member.member_id}"
    if ctx.get_state(key) is not None:
        raise fail(codes.ALREADY_ENDORSED, "one endorsement per member and update")
    deadline = verdict_deadline_ms(load_task(ctx, args.task_id), update)
    if deadline is not None and ctx.timestamp_ms >= deadline:
        raise fail(
            codes.VERDICT_CLOSED,
            f"the task's verdict_timeout_ms passed at {deadline} ms (reveal + timeout): this seat "
            "counts as an abstention now and takes no verdict; nothing to do",
        )
    endorsement = Endorsement(
        update_id=update.update_id, member_id=member.member_id, verdict=args.verdict,
        reason=args.reason, metric_bp=args.metric_bp, scores=args.scores, ms=ctx.timestamp_ms,
    )  # fmt: skip
    # No range read of the other endorsements here: in Fabric a range read joins the read set and is
    # re-checked at commit (phantom reads), so concurrent endorsements of one update would conflict.
    write(ctx, key, endorsement)
    return endorsement.model_dump(mode="json")
