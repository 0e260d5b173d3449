"""`consortium fabric ...`: identities from a Fabric organisation's CA, the genesis transaction on
the Fabric channel, a connection check, and the protocol-level fake peer (demos without Fabric)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from consortium.cli._errors import UserError, fail
from consortium.cli._identity import require_key
from consortium.cli.app import app

if TYPE_CHECKING:
    from consortium.config import ConsortiumConfig
    from consortium.ledger.base import Ledger

fabric_app = typer.Typer(
    rich_markup_mode=None,
    help="Run the consortium on Hyperledger Fabric (see docs/fabric.md).",
    no_args_is_help=True,
)
app.add_typer(fabric_app, name="fabric")

ConsortiumDir = Annotated[
    Path,
    typer.Option(
        "--dir", "--consortium", "-C", envvar="CONSORTIUM_DIR", help="Consortium directory."
    ),
]


def _config(directory: Path) -> ConsortiumConfig:
    from consortium.config import ConfigError, ConsortiumConfig

    try:
        return ConsortiumConfig.load(directory)
    except ConfigError as exc:
        fail(str(exc))


def _fabric_ledger(config: ConsortiumConfig, member: str) -> Ledger:
    from consortium.config import ConfigError
    from consortium.ledger.factory import open_ledger

    if config.ledger.backend != "fabric":
        fail(
            f'{config.root}/consortium.toml has [ledger] backend = "{config.ledger.backend}": '
            'set it to "fabric" and fill [ledger.fabric] (docs/fabric.md)'
        )
    try:
        return open_ledger(config, member)
    except (ConfigError, UserError, FileNotFoundError, ValueError) as exc:
        fail(str(exc))


@fabric_app.command("enroll")
def enroll_command(
    member: Annotated[str, typer.Argument(help="The member id (certificate CN).")],
    role: Annotated[
        list[str], typer.Option("--role", metavar="ROLE", help="A role; repeat for several.")
    ],
    org_ca: Annotated[
        Path,
        typer.Option(
            help="The organisation's CA folder (cryptogen: .../peerOrganizations/ORG/ca)."
        ),
    ],
    msp_id: Annotated[str, typer.Option(help="The organisation's MSP id, e.g. Hospital1MSP.")],
    consortium: ConsortiumDir = Path("."),
) -> None:
    """Issue MEMBER's identity from a Fabric organisation's CA into this consortium directory."""
    from consortium.config import MemberEntry
    from consortium.identity import ROLES, CertificateAuthority, write_msp
    from consortium.identity.setup import check_member_name, check_member_roles

    config = _config(consortium)
    try:
        check_member_name(member)
    except ValueError as exc:
        fail(f"{exc} (nothing was changed)")
    unknown = sorted(set(role) - set(ROLES))
    if unknown or not role:
        fail(f"give one or more --role among {', '.join(ROLES)} (got {role})")
    try:
        check_member_roles(member, role)
    except ValueError as exc:
        fail(f"{exc} (nothing was changed)")
    if member in config.members:
        fail(f"{member!r} already exists in {config.root}; choose another id")
    certs = sorted(org_ca.glob("*-cert.pem")) if org_ca.is_dir() else []
    keys = sorted(org_ca.glob("priv_sk")) or sorted(org_ca.glob("*_sk"))
    if len(certs) != 1 or len(keys) != 1:
        fail(f"{org_ca} is not a cryptogen CA folder (one *-cert.pem and one priv_sk expected)")
    try:
        ca = CertificateAuthority.load(certs[0], keys[0])
        cert, key = ca.issue(member, sorted(set(role)), "client")
    except ValueError as exc:  # not PEM, not an EC key, or an expired CA
        fail(f"{org_ca}: {exc}; nothing was changed")
    msp = f"members/{member}/msp"
    try:
        write_msp(config.resolve(msp), cert, key, ca.cert_pem)
    except FileExistsError as exc:
        fail(str(exc))
    config.members[member] = MemberEntry(msp=msp, roles=sorted(set(role)), msp_id=msp_id)
    config.save()
    typer.echo(f"{member} ({msp_id}) enrolled: {config.resolve(msp)}")


@fabric_app.command("bootstrap")
def bootstrap_command(
    as_member: Annotated[str, typer.Option("--as", help="An admin member that signs.")] = "admin",
    member: Annotated[
        list[str] | None,
        typer.Option(
            "--member",
            metavar="NAME",
            help="Register only this member; repeat for several [default: all].",
        ),
    ] = None,
    consortium: ConsortiumDir = Path("."),
) -> None:
    """Submit the genesis transaction (Bootstrap with the directory's members) to Fabric."""
    from consortium.identity.setup import check_member_roles
    from consortium.ledger.factory import genesis_args

    config = _config(consortium)
    require_key(config, as_member, role="admin")  # before the genesis reads the members' MSPs
    genesis = genesis_args(config)
    if member:
        missing = sorted(set(member) - set(config.members))
        if missing:
            fail(f"no identity named {', '.join(missing)} in {config.root}")
        genesis["members"] = [m for m in genesis["members"] if m["member_id"] in member]
    for entry in genesis["members"]:  # the chaincode would refuse the whole genesis
        try:
            check_member_roles(entry["member_id"], entry["roles"])
        except ValueError as exc:
            fail(f"{exc} (nothing was changed)")
    ledger = _fabric_ledger(config, as_member)
    try:
        result = ledger.submit("Bootstrap", genesis)
    except UserError as exc:
        fail(str(exc))
    finally:
        ledger.close()
    if not result.valid:
        fail(f"the chaincode refused Bootstrap: {result.code}: {result.message}")
    count = len(genesis["members"])
    typer.echo(f"bootstrapped {count} members in block {result.block_number}")
    _share_keys(config, as_member, [m["member_id"] for m in genesis["members"]], after_genesis=True)


def _share_keys(
    config: ConsortiumConfig, as_member: str, member_ids: list[str], *, after_genesis: bool
) -> None:
    """Create the consortium's keys and publish each member's wrapped share, as `consortium init`
    does on the embedded ledger: without them no member can decrypt, so no task can be published.

    Refused when a member already holds a share: the keys exist, and new ones would not be the
    consortium's (the contract also refuses a share naming another public context). Keys in the
    directory that no member on the channel holds (`consortium init` made them for its embedded
    ledger) are not replaced either: the message says to move them away knowingly.
    """
    from consortium.blobs import open_blob_store
    from consortium.crypto.consortium_keys import share_consortium_keys
    from consortium.crypto.setup import PUBLIC_CONTEXT_FILE
    from consortium.ledger.base import ContractError, LedgerRejected

    again = f"`consortium fabric share-keys --as {as_member} -C {config.root}`"
    where = "the genesis is on the channel, but " if after_genesis else ""
    ledger = _fabric_ledger(config, as_member)
    try:
        for member_id in member_ids:
            try:
                ledger.evaluate("GetShareKey", {"member_id": member_id})
            except ContractError as exc:
                if exc.code != "SHARE_NOT_FOUND":
                    raise
            else:
                fail(
                    f"{member_id} holds a key share already: the consortium's keys exist "
                    "(a member enrolled later gets its share with `consortium member add`)"
                )
        context = config.resolve(str(PUBLIC_CONTEXT_FILE))
        if context.exists():
            fail(
                f"{where}the keys were not shared: {context} holds keys that no member on the "
                "channel holds (`consortium init` made them for its embedded ledger): move the "
                f"file away, `mv {context} {context}.embedded`, then run {again}"
            )
        _, result = share_consortium_keys(
            config, ledger, open_blob_store(config.blobs.url, config.root), member_ids
        )
    except (UserError, LedgerRejected, ContractError, OSError) as exc:
        fail(f"{where}the keys were not shared: {exc}; once that is fixed, run {again}")
    finally:
        ledger.close()
    skipped = "".join(f"; {m} none ({why})" for m, why in sorted(result.skipped.items()))
    typer.echo(f"keys shared with {len(result.shares)} members{skipped}")


@fabric_app.command("share-keys")
def share_keys_command(
    as_member: Annotated[str, typer.Option("--as", help="An admin member that signs.")] = "admin",
    consortium: ConsortiumDir = Path("."),
) -> None:
    """Create the consortium's keys and share them with every member on the channel (once).

    `fabric bootstrap` does this after the genesis; run it if that step was interrupted."""
    config = _config(consortium)
    require_key(config, as_member, role="admin")
    ledger = _fabric_ledger(config, as_member)
    try:
        members = [m["member_id"] for m in ledger.evaluate("ListMembers", {})]
    except UserError as exc:
        fail(str(exc))
    finally:
        ledger.close()
    _share_keys(config, as_member, members, after_genesis=False)


@fabric_app.command("status")
def status_command(
    as_member: Annotated[str, typer.Option("--as", help="The member that connects.")],
    consortium: ConsortiumDir = Path("."),
) -> None:
    """Check the connection to the Fabric peer and the chaincode, as one member."""
    config = _config(consortium)
    require_key(config, as_member)
    ledger = _fabric_ledger(config, as_member)
    fabric = config.ledger.fabric
    try:
        height = ledger.height()
        members = ledger.evaluate("ListMembers", {})
    except UserError as exc:
        fail(str(exc))
    finally:
        ledger.close()
    typer.echo(
        f"peer {fabric.peer_endpoint}: channel {fabric.channel or 'consortium'} has {height} "
        f"blocks; chaincode {fabric.chaincode or 'consortium'} lists {len(members)} members"
    )


@fabric_app.command("fake-peer")
def fake_peer_command(
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port to listen on (0: any free port).")
    ] = 7051,
    configure: Annotated[
        bool, typer.Option(help="Point this directory's [ledger.fabric] at the fake peer.")
    ] = False,
    consortium: ConsortiumDir = Path("."),
) -> None:
    """Serve the protocol-level fake gateway peer (no Fabric needed) until interrupted."""
    import threading

    from consortium.ledger.fabric.local import TLS_CA_FILE, point_config_at, serve_for_consortium

    config = _config(consortium)
    handle = serve_for_consortium(config, port=port)
    tls_path = config.resolve(TLS_CA_FILE)
    if configure:
        point_config_at(config, handle)
    typer.echo(f"fake Fabric gateway on {handle.address}, TLS CA in {tls_path}; Ctrl-C stops it")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()
