"""Opening the ledger a consortium directory is configured for, as one of its identities.

`open_ledger(config, member_id)` is what every command and node calls; it hides which backend
(embedded SQLite or Fabric) is in use. `bootstrap_ledger` writes the embedded ledger's genesis
block at `consortium init`.
"""

from __future__ import annotations

from typing import Any

from consortium.config import ConfigError, ConsortiumConfig
from consortium.identity import Identity, IdentityError, load_certificate, load_identity
from consortium.ledger.base import Contract, Ledger, TxResult

__all__ = ["bootstrap_ledger", "default_contract", "genesis_args", "open_ledger"]


def default_contract() -> Contract:
    """The consortium contract (0001-protocol.md)."""
    from consortium.ledger.contract import ConsortiumContract

    return ConsortiumContract()


def _identity(config: ConsortiumConfig, member_id: str) -> Identity:
    entry = config.members.get(member_id)
    msp_id = entry.msp_id if entry else config.msp_id
    try:
        return load_identity(config.member_msp(member_id), msp_id=msp_id)
    except IdentityError as exc:
        if config.holds_private_key(member_id):  # the key is here: something else is wrong
            raise ConfigError(f"cannot act as {member_id!r}: {exc}") from exc
        raise ConfigError(
            f"cannot act as {member_id!r} here: {exc}. Its private key is not in this directory "
            "(a member's or an auditor's copy holds only its own): name an identity whose key is "
            "here, with --member or --as"
        ) from exc


def _orderer(config: ConsortiumConfig) -> Identity | None:
    msp = config.resolve(config.orderer_msp)
    key_dir = msp / "keystore"
    if not key_dir.is_dir() or not any(key_dir.iterdir()):
        return None  # this machine does not order: it waits for a process that does
    return load_identity(msp, msp_id=config.msp_id)


def open_ledger(
    config: ConsortiumConfig, member_id: str, *, contract: Contract | None = None
) -> Ledger:
    """A `Ledger` client acting as ``member_id`` (an identity of this consortium directory)."""
    identity = _identity(config, member_id)
    if config.ledger.backend == "fabric":
        try:
            from consortium.ledger.fabric import open_fabric_ledger
        except ImportError as exc:
            raise ConfigError(
                "the Fabric backend is not available in this install; set [ledger] "
                'backend = "embedded"'
            ) from exc
        return open_fabric_ledger(config, identity)
    from consortium.ledger.embedded import EmbeddedLedger

    return EmbeddedLedger(
        config.ledger_path,
        identity=identity,
        contract=contract or default_contract(),
        ca_cert_pem=config.ca_cert_path.read_text(),
        channel=config.name,
        orderer=_orderer(config),
        sync=config.ledger.sync,
    )


def genesis_args(config: ConsortiumConfig) -> dict[str, Any]:
    """`Bootstrap` arguments registering every member of the directory (certificates only: an
    admin's copy need not hold the other members' private keys)."""
    members = []
    for member_id, entry in sorted(config.members.items()):
        members.append(
            {
                "cert_pem": load_certificate(config.member_msp(member_id)),
                "member_id": member_id,
                "msp_id": entry.msp_id,
                "roles": sorted(entry.roles),
            }
        )
    return {"members": members}


def bootstrap_ledger(
    config: ConsortiumConfig, admin_id: str, *, contract: Contract | None = None
) -> TxResult:
    """Create the embedded ledger with its genesis block: ``Bootstrap`` signed by ``admin_id``."""
    from consortium.ledger.embedded import create_ledger

    orderer = _orderer(config)
    if orderer is None:
        raise ConfigError(f"no orderer key under {config.resolve(config.orderer_msp)}")
    return create_ledger(
        config.ledger_path,
        channel=config.name,
        ca_cert_pem=config.ca_cert_path.read_text(),
        orderer=orderer,
        creator=_identity(config, admin_id),
        contract=contract or default_contract(),
        fn="Bootstrap",
        args=genesis_args(config),
    )
