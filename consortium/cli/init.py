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
        list[str],
        typer.Option(
            "--member", metavar="NAME", help="A hospital (also a verifier); repeat for each."
        ),
    ],
    admin: Annotated[
        list[str] | None,
        typer.Option(
            "--admin", metavar="NAME", help="An admin; repeatable [default: one named 'admin']."
        ),
    ] = None,
    aggregator: Annotated[
        list[str] | None,
        typer.Option("--aggregator", metavar="NAME", help="An aggregator; repeatable."),
    ] = None,
    auditor: Annotated[
        list[str] | None, typer.Option("--auditor", metavar="NAME", help="An auditor; repeatable.")
    ] = None,
    verifier: Annotated[
        list[str] | None,
        typer.Option(
            "--verifier", metavar="NAME", help="A verifier that is not a hospital; repeatable."
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Consortium name [default: directory name].")
    ] = None,
) -> None:
    """Create the consortium CA, one identity per member, the orderer and the ledger's genesis."""
    from consortium.identity.setup import check_member_roles, create_identities, member_roles
    from consortium.ledger.factory import bootstrap_ledger

    roles = member_roles(
        members=member,
        admins=admin or [],
        aggregators=aggregator or [],
        auditors=auditor or [],
        verifiers=verifier or [],
    )
    for member_id, granted in roles.items():
        try:
            check_member_roles(member_id, granted)
        except ValueError as exc:
            fail(f"{exc}; --member makes a hospital that verifies (nothing was created)")
    if directory.exists() and not directory.is_dir():
        fail(f"{directory} is a file: give a new folder for the consortium (nothing was changed)")
    before = set(directory.iterdir()) if directory.is_dir() else None
    admin_id = (admin or ["admin"])[0]
    try:
        try:
            config = create_identities(directory, name or directory.resolve().name, roles)
        except FileExistsError as exc:
            if before is not None and set(directory.iterdir()) == before:
                fail(str(exc))  # refused before writing anything: nothing to undo
            raise
        genesis = bootstrap_ledger(config, admin_id)
        shared = _share_keys(config, admin_id)
    except (Exception, KeyboardInterrupt) as exc:
        if isinstance(exc, typer.Exit):
            raise
        _undo(directory, before)  # a half-made consortium would only be refused on retry
        if isinstance(exc, KeyboardInterrupt):
            fail("interrupted: nothing was kept; run the same command again", code=130)
        if isinstance(exc, ValueError):
            fail(f"{exc} (nothing was created)")
        if isinstance(exc, OSError):
            fail(f"could not create the consortium in {directory}: {exc} (nothing was kept)")
        raise
    typer.echo(f"consortium {config.name!r} created in {config.root}")
    for member_id, entry in sorted(config.members.items()):
        typer.echo(f"  {member_id:<16} {','.join(entry.roles):<28} {entry.msp}")
    typer.echo(f"  ledger {config.ledger.path} (genesis transaction {genesis.tx_id[:16]})")
    without = ", ".join(sorted(shared.skipped))
    typer.echo(
        f"  CKKS and model keys wrapped for {len(shared.shares)} members and shared on the ledger"
        f" (public context {shared.public_context_digest[:16]}; "
        f"{f'not shared with: {without}' if without else 'every member holds a share'})"
    )


def _undo(directory: Path, before: set[Path] | None) -> None:
    """Remove what an interrupted or failed `init` wrote: the folder if it made it, else the
    entries it added to a folder that existed."""
    if before is None:
        shutil.rmtree(directory, ignore_errors=True)
        return
    for entry in set(directory.iterdir()) - before:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


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
