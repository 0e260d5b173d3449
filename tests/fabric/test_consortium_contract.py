"""The consortium contract through the Fabric backend: real `Identity` signers, the real
`ConsortiumContract` inside the fake peer, the protocol's transactions end to end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import serialization

from consortium.identity import DEFAULT_MSP_ID, CertificateAuthority, Identity
from consortium.ledger.base import ContractError
from consortium.ledger.contract import ConsortiumContract
from consortium.ledger.contract.scenario import example_task
from consortium.ledger.fabric.client import FabricLedger
from consortium.ledger.fabric.fake import FakeGatewayHandle, serve_fake_gateway

ROLES = {"admin": ["admin"], "h1": ["hospital"], "v1": ["verifier"], "v2": ["verifier"]}


@pytest.fixture(scope="module")
def members() -> tuple[CertificateAuthority, dict[str, Identity]]:
    ca = CertificateAuthority.create("fabric-contract")
    out = {}
    for member, roles in ROLES.items():
        cert, key = ca.issue(member, roles, "client")
        pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        out[member] = Identity(cert_pem=pem, private_key=key, msp_id=DEFAULT_MSP_ID)
    return ca, out


@pytest.fixture
def network(
    members: tuple[CertificateAuthority, dict[str, Identity]],
) -> Iterator[tuple[FakeGatewayHandle, dict[str, FabricLedger]]]:
    ca, identities = members
    handle = serve_fake_gateway(ConsortiumContract(), ca.cert_pem)
    clients = {
        m: FabricLedger(i, endpoint=handle.address, tls_ca_pem=handle.tls_ca_pem)
        for m, i in identities.items()
    }
    yield handle, clients
    for client in clients.values():
        client.close()
    handle.stop()


def _genesis(identities: dict[str, Identity]) -> dict[str, object]:
    return {
        "members": [
            {"member_id": m, "msp_id": DEFAULT_MSP_ID, "roles": ROLES[m], "cert_pem": i.cert_pem}
            for m, i in sorted(identities.items())
        ]
    }


def test_bootstrap_publish_and_query_through_the_gateway(
    members: tuple[CertificateAuthority, dict[str, Identity]],
    network: tuple[FakeGatewayHandle, dict[str, FabricLedger]],
) -> None:
    _, identities = members
    _, clients = network
    admin, hospital = clients["admin"], clients["h1"]

    assert admin.submit("Bootstrap", _genesis(identities)).valid
    again = admin.submit("Bootstrap", _genesis(identities))
    published = admin.submit("PublishTask", {"task": example_task()})
    forbidden = hospital.submit("PublishTask", {"task": example_task("other")})

    assert again.code == "ALREADY_BOOTSTRAPPED"
    assert published.valid
    assert forbidden.code == "MISSING_ROLE"
    assert hospital.evaluate("GetTask", {"task_id": "heart"})["task_id"] == "heart"
    assert hospital.evaluate("GetHead", {"task_id": "heart"})["height"] == 0
    listed = hospital.evaluate("ListMembers", {})
    assert sorted(m["member_id"] for m in listed) == sorted(ROLES)
    with pytest.raises(ContractError) as info:
        hospital.evaluate("GetTask", {"task_id": "missing"})
    assert info.value.code == "TASK_NOT_FOUND"
    history = [(t.fn, t.code, t.creator) for t in hospital.transactions()]
    assert history == [
        ("Bootstrap", "VALID", "admin"),
        ("Bootstrap", "ALREADY_BOOTSTRAPPED", "admin"),
        ("PublishTask", "VALID", "admin"),
        ("PublishTask", "MISSING_ROLE", "h1"),
    ]
    followed = [(t.tx_id, t.code) for t in hospital.follow(timeout_s=0.5)]
    assert followed == [(t.tx_id, t.code) for t in hospital.transactions()]
