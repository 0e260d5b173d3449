"""Throw-away key material for the fake gateway: its TLS server certificate and its peers.

Generated at every start and never written to disk (the TLS CA is handed to clients through the
handle). ECDSA P-256 everywhere, as Fabric's default BCCSP.
"""

from __future__ import annotations

import datetime as dt
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from consortium.identity import CertificateAuthority
from consortium.ledger.fabric.fakepeer import EndorsingPeer


def peer_identity(msp_id: str) -> EndorsingPeer:
    """An endorsing peer of ``msp_id`` with a certificate from its own fresh organisation CA."""
    ca = CertificateAuthority.create(msp_id)
    cert, key = ca.issue(f"peer0.{msp_id.lower()}", [], "peer")
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    return EndorsingPeer(msp_id=msp_id, cert_pem=pem, key=key)


def tls_material(server_name: str, host: str) -> tuple[bytes, bytes, bytes]:
    """A throw-away TLS CA, and a server certificate (PEM) and key for ``server_name``,
    ``localhost`` and ``host``: ``(ca_pem, cert_pem, key_pem)``."""
    ca = CertificateAuthority.create("fake-tls")
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    sans: list[x509.GeneralName] = [x509.DNSName(server_name), x509.DNSName("localhost")]
    try:
        sans.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        sans.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, server_name)]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return ca.cert_pem.encode(), cert.public_bytes(serialization.Encoding.PEM), key_pem
