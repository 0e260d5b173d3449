"""Fixtures for the Fabric backend: a consortium CA, members, a small contract and the fake peer."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from consortium.identity import CertificateAuthority
from consortium.ledger.base import ContractError, TxContext
from consortium.ledger.fabric.client import FabricLedger
from consortium.ledger.fabric.fake import FakeGatewayHandle, FakeSettings, serve_fake_gateway
from consortium.ledger.fabric.signing import KeySigner

MSP = "ConsortiumMSP"


class CounterContract:
    """A small deterministic contract: named counters, a rejection, and a chaincode crash."""

    def invoke(self, ctx: TxContext, fn: str, args: dict[str, Any]) -> Any:
        if fn == "Inc":
            key = f"counter/{args['name']}"
            raw = ctx.get_state(key)
            value = (json.loads(raw) if raw else 0) + 1
            ctx.put_state(key, json.dumps(value).encode())
            return {"value": value, "by": ctx.creator.member_id}
        if fn == "Refuse":
            ctx.put_state("counter/refused", b"1")  # must not survive the rejection
            raise ContractError("NOT_ALLOWED", "refused on purpose")
        if fn == "Crash":
            raise RuntimeError("boom")
        raise ContractError("UNKNOWN_FUNCTION", fn)

    def query(self, ctx: TxContext, fn: str, args: dict[str, Any]) -> Any:
        if fn == "Get":
            raw = ctx.get_state(f"counter/{args['name']}")
            return json.loads(raw) if raw else 0
        if fn == "List":
            return [k for k, _ in ctx.range("counter/", "counter0")]
        raise ContractError("UNKNOWN_FUNCTION", fn)


def make_signer(ca: CertificateAuthority, member: str, roles: list[str]) -> KeySigner:
    cert, key = ca.issue(member, roles, "client")
    return KeySigner(MSP, cert.public_bytes(serialization.Encoding.PEM).decode(), key)


@pytest.fixture(scope="session")
def issue() -> Callable[..., KeySigner]:
    """``issue(ca, member, roles)``: a signer with a fresh certificate from ``ca``."""
    return make_signer


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return CertificateAuthority.create("fabric-tests")


@pytest.fixture(scope="module")
def alice(ca: CertificateAuthority) -> KeySigner:
    return make_signer(ca, "hospital-a", ["hospital"])


@pytest.fixture(scope="module")
def bob(ca: CertificateAuthority) -> KeySigner:
    return make_signer(ca, "hospital-b", ["hospital", "verifier"])


def start(ca: CertificateAuthority, **settings: Any) -> FakeGatewayHandle:
    return serve_fake_gateway(CounterContract(), ca.cert_pem, settings=FakeSettings(**settings))


@pytest.fixture(scope="session")
def start_fake() -> Callable[..., FakeGatewayHandle]:
    """``start_fake(ca, **FakeSettings fields)``: a running fake gateway (stop it yourself)."""
    return start


@pytest.fixture
def fake(ca: CertificateAuthority) -> Iterator[FakeGatewayHandle]:
    handle = start(ca, record=True)
    yield handle
    handle.stop()


def connect(handle: FakeGatewayHandle, signer: KeySigner, **options: Any) -> FabricLedger:
    return FabricLedger(
        signer, endpoint=handle.address, tls_ca_pem=handle.tls_ca_pem, timeout_s=10, **options
    )


@pytest.fixture(scope="session")
def connect_to() -> Callable[..., FabricLedger]:
    """``connect_to(handle, signer, **options)``: a `FabricLedger` client of a fake gateway."""
    return connect


@pytest.fixture
def ledger(fake: FakeGatewayHandle, alice: KeySigner) -> Iterator[FabricLedger]:
    client = connect(fake, alice)
    yield client
    client.close()
