"""`ConsortiumContract`: the deterministic rules every consortium ledger runs.

Implements the `Contract` protocol of `consortium.ledger.base`; the embedded ledger, the Fabric
gateway fake and the TypeScript chaincode (`chaincode/`) run the same rules, pinned by the vectors
in `data_schemas/vectors/`. docs/decisions/0001-protocol.md is the specification.

Order of checks, the same in both implementations: the function name (`UNKNOWN_FUNCTION`), the
arguments against their pydantic model (`BAD_ARGS`), a transaction's timestamp (`BAD_TIMESTAMP`),
the creator (`NOT_A_MEMBER`, `CERT_MISMATCH`, `MEMBER_REVOKED`, `MISSING_ROLE`), then the
transaction's own rules. Every check
runs before the first write, and reads never see the transaction's own writes (as in Fabric).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from consortium.canonical import CanonicalError, canonical_json, to_plain
from consortium.ledger.base import ContractError, TxContext
from consortium.ledger.contract import _aggregates, _blocks, _members, _queries, _updates, codes
from consortium.ledger.contract.records import ARGS_MODELS, MAX_SAFE, QUERY_ARGS_MODELS, Record

Handler = Callable[[TxContext, Any], Any]

TRANSACTIONS: dict[str, Handler] = {
    "Bootstrap": _members.bootstrap,
    "RegisterMember": _members.register_member,
    "RevokeMember": _members.revoke_member,
    "ShareKey": _members.share_key,
    "PublishTask": _updates.publish_task,
    "SubmitUpdate": _updates.submit_update,
    "RevealNonce": _updates.reveal_nonce,
    "Endorse": _updates.endorse,
    "PostAggregate": _aggregates.post_aggregate,
    "ProposeBlock": _blocks.propose_block,
    "AttestBlock": _blocks.attest_block,
    "RecordDownload": _blocks.record_download,
}

QUERIES: dict[str, Handler] = {
    "GetMember": _queries.get_member,
    "ListMembers": _queries.list_members,
    "GetTask": _queries.get_task,
    "ListTasks": _queries.list_tasks,
    "GetUpdate": _queries.get_update,
    "ListUpdates": _queries.list_updates,
    "GetHead": _queries.get_head,
    "GetVersion": _queries.get_version,
    "ListVersions": _queries.list_versions,
    "GetAggregate": _queries.get_aggregate,
    "ListAggregates": _queries.list_aggregates,
    "GetProposal": _queries.get_proposal,
    "GetBalance": _queries.get_balance,
    "ListBalances": _queries.list_balances,
    "GetShareKey": _queries.get_share_key,
    "ListDownloads": _queries.list_downloads,
}


def parse_args(model: type[Record], args: Any) -> Record:
    """Validate ``args`` (a JSON object) against ``model`` or raise BAD_ARGS with the reason.

    Arguments pass through canonical JSON first, so a float anywhere is refused, and pydantic
    validates them in JSON mode, exactly as the chaincode receives them.
    """
    if not isinstance(args, dict):
        raise ContractError(codes.BAD_ARGS, "arguments must be a JSON object")
    try:
        plain = to_plain(args)
        _check_safe_integers(plain, "$")
        data = canonical_json(plain)
        return model.model_validate_json(data)
    except CanonicalError as error:
        raise ContractError(codes.BAD_ARGS, str(error)) from None
    except UnicodeEncodeError:  # a lone surrogate (from a "\ud800" escape) has no UTF-8 form
        raise ContractError(codes.BAD_ARGS, "a string holds a lone UTF-16 surrogate") from None
    except ValidationError as error:
        raise ContractError(codes.BAD_ARGS, format_validation_error(error)) from None


def _check_safe_integers(value: Any, path: str) -> None:
    """Refuse integers beyond ±(2**53 − 1) anywhere (also in free-form objects like model_spec):
    JavaScript numbers cannot hold them, so the chaincode would store different bytes."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE:
            raise ContractError(codes.BAD_ARGS, f"integer at {path} is beyond ±(2**53 − 1)")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_safe_integers(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_safe_integers(item, f"{path}[{i}]")


def check_timestamp(timestamp_ms: int) -> None:
    """Refuse a transaction stamped outside [0, 2**53 − 1] ms with BAD_TIMESTAMP.

    Every record keeps its times as milliseconds since the epoch within those bounds (the
    records' `NonNegInt`); the stamp is the client's (Fabric does not check it), so a stamp
    before 1970 or beyond what JavaScript numbers hold would otherwise make records that break
    their own schema (the chaincode wrote them, the Python contract failed without a code).
    """
    if not 0 <= timestamp_ms <= MAX_SAFE:
        raise ContractError(
            codes.BAD_TIMESTAMP,
            f"the transaction is stamped {timestamp_ms} ms, outside [0, 2**53 − 1] ms since the "
            "epoch: check the client's clock",
        )


def format_validation_error(error: ValidationError) -> str:
    """Pydantic's errors on one line: ``field.path: message; …``."""
    parts = []
    for item in error.errors(include_url=False):
        where = ".".join(str(p) for p in item["loc"]) or "args"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


class ConsortiumContract:
    """The consortium contract (stateless: all state is in the `TxContext`)."""

    name = "consortium"

    def invoke(self, ctx: TxContext, fn: str, args: dict[str, Any]) -> Any:
        """Run transaction ``fn``; raise `ContractError` to reject it."""
        handler = TRANSACTIONS.get(fn)
        if handler is None:
            raise ContractError(codes.UNKNOWN_FUNCTION, f"no transaction {fn!r}")
        parsed = parse_args(ARGS_MODELS[fn], args)
        check_timestamp(ctx.timestamp_ms)
        return handler(ctx, parsed)

    def query(self, ctx: TxContext, fn: str, args: dict[str, Any]) -> Any:
        """Run query ``fn`` (no state change)."""
        handler = QUERIES.get(fn)
        if handler is None:
            raise ContractError(codes.UNKNOWN_FUNCTION, f"no query {fn!r}")
        return handler(ctx, parse_args(QUERY_ARGS_MODELS[fn], args))

    @staticmethod
    def is_query(fn: str) -> bool:
        """Whether ``fn`` names a query rather than a transaction."""
        return fn in QUERIES
