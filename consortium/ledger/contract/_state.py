"""World-state helpers shared by the transactions: keys, typed reads and writes, the creator check.

Every stored value is canonical JSON of a record (`consortium.canonical`), so every peer and both
contract implementations write the same bytes for the same record.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator
from typing import Any, TypeVar

from pydantic import BaseModel

from consortium.canonical import canonical_json
from consortium.ledger.base import ContractError, TxContext
from consortium.ledger.contract import codes
from consortium.ledger.contract.records import Member

R = TypeVar("R", bound=BaseModel)

_PEM = re.compile(r"-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\r\n\t ]+?)-----END CERTIFICATE-----")
_B64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")
_WS = re.compile(r"[\r\n\t ]")


def fail(code: str, message: str) -> ContractError:
    """The error to raise for a refused transaction."""
    return ContractError(code, message)


def cert_der_sha256(cert_pem: str) -> str | None:
    """SHA-256 (hex) of the DER inside the first PEM CERTIFICATE block, or None if malformed.

    Members are identified by their certificate: comparing the DER digest, not the PEM text, makes
    line wrapping and trailing text irrelevant. The decoding is strict and spelled out (a
    base64 alphabet check, length a multiple of 4, a DER SEQUENCE) so that the chaincode, whose
    base64 decoder is lenient, accepts and refuses exactly the same inputs.
    """
    match = _PEM.search(cert_pem)
    if match is None:
        return None
    body = _WS.sub("", match.group(1))
    if not body or len(body) % 4 or not _B64.match(body):
        return None
    der = base64.b64decode(body)
    if not der or der[0] != 0x30:
        return None
    return hashlib.sha256(der).hexdigest()


def decimal_cmp(a: str, b: str) -> int:
    """Compare two decimal strings (validated by `records.Decimal`) exactly: -1, 0 or 1."""
    ai, _, af = a.partition(".")
    bi, _, bf = b.partition(".")
    width = max(len(af), len(bf))
    x = int(ai + af.ljust(width, "0"))
    y = int(bi + bf.ljust(width, "0"))
    return (x > y) - (x < y)


def prefix_end(prefix: str) -> str:
    """The exclusive end of a range holding exactly the keys starting with ``prefix``."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def read(ctx: TxContext, key: str, model: type[R]) -> R | None:
    """The record at ``key`` or None."""
    raw = ctx.get_state(key)
    return None if raw is None else model.model_validate_json(raw)


def read_raw(ctx: TxContext, key: str) -> Any:
    """The plain JSON value at ``key`` or None."""
    raw = ctx.get_state(key)
    return None if raw is None else json.loads(raw)


def write(ctx: TxContext, key: str, value: Any) -> None:
    """Store ``value`` (a record or plain JSON) as canonical JSON."""
    ctx.put_state(key, canonical_json(value))


def scan(ctx: TxContext, prefix: str, model: type[R]) -> Iterator[tuple[str, R]]:
    """Records under ``prefix`` in key order."""
    for key, raw in ctx.range(prefix, prefix_end(prefix)):
        yield key, model.model_validate_json(raw)


def authenticate(ctx: TxContext) -> Member:
    """The creator's member record: registered, same certificate and MSP, not revoked."""
    creator = ctx.creator
    member = read(ctx, f"member/{creator.member_id}", Member)
    if member is None:
        raise fail(codes.NOT_A_MEMBER, f"{creator.member_id!r} is not a registered member")
    if cert_der_sha256(creator.cert_pem) != member.cert_sha256 or creator.msp_id != member.msp_id:
        raise fail(
            codes.CERT_MISMATCH,
            f"the signing certificate or MSP is not the one registered for {member.member_id!r}",
        )
    if member.status != "active":
        raise fail(codes.MEMBER_REVOKED, f"member {member.member_id!r} is revoked")
    return member


def require_role(member: Member, *roles: str) -> None:
    """Refuse with MISSING_ROLE unless ``member`` holds one of ``roles``."""
    if not set(roles) & set(member.roles):
        raise fail(
            codes.MISSING_ROLE, f"{member.member_id!r} needs one of the roles {', '.join(roles)}"
        )


def is_revoked(ctx: TxContext, member_id: str) -> bool:
    """Whether ``member/{member_id}`` is a revoked member (an unknown id is not)."""
    member = read(ctx, f"member/{member_id}", Member)
    return member is not None and member.status == "revoked"


def active_verifiers(ctx: TxContext) -> list[str]:
    """Active members with role verifier, by member id."""
    return [
        member.member_id
        for _, member in scan(ctx, "member/", Member)
        if member.status == "active" and "verifier" in member.roles
    ]


def version_key(task_id: str, height: int) -> str:
    """`version/{task_id}/{height:08d}`."""
    return f"version/{task_id}/{height:08d}"
