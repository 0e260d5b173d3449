"""The Hyperledger Fabric backend: the consortium `Ledger` over the Fabric Gateway gRPC API.

Public API:

- `open_fabric_ledger(config, identity)`: what `consortium.ledger.factory.open_ledger` calls for
  ``backend = "fabric"``; reads the ``[ledger.fabric]`` table of `consortium.toml`.
- `client.FabricLedger`: the `Ledger` (submit, evaluate, height, transactions, plus
  ``follow(checkpoint)`` over ChaincodeEvents and ``block(n)``).
- `errors`: `PeerUnreachable`, `TlsMismatch`, `AccessDenied`, `ChaincodeNotFound`,
  `EndorsementPolicyFailure`, `EndorsementsDiffer`, `MvccConflict`, `OrderingFailed`,
  `SubmitTimedOut`, `ChaincodeFailed`, `TransactionInvalid`.
- `fake.serve_fake_gateway(contract, ca_cert, host, port)` and, for a consortium directory,
  `local.serve_for_consortium(config)` + `local.point_config_at(config, handle)`.

grpc and the Fabric protos are imported only when a Fabric ledger is opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from consortium.ledger.fabric.client import FabricLedger
    from consortium.ledger.fabric.messages import Signer

__all__ = ["DEFAULT_CHAINCODE", "DEFAULT_CHANNEL", "open_fabric_ledger"]

DEFAULT_CHANNEL = "consortium"
DEFAULT_CHAINCODE = "consortium"


@dataclass(frozen=True)
class _AsMsp:
    """A signer presented under the MSP id the Fabric channel knows its organisation by."""

    inner: Signer
    msp_id: str

    @property
    def cert_pem(self) -> str:
        return self.inner.cert_pem

    def sign(self, data: bytes) -> bytes:
        return self.inner.sign(data)


def open_fabric_ledger(config: Any, identity: Signer, **options: Any) -> FabricLedger:
    """A `FabricLedger` for ``identity`` from ``config.ledger.fabric`` (a `ConsortiumConfig`).

    ``options`` go to `FabricLedger` (endorsing_orgs, mvcc_retries, timeout_s, commit_timeout_s).
    A missing or unreadable setting raises `ConfigError`; failures talking to the peer raise the
    `errors.FabricError` subclasses (all `UserError`s).
    """
    from consortium.config import ConfigError
    from consortium.ledger.fabric.client import FabricLedger

    fabric = config.ledger.fabric
    if not fabric.peer_endpoint:
        raise ConfigError(
            "[ledger.fabric] peer_endpoint is not set in consortium.toml: set it to the gateway "
            "peer's host:port (see docs/fabric.md)"
        )
    if not fabric.tls_ca:
        raise ConfigError(
            "[ledger.fabric] tls_ca is not set in consortium.toml: set it to the PEM file of the "
            "CA that issued the peer's TLS certificate (see docs/fabric.md)"
        )
    tls_path = config.resolve(fabric.tls_ca)
    try:
        tls_ca_pem = tls_path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read [ledger.fabric] tls_ca {tls_path} ({exc.strerror}): copy the peer "
            "organisation's TLS CA certificate there"
        ) from exc
    signer: Signer = identity
    if fabric.msp_id and fabric.msp_id != identity.msp_id:
        signer = _AsMsp(identity, fabric.msp_id)
    return FabricLedger(
        signer,
        endpoint=fabric.peer_endpoint,
        tls_ca_pem=tls_ca_pem,
        channel=fabric.channel or DEFAULT_CHANNEL,
        chaincode=fabric.chaincode or DEFAULT_CHAINCODE,
        server_name_override=fabric.server_name_override,
        **options,
    )
