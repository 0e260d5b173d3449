"""A tiny key-value contract for testing the embedded ledger with any `Contract`.

Membership rules mirror 0001-protocol.md in miniature: `Bootstrap` once by an admin in the list,
`RegisterMember`/`RevokeMember` by admins, `Put` by active hospitals, and a rejection path
(`Put` of the value "reject").
"""

from __future__ import annotations

import json
from typing import Any

from consortium.canonical import canonical_json
from consortium.ledger.base import ContractError, TxContext


def _member(ctx: TxContext, member_id: str) -> dict[str, Any] | None:
    raw = ctx.get_state(f"member/{member_id}")
    return None if raw is None else dict(json.loads(raw))


def _require(ctx: TxContext, role: str) -> dict[str, Any]:
    me = _member(ctx, ctx.creator.member_id)
    if me is None or me["cert_pem"] != ctx.creator.cert_pem:
        raise ContractError("NOT_A_MEMBER", f"{ctx.creator.member_id} is not registered")
    if me["status"] != "active":
        raise ContractError("MEMBER_REVOKED", f"{ctx.creator.member_id} is revoked")
    if role not in me["roles"]:
        raise ContractError("MISSING_ROLE", f"{role} role required")
    return me


class KVContract:
    """Keys ``kv/{key}`` hold strings; members live at ``member/{id}``."""

    def invoke(self, ctx: TxContext, fn: str, args: dict[str, Any]) -> Any:
        if fn == "Bootstrap":
            if any(True for _ in ctx.range("member/", "member0")):
                raise ContractError("ALREADY_BOOTSTRAPPED", "members exist")
            admins = [m for m in args["members"] if "admin" in m["roles"]]
            if not any(m["cert_pem"] == ctx.creator.cert_pem for m in admins):
                raise ContractError("ROLE_FORBIDDEN", "bootstrap needs an admin in the list")
            for m in args["members"]:
                self._register(ctx, m)
            return {"members": len(args["members"])}
        if fn == "RegisterMember":
            _require(ctx, "admin")
            if _member(ctx, args["member_id"]) is not None:
                raise ContractError("MEMBER_EXISTS", args["member_id"])
            self._register(ctx, args)
            return {"member_id": args["member_id"]}
        if fn == "RevokeMember":
            _require(ctx, "admin")
            member = _member(ctx, args["member_id"])
            if member is None:
                raise ContractError("UNKNOWN_MEMBER", args["member_id"])
            member["status"] = "revoked"
            ctx.put_state(f"member/{args['member_id']}", canonical_json(member))
            return None
        if fn == "Put":
            _require(ctx, "hospital")
            if args["value"] == "reject":
                raise ContractError("REJECTED_VALUE", "the value 'reject' is refused")
            ctx.put_state(f"kv/{args['key']}", canonical_json(args["value"]))
            return {"key": args["key"]}
        raise ContractError("UNKNOWN_FUNCTION", fn)

    @staticmethod
    def _register(ctx: TxContext, m: dict[str, Any]) -> None:
        record = {
            "cert_pem": m["cert_pem"],
            "member_id": m["member_id"],
            "msp_id": m["msp_id"],
            "roles": sorted(m["roles"]),
            "status": "active",
        }
        ctx.put_state(f"member/{m['member_id']}", canonical_json(record))

    def query(self, ctx: TxContext, fn: str, args: dict[str, Any]) -> Any:
        if fn == "Get":
            raw = ctx.get_state(f"kv/{args['key']}")
            return None if raw is None else json.loads(raw)
        if fn == "ListMembers":
            return [json.loads(v) for _, v in ctx.range("member/", "member0")]
        raise ContractError("UNKNOWN_FUNCTION", fn)
