"""PostAggregate: the aggregator's encrypted weighted sum, handed to sealers through the ledger."""

from __future__ import annotations

from typing import Any

from consortium.ledger.base import TxContext
from consortium.ledger.contract import codes
from consortium.ledger.contract._state import authenticate, fail, read, require_role, write
from consortium.ledger.contract._updates import check_includable, load_head, load_task
from consortium.ledger.contract.records import Aggregate, PostAggregateArgs, ProposeBlockArgs


def post_aggregate(ctx: TxContext, args: PostAggregateArgs) -> dict[str, Any]:
    """Aggregator: record the encrypted weighted sum of accepted updates it computed.

    The aggregator holds only the public CKKS context: it sums ciphertexts and never sees an
    update in clear. Putting the sum's digest and its exact integer weights on the ledger lets the
    sealer decrypt it and anyone recompute it byte for byte.
    """
    member = authenticate(ctx)
    require_role(member, "aggregator")
    task = load_task(ctx, args.task_id)
    head = load_head(ctx, args.task_id)
    check_includable(ctx, task, head, args.updates)
    aggregate = Aggregate(
        aggregate_id=ctx.tx_id, head=head.height, by=member.member_id, ms=ctx.timestamp_ms,
        **args.model_dump(),
    )  # fmt: skip
    write(ctx, f"aggregate/{args.task_id}/{ctx.tx_id}", aggregate)
    return aggregate.model_dump(mode="json")


def load_aggregate(ctx: TxContext, task_id: str, aggregate_id: str) -> Aggregate:
    """The aggregate or AGGREGATE_NOT_FOUND."""
    aggregate = read(ctx, f"aggregate/{task_id}/{aggregate_id}", Aggregate)
    if aggregate is None:
        raise fail(codes.AGGREGATE_NOT_FOUND, f"no aggregate {aggregate_id!r} in task {task_id!r}")
    return aggregate


def check_aggregate(ctx: TxContext, args: ProposeBlockArgs) -> None:
    """A proposal naming an aggregate must carry exactly its updates, weights and digest."""
    aggregate = load_aggregate(ctx, args.task_id, args.aggregate_id)
    fields = ("updates", "weights_ppm", "contribution_ppm", "aggregate_digest")
    for name in fields:
        if getattr(aggregate, name) != getattr(args, name):
            raise fail(
                codes.AGGREGATE_MISMATCH, f"{name} differs from aggregate {aggregate.aggregate_id}"
            )
