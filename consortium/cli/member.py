"""`consortium member add|revoke|list`: membership changes as ledger transactions by an admin."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from consortium.cli._errors import fail
from consortium.cli._identity import require_key
from consortium.cli.app import app

if TYPE_CHECKING:
    from consortium.config import ConsortiumConfig
    from consortium.ledger.base import Ledger

member_app = typer.Typer(
    rich_markup_mode=None,
    help="Add, revoke and list consortium members (admin).",
    no_args_is_help=True,
)
app.add_typer(member_app, name="member")

ConsortiumDir = Annotated[
    Path,
    typer.Option(
        "--dir", "--consortium", "-C", envvar="CONSORTIUM_DIR", help="Consortium directory."
    ),
]
AsMember = Annotated[
    str, typer.Option("--as", help="The admin identity that signs (its private key must be here).")
]
# What to do when the ledger refuses a member change signed by --as (the contract's codes)
ADVICE = {
    "MISSING_ROLE": "; sign as an admin of the consortium (--as NAME)",
    "MEMBER_REVOKED": "; the signer is revoked: sign as an active admin (--as NAME)",
    "MEMBER_EXISTS": "; choose another name (the ledger never reuses a member id)",
}
ReadAs = Annotated[
    str | None,
    typer.Option(
        "--as",
        help="The identity to read the ledger as [default: the first by name whose private key "
        "is here].",
    ),
]


def _config(directory: Path) -> ConsortiumConfig:
    from consortium.config import ConfigError, ConsortiumConfig

    try:
        return ConsortiumConfig.load(directory)
    except ConfigError as exc:
        fail(str(exc))


def _ledger(config: ConsortiumConfig, as_member: str) -> Ledger:
    from consortium.config import ConfigError
    from consortium.ledger.factory import open_ledger

    try:
        return open_ledger(config, as_member)
    except (ConfigError, FileNotFoundError, ValueError) as exc:
        fail(str(exc))


@member_app.command("add")
def add_command(
    name: Annotated[str, typer.Argument(help="The new member's id.")],
    role: Annotated[
        list[str],
        typer.Option(
            "--role",
            metavar="ROLE",
            help="A role, one of hospital, verifier, aggregator, auditor, admin; repeat for "
            "several.",
        ),
    ],
    as_member: AsMember = "admin",
    consortium: ConsortiumDir = Path("."),
) -> None:
    """Issue an identity for NAME, register it on the ledger (RegisterMember) and share the
    consortium's keys with it (ShareKey, wrapped for its certificate) unless its roles hold none."""
    from consortium.identity.setup import (
        add_member_identity,
        check_member_roles,
        remove_member_identity,
    )
    from consortium.ledger.factory import genesis_args

    config = _config(consortium)
    require_key(config, as_member, role="admin")  # before an identity is issued
    try:  # a static rule of the contract: refused here, before an identity or a transaction
        check_member_roles(name, role)
    except ValueError as exc:
        fail(f"{exc} (nothing was changed)")
    ledger = _ledger(config, as_member)
    try:
        add_member_identity(config, name, role)
    except (ValueError, FileExistsError) as exc:
        fail(str(exc))
    record = next(m for m in genesis_args(config)["members"] if m["member_id"] == name)
    result = ledger.submit("RegisterMember", record)
    if not result.valid:
        ledger.close()
        remove_member_identity(config, name)
        fail(
            f"the ledger refused the registration: {result.code}: {result.message}"
            f"{ADVICE.get(result.code, '')}; the identity issued for {name!r} was removed"
        )
    config.save()
    try:
        keys = _share_keys_with(config, ledger, as_member, name, role)
    finally:
        ledger.close()
    typer.echo(
        f"{name} registered ({','.join(sorted(set(role)))}) in block {result.block_number}; "
        f"identity in {config.member_msp(name)}; {keys}"
    )


def _share_keys_with(
    config: ConsortiumConfig, ledger: Ledger, admin_id: str, name: str, roles: list[str]
) -> str:
    """Share the consortium's keys with the new member, as `consortium init` did for the first
    members (`share_keys_with`); says what it did."""
    from consortium.blobs import open_blob_store
    from consortium.crypto.consortium_keys import share_keys_with
    from consortium.crypto.setup import NO_SHARE_ROLES
    from consortium.ledger.base import ContractError

    forbidden = sorted(NO_SHARE_ROLES.intersection(roles))
    try:
        tx = share_keys_with(config, ledger, open_blob_store(config.blobs.url, config.root),
                             admin_id, name)  # fmt: skip
    except ContractError:
        fail(
            f"{name} is registered, but {admin_id} holds no key share to pass on: run "
            f"`consortium member add` as an admin that received the keys at init",
            code=1,
        )
    if tx is None:
        return f"no key shared (role {forbidden[0]} never holds the secret key)"
    if not tx.valid:
        fail(f"{name} is registered, but the ledger refused its key share: {tx.code}: "
             f"{tx.message}", code=1)  # fmt: skip
    replaced = tx.result.get("replaced") if isinstance(tx.result, dict) else None
    if replaced is not None:
        # Another key holder shared first, with a wrap of its choosing; the admin's share replaced
        # it (0001-protocol.md, ShareKey). Say so: the admin should find out who did.
        return (
            f"keys shared (ShareKey in block {tx.block_number}); it replaced a share another "
            f"member had published for {name} (wrapped key {replaced}): its ShareKey on the "
            "ledger names who"
        )
    return f"keys shared (ShareKey in block {tx.block_number})"


@member_app.command("revoke")
def revoke_command(
    name: Annotated[str, typer.Argument(help="The member to revoke.")],
    as_member: AsMember = "admin",
    consortium: ConsortiumDir = Path("."),
) -> None:
    """Revoke NAME on the ledger (RevokeMember): its later transactions are refused."""
    config = _config(consortium)
    require_key(config, as_member, role="admin")
    ledger = _ledger(config, as_member)
    status = {m["member_id"]: m["status"] for m in ledger.evaluate("ListMembers", {})}
    if status.get(name) != "active":  # refused before anything is signed: the ledger gains nothing
        ledger.close()
        if name in status:
            fail(f"member {name!r} is revoked already; nothing was sent")
        known = ", ".join(sorted(status))
        fail(f"no member {name!r} on the ledger (members: {known}); nothing was sent")
    result = ledger.submit("RevokeMember", {"member_id": name})
    ledger.close()
    if not result.valid:
        advice = ADVICE.get(result.code, "")
        fail(f"the ledger refused the revocation: {result.code}: {result.message}{advice}")
    if name in config.members:
        config.members[name].revoked = True
        config.save()
    typer.echo(f"{name} revoked in block {result.block_number}")


@member_app.command("list")
def list_command(
    as_member: ReadAs = None,
    consortium: ConsortiumDir = Path("."),
) -> None:
    """Members as registered on the ledger (roles and status)."""
    from consortium.cli._identity import any_keyed_identity, require_key
    from consortium.config import ConfigError

    config = _config(consortium)
    try:  # read as `task list` reads: a member's or an auditor's copy holds only its own key
        if as_member is not None:
            require_key(config, as_member)
        reader = as_member or any_keyed_identity(config)
    except ConfigError as exc:
        fail(str(exc))
    ledger = _ledger(config, reader)
    members = ledger.evaluate("ListMembers", {})
    ledger.close()
    for m in members:
        typer.echo(f"{m['member_id']:<16} {m['status']:<8} {','.join(m['roles'])}")
