"""The fake gateway peer for a consortium directory: what `consortium fabric fake-peer` and a
simulation need to run every member against "Fabric" on one machine.

    handle = serve_for_consortium(config)          # trusts the directory's CAs, per MSP id
    point_config_at(config, handle)                 # [ledger] backend = "fabric", saved
    ... open_ledger(config, member) talks to the fake through the real gateway protocol ...
    handle.stop()
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from consortium.ledger.fabric.fake import FakeGatewayHandle, FakeSettings, serve_fake_gateway

if TYPE_CHECKING:
    from consortium.config import ConsortiumConfig
    from consortium.ledger.base import Contract

TLS_CA_FILE = "fabric/fake-peer-tls-ca.pem"


def consortium_cas(config: ConsortiumConfig) -> dict[str, str]:
    """MSP id -> CA PEM: the consortium CA, and the CA each member's MSP folder names."""
    cas = {config.msp_id: config.ca_cert_path.read_text()}
    for member_id, entry in config.members.items():
        cacerts = sorted((config.member_msp(member_id) / "cacerts").glob("*.pem"))
        if cacerts:
            cas.setdefault(entry.msp_id, cacerts[0].read_text())
    return cas


def serve_for_consortium(
    config: ConsortiumConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    contract: Contract | None = None,
    settings: FakeSettings | None = None,
) -> FakeGatewayHandle:
    """Start the fake peer running ``contract`` (default: the consortium contract); write its TLS
    CA to ``fabric/fake-peer-tls-ca.pem`` in the directory."""
    if contract is None:
        from consortium.ledger.contract import ConsortiumContract

        contract = ConsortiumContract()
    handle = serve_fake_gateway(contract, consortium_cas(config), host, port, settings=settings)
    path = config.resolve(TLS_CA_FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(handle.tls_ca_pem)
    return handle


def point_config_at(config: ConsortiumConfig, handle: FakeGatewayHandle) -> None:
    """Set ``[ledger] backend = "fabric"`` and ``[ledger.fabric]`` to the fake peer; save."""
    config.ledger.backend = "fabric"
    fabric = config.ledger.fabric
    fabric.peer_endpoint = handle.address
    fabric.tls_ca = TLS_CA_FILE
    fabric.server_name_override = handle.server_name
    fabric.msp_id = None  # each member signs under its own entry's MSP id
    fabric.channel = handle.gateway.settings.channel
    fabric.chaincode = handle.gateway.settings.chaincode
    config.save()
