"""Shared fixtures: one consortium key bundle per session, member identities made on the fly."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from consortium.crypto import CkksContext, KeyBundle


@dataclass(frozen=True)
class Member:
    member_id: str
    cert_pem: str
    private_key: ec.EllipticCurvePrivateKey
    msp_dir: Path


def self_signed(member_id: str, key: ec.EllipticCurvePrivateKey) -> str:
    """A self-signed certificate for ``key`` (the identity engineer's CA issues the real ones)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, member_id)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture
def cert_for() -> Callable[[str, ec.EllipticCurvePrivateKey], str]:
    """The `self_signed` helper, as a fixture."""
    return self_signed


@pytest.fixture
def make_member(tmp_path: Path) -> Callable[[str], Member]:
    """Build a member with a P-256 key laid out as an MSP folder (keystore/key.pem)."""

    def make(member_id: str) -> Member:
        key = ec.generate_private_key(ec.SECP256R1())
        msp = tmp_path / "members" / member_id / "msp"
        (msp / "keystore").mkdir(parents=True)
        (msp / "signcerts").mkdir()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        (msp / "keystore" / "key.pem").write_bytes(pem)
        cert = self_signed(member_id, key)
        (msp / "signcerts" / "cert.pem").write_text(cert)
        return Member(member_id, cert, key, msp)

    return make


@pytest.fixture(scope="session")
def bundle() -> KeyBundle:
    return KeyBundle.generate()


@pytest.fixture(scope="session")
def secret_ctx(bundle: KeyBundle) -> CkksContext:
    return bundle.ckks


@pytest.fixture(scope="session")
def public_ctx(secret_ctx: CkksContext) -> CkksContext:
    return CkksContext.from_public_bytes(secret_ctx.public_bytes())
