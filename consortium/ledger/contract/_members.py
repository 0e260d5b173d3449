"""Membership transactions: Bootstrap, RegisterMember, RevokeMember, ShareKey.

The ledger's member records are the authority on who may do what: the creator's certificate must
be the one registered for its member id (DER digest), and roles come from the record, so revoking a
member on the ledger takes effect even though its certificate stays valid until it expires.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from consortium.ledger.base import TxContext
from consortium.ledger.contract import codes
from consortium.ledger.contract._state import (
    authenticate,
    cert_der_sha256,
    fail,
    read,
    require_role,
    scan,
    write,
)
from consortium.ledger.contract.records import (
    BootstrapArgs,
    Member,
    MemberIdArgs,
    RegisterMemberArgs,
    ShareKey,
    ShareKeyArgs,
)

# Members that must never hold the consortium's secret key: an aggregator computes on ciphertexts
# only, an auditor reads the ledger but may not see models (DESIGN.md, trust model).
KEYLESS_ROLES = ("aggregator", "auditor")
# Roles whose work needs that key: a hospital opens the version it trains on and the aggregate it
# seals, a verifier the updates it endorses and the versions it attests. Roles never change, so a
# member holding one of each would hold a role it can never serve: refused at registration.
KEYED_ROLES = ("hospital", "verifier")


def role_conflict(roles: Iterable[str]) -> tuple[str, str] | None:
    """The first keyless and the first keyed role (in the order above) when ``roles`` holds one of
    each, which no member may (ROLE_FORBIDDEN); None otherwise. A static rule: the command line
    checks it too, before it issues an identity or signs a transaction."""
    held = set(roles)
    keyless = [r for r in KEYLESS_ROLES if r in held]
    keyed = [r for r in KEYED_ROLES if r in held]
    return (keyless[0], keyed[0]) if keyless and keyed else None


def _new_member(args: RegisterMemberArgs, ms: int) -> Member:
    sha = cert_der_sha256(args.cert_pem)
    if sha is None:
        raise fail(codes.BAD_CERT, f"cert_pem of {args.member_id!r} is not a PEM certificate")
    conflict = role_conflict(args.roles)
    if conflict is not None:
        keyless, keyed = conflict
        raise fail(
            codes.ROLE_FORBIDDEN,
            f"member {args.member_id!r} cannot be {keyless} and {keyed}: an {keyless} "
            f"never receives the secret key, which a {keyed} needs; register two members",
        )
    return Member(
        member_id=args.member_id,
        msp_id=args.msp_id,
        roles=sorted(args.roles),
        cert_pem=args.cert_pem,
        cert_sha256=sha,
        status="active",
        registered_ms=ms,
    )


def bootstrap(ctx: TxContext, args: BootstrapArgs) -> dict[str, Any]:
    """Write the genesis members; only once, by one of them holding role admin."""
    if next(iter(ctx.range("member/", "member0")), None) is not None:
        raise fail(codes.ALREADY_BOOTSTRAPPED, "members exist already; use RegisterMember")
    members = [_new_member(m, ctx.timestamp_ms) for m in args.members]
    if len({m.cert_sha256 for m in members}) != len(members):
        raise fail(codes.CERT_IN_USE, "two genesis members share one certificate")
    creator = ctx.creator
    sha = cert_der_sha256(creator.cert_pem)
    mine = [m for m in members if m.cert_sha256 == sha]
    if not mine:
        raise fail(codes.NOT_A_MEMBER, "the creator's certificate is not among the members")
    if mine[0].member_id != creator.member_id or mine[0].msp_id != creator.msp_id:
        raise fail(codes.CERT_MISMATCH, "the creator's certificate is listed under another id")
    require_role(mine[0], "admin")
    for member in members:
        write(ctx, f"member/{member.member_id}", member)
    return {"members": sorted(m.member_id for m in members)}


def register_member(ctx: TxContext, args: RegisterMemberArgs) -> dict[str, Any]:
    """Admin: add one member, with a certificate no other member uses."""
    require_role(authenticate(ctx), "admin")
    member = _new_member(args, ctx.timestamp_ms)
    if ctx.get_state(f"member/{args.member_id}") is not None:
        raise fail(codes.MEMBER_EXISTS, f"member {args.member_id!r} exists (ids are never reused)")
    for _, other in scan(ctx, "member/", Member):
        if other.cert_sha256 == member.cert_sha256:
            raise fail(codes.CERT_IN_USE, f"this certificate belongs to {other.member_id!r}")
    write(ctx, f"member/{member.member_id}", member)
    return member.model_dump(mode="json")


def revoke_member(ctx: TxContext, args: MemberIdArgs) -> dict[str, Any]:
    """Admin: mark a member revoked; its later transactions are refused with MEMBER_REVOKED."""
    require_role(authenticate(ctx), "admin")
    member = read(ctx, f"member/{args.member_id}", Member)
    if member is None:
        raise fail(codes.MEMBER_NOT_FOUND, f"no member {args.member_id!r}")
    if member.status == "revoked":
        raise fail(codes.ALREADY_REVOKED, f"member {args.member_id!r} is revoked already")
    revoked = member.model_copy(update={"status": "revoked", "revoked_ms": ctx.timestamp_ms})
    write(ctx, f"member/{member.member_id}", revoked)
    return revoked.model_dump(mode="json")


def share_key(ctx: TxContext, args: ShareKeyArgs) -> dict[str, Any]:
    """Record that the secret context was wrapped for a member (by an admin or a key holder)."""
    creator = authenticate(ctx)
    if "admin" not in creator.roles and ctx.get_state(f"sharekey/{creator.member_id}") is None:
        raise fail(codes.MISSING_ROLE, "only an admin or a member holding the key may share it")
    target = read(ctx, f"member/{args.member_id}", Member)
    if target is None:
        raise fail(codes.MEMBER_NOT_FOUND, f"no member {args.member_id!r}")
    if target.status != "active":
        raise fail(codes.MEMBER_REVOKED, f"member {args.member_id!r} is revoked")
    if set(KEYLESS_ROLES) & set(target.roles):
        raise fail(codes.ROLE_FORBIDDEN, "aggregators and auditors never receive the secret key")
    replaced = _replaceable(ctx, creator, args.member_id)
    first = next(scan(ctx, "sharekey/", ShareKey), None)
    if first is not None and first[1].public_context_digest != args.public_context_digest:
        raise fail(codes.CONTEXT_MISMATCH, "every share must name the consortium's public context")
    record = ShareKey(
        **args.model_dump(), by=creator.member_id, ms=ctx.timestamp_ms, replaced=replaced
    )
    # ``replaced`` is left out unless there was one, so a share's record and result are the bytes
    # they were before replacing existed (a ledger replayed by `ledger verify` gives the same).
    plain = record.model_dump(mode="json", exclude_none=True)
    write(ctx, f"sharekey/{args.member_id}", plain)
    return plain


def _replaceable(ctx: TxContext, creator: Member, member_id: str) -> str | None:
    """The wrap digest the creator's share for ``member_id`` replaces, None when there is none.

    Any key holder may share, so one could publish a wrap the new member cannot open before the
    admin's; an admin's share therefore replaces a share a member gave. An admin's share is final.
    """
    existing = read(ctx, f"sharekey/{member_id}", ShareKey)
    if existing is None:
        return None
    giver = read(ctx, f"member/{existing.by}", Member)
    if "admin" not in creator.roles or (giver is not None and "admin" in giver.roles):
        raise fail(codes.SHARE_EXISTS, f"{member_id!r} holds a share already")
    return existing.wrapped_key_digest
