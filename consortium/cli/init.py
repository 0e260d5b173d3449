"""`consortium init`: a new consortium on this machine (CA, identities, genesis block, config)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from consortium.cli._errors import fail
from consortium.cli.app import app

if TYPE_CHECKING:
    from consortium.config import ConsortiumConfig
    from consortium.crypto.setup import ProvisionResult


@app.command("init")
def init_command(
    directory: Annotated[Path, typer.Argument(help="New consortium directory.")],
    member: Annotated[
        list[str], typer.Option("--member", help="A hospital (also a verifier). Repeat.")
    ],
    admin: Annotated[
        list[str] | None, typer.Option("--admin", help="An admin [default: one named 'admin'].")
    ] = None,
    aggregator: Annotated[
        list[str] | None, typer.Option("--aggregator", help="An aggregator.")
    ] = None,
    auditor: Annotated[list[str] | None, typer.Option("--auditor", help="An auditor.")] = None,
    verifier: Annotated[
        list[str] | None, typer.Option("--verifier", help="A verifier that is not a hospital.")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Consortium name [default: directory name].")
    ] = None,
) -> None:
    """Create the consortium CA, one identity per member, the orderer and the ledger's genesis."""
    from consortium.identity.setup import create_identities, member_roles
    from consortium.ledger.factory import bootstrap_ledger

    roles = member_roles(
        members=member,
        admins=admin or [],
        aggregators=aggregator or [],
        auditors=auditor or [],
        verifiers=verifier or [],
    )
    existed = directory.exists()
    try:
        config = create_identities(directory, name or directory.resolve().name, roles)
    except FileExistsError as exc:
        fail(str(exc))
    except ValueError as exc:
        fail(f"{exc} (nothing was created)")
    try:
        genesis = bootstrap_ledger(config, (admin or ["admin"])[0])
    except (ValueError, OSError) as exc:
        if not existed:
            shutil.rmtree(directory, ignore_errors=True)
        fail(f"could not write the genesis block: {exc}")
    shared = _share_keys(config, (admin or ["admin"])[0])
    typer.echo(f"consortium {config.name!r} created in {config.root}")
    for member_id, entry in sorted(config.members.items()):
        typer.echo(f"  {member_id:<16} {','.join(entry.roles):<28} {entry.msp}")
    typer.echo(f"  ledger {config.ledger.path} (genesis transaction {genesis.tx_id[:16]})")
    typer.echo(
        f"  CKKS and model keys wrapped for {len(shared.shares)} members and shared on the ledger"
        f" (public context {shared.public_context_digest[:16]}; not shared with: "
        f"{', '.join(sorted(shared.skipped)) or 'nobody'})"
    )


def _share_keys(config: ConsortiumConfig, admin_id: str) -> ProvisionResult:
    """Create the consortium's HE context and model key; publish each member's wrapped share."""
    from consortium.blobs import open_blob_store
    from consortium.crypto.consortium_keys import share_consortium_keys
    from consortium.ledger.factory import open_ledger

    ledger = open_ledger(config, admin_id)
    try:
        _, result = share_consortium_keys(
            config, ledger, open_blob_store(config.blobs.url, config.root)
        )
    finally:
        ledger.close()
    return result
