"""Read-only queries. They change nothing and check no role: who may read the ledger at all is
decided by the network (Fabric channel membership, the embedded ledger's member list)."""

from __future__ import annotations

from typing import Any

from consortium.ledger.base import TxContext
from consortium.ledger.contract import codes
from consortium.ledger.contract._aggregates import load_aggregate
from consortium.ledger.contract._blocks import attestations, load_proposal
from consortium.ledger.contract._state import fail, read, read_raw, scan, version_key
from consortium.ledger.contract._updates import (
    derived_status,
    endorsements,
    load_head,
    load_task,
    load_update,
)
from consortium.ledger.contract.records import (
    Aggregate,
    AggregateRefArgs,
    Balance,
    Download,
    LearningBlock,
    ListDownloadsArgs,
    ListUpdatesArgs,
    Member,
    MemberIdArgs,
    NoArgs,
    ProposalRefArgs,
    ShareKey,
    TaskIdArgs,
    TaskRecord,
    Update,
    UpdateRefArgs,
    VersionRefArgs,
)


def _dump(records: list[Any]) -> list[Any]:
    return [r.model_dump(mode="json") for r in records]


def get_member(ctx: TxContext, args: MemberIdArgs) -> Any:
    """One member record."""
    member = read(ctx, f"member/{args.member_id}", Member)
    if member is None:
        raise fail(codes.MEMBER_NOT_FOUND, f"no member {args.member_id!r}")
    return member.model_dump(mode="json")


def list_members(ctx: TxContext, args: NoArgs) -> Any:
    """All members by id."""
    return _dump([m for _, m in scan(ctx, "member/", Member)])


def get_task(ctx: TxContext, args: TaskIdArgs) -> Any:
    """One task."""
    return load_task(ctx, args.task_id).model_dump(mode="json")


def list_tasks(ctx: TxContext, args: NoArgs) -> Any:
    """All tasks by id."""
    return _dump([t for _, t in scan(ctx, "task/", TaskRecord)])


def _update_view(ctx: TxContext, update: Update) -> dict[str, Any]:
    included = read_raw(ctx, f"included/{update.update_id}")
    return {
        "update": update.model_dump(mode="json"),
        "endorsements": _dump(endorsements(ctx, update.update_id)),
        "status": derived_status(ctx, update),
        "included_height": None if included is None else included["height"],
    }


def get_update(ctx: TxContext, args: UpdateRefArgs) -> Any:
    """An update with its endorsements and derived status."""
    return _update_view(ctx, load_update(ctx, args.task_id, args.update_id))


def list_updates(ctx: TxContext, args: ListUpdatesArgs) -> Any:
    """A task's updates (by update id), optionally only those with one derived status."""
    load_task(ctx, args.task_id)
    views = [_update_view(ctx, u) for _, u in scan(ctx, f"update/{args.task_id}/", Update)]
    return [v for v in views if args.status is None or v["status"] == args.status]


def get_head(ctx: TxContext, args: TaskIdArgs) -> Any:
    """The task's latest version and the gain required of the next block."""
    return load_head(ctx, args.task_id).model_dump(mode="json")


def get_version(ctx: TxContext, args: VersionRefArgs) -> Any:
    """One learning block."""
    block = read(ctx, version_key(args.task_id, args.version), LearningBlock)
    if block is None:
        raise fail(codes.VERSION_NOT_FOUND, f"task {args.task_id!r} has no version {args.version}")
    return block.model_dump(mode="json")


def list_versions(ctx: TxContext, args: TaskIdArgs) -> Any:
    """All learning blocks of a task, by height."""
    load_task(ctx, args.task_id)
    return _dump([b for _, b in scan(ctx, f"version/{args.task_id}/", LearningBlock)])


def get_aggregate(ctx: TxContext, args: AggregateRefArgs) -> Any:
    """One posted aggregate."""
    return load_aggregate(ctx, args.task_id, args.aggregate_id).model_dump(mode="json")


def list_aggregates(ctx: TxContext, args: TaskIdArgs) -> Any:
    """A task's aggregates (by aggregate id) with the height each was computed at."""
    load_task(ctx, args.task_id)
    return _dump([a for _, a in scan(ctx, f"aggregate/{args.task_id}/", Aggregate)])


def get_proposal(ctx: TxContext, args: ProposalRefArgs) -> Any:
    """A proposal with its attestations."""
    proposal = load_proposal(ctx, args.task_id, args.proposal_id)
    return {
        "proposal": proposal.model_dump(mode="json"),
        "attestations": _dump(attestations(ctx, proposal.proposal_id)),
    }


def get_balance(ctx: TxContext, args: MemberIdArgs) -> Any:
    """A member's reward units (0 when it never earned any)."""
    balance = read(ctx, f"balance/{args.member_id}", Balance)
    return (balance or Balance(member_id=args.member_id, units=0)).model_dump(mode="json")


def list_balances(ctx: TxContext, args: NoArgs) -> Any:
    """Every non-zero balance, by member id."""
    return _dump([b for _, b in scan(ctx, "balance/", Balance)])


def get_share_key(ctx: TxContext, args: MemberIdArgs) -> Any:
    """The wrapped-key record of a member."""
    share = read(ctx, f"sharekey/{args.member_id}", ShareKey)
    if share is None:
        raise fail(codes.SHARE_NOT_FOUND, f"no key share for {args.member_id!r}")
    return share.model_dump(mode="json")


def list_downloads(ctx: TxContext, args: ListDownloadsArgs) -> Any:
    """Model downloads (by transaction id), optionally of one task."""
    found = [d for _, d in scan(ctx, "download/", Download)]
    return _dump([d for d in found if args.task_id is None or d.task_id == args.task_id])
