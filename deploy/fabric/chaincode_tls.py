#!/usr/bin/env python3
"""Issue each hospital's peer-to-chaincode-server TLS material from the hospital's TLS CA.

    python3 deploy/fabric/chaincode_tls.py        (network.sh up runs it, after cryptogen)

A peer dials the chaincode server its package's connection.json names, and Fabric 2.5's
``ccaas_builder`` takes the TLS settings from the same file, the PEM text inline (the peer's
``ChaincodeServerUserData``): ``tls_required``, ``client_auth_required``, ``root_cert`` (the CA
the server's certificate must chain to), ``client_cert`` and ``client_key`` (what the peer
presents). For each package template ``chaincode/hospitalN/connection.json`` (generate.py), from
hospital N's TLS CA (cryptogen's ``tlsca/``: ``tlsca.<org>-cert.pem`` and ``priv_sk``), this
writes under ``organizations/peerOrganizations/<org>/chaincode/`` (generated, never committed):

- ``tls/server.crt`` and ``tls/server.key``: the server's certificate, for TLS servers only,
  naming as its DNS name the host the peer dials (the peer's gRPC client checks it against the
  host of ``address``); ``tls/ca.crt``: the hospital's TLS CA, the one issuer whose client
  certificates the server accepts. compose.yaml mounts ``tls/`` into the server's container.
- ``connection.json``: the template plus ``root_cert`` (the hospital's TLS CA: the peer accepts
  no other server) and a certificate and key, for TLS clients only, for the hospital's peers.
  A key of its own, not the peer's TLS key: the package is stored on the peer and any admin of
  the organisation can fetch it (``peer lifecycle chaincode getinstalledpackage``), so the key in
  it opens nothing but the organisation's own chaincode server.

Keys are ECDSA P-256 (as cryptogen's), PKCS#8 PEM, written 0600. Run again, it issues new ones
(cryptogen makes new CAs each time it runs). Needs Python 3 with PyYAML and cryptography.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, NoReturn

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
except ImportError:
    sys.exit(
        "error: chaincode_tls.py needs the Python package 'cryptography': pip install "
        "cryptography, or run network.sh with PYTHON set to an interpreter that has it "
        "(e.g. PYTHON=../../.venv/bin/python ./network.sh up)"
    )

from generate import HERE, hospital

YEARS = 5  # at most: a certificate ends when its CA does, if that is sooner
_BACKDATE = dt.timedelta(minutes=5)  # a container whose clock lags a little still accepts it


def _fail(message: str) -> NoReturn:
    sys.exit(f"error: {message}")


def load_tls_ca(org_dir: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The organisation's TLS CA as cryptogen leaves it in ``org_dir/tlsca``."""
    folder = org_dir / "tlsca"
    certs, keys = sorted(folder.glob("*-cert.pem")), sorted(folder.glob("*_sk"))
    if len(certs) != 1 or len(keys) != 1:
        _fail(
            f"{folder} is not cryptogen's TLS CA folder (one *-cert.pem and one priv_sk "
            "expected): run ./network.sh up, which runs cryptogen first"
        )
    cert = x509.load_pem_x509_certificate(certs[0].read_bytes())
    key = serialization.load_pem_private_key(keys[0].read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        _fail(f"{keys[0]} is not the ECDSA key cryptogen gives a TLS CA")
    return cert, key


def _authority_key_id(ca: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    """The CA's own subject key identifier, as RFC 5280 asks (cryptogen's is SHA-256 of the key,
    so deriving one from the key would name an id the CA does not have)."""
    try:
        ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.public_key())  # type: ignore[arg-type]
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def issue(
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey], name: str, usage: x509.ObjectIdentifier
) -> tuple[bytes, bytes]:
    """A new key and its certificate from ``ca`` for the DNS name ``name`` (subject CN and
    alternative name: a TLS client checks the server's against the host it dials, and strict
    verifiers want one on a client's too), for one TLS side (``usage``: server or client
    authentication); ``(cert_pem, key_pem)``."""
    ca_cert, ca_key = ca
    now, ca_end = dt.datetime.now(dt.UTC), ca_cert.not_valid_after_utc
    if now >= ca_end:
        _fail(f"the TLS CA {ca_cert.subject.rfc4514_string()} expired on {ca_end:%Y-%m-%d}")
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(min(now + dt.timedelta(days=365 * YEARS), ca_end))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,  # an ECDSA key signs the TLS handshake, nothing else
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(_authority_key_id(ca_cert), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _write(path: Path, data: bytes, mode: int) -> None:
    """Replace ``path`` with ``data`` (created with ``mode``: a key is never readable by others,
    not even for a moment)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
    os.replace(temporary, path)


def issue_for_hospital(i: int, template: dict[str, Any], root: Path = HERE) -> list[Path]:
    """Hospital ``i``'s server certificate and its complete connection.json; their paths."""
    h = hospital(i)
    ca = load_tls_ca(root / h["org_dir"])
    ca_pem = ca[0].public_bytes(serialization.Encoding.PEM)
    host = template["address"].rsplit(":", 1)[0]
    server_cert, server_key = issue(ca, host, ExtendedKeyUsageOID.SERVER_AUTH)
    client = f"chaincode-client.{h['domain']}"
    client_cert, client_key = issue(ca, client, ExtendedKeyUsageOID.CLIENT_AUTH)
    tls = root / h["cc_tls_dir"]
    connection = {
        **template,
        "root_cert": ca_pem.decode(),
        "client_cert": client_cert.decode(),
        "client_key": client_key.decode(),
    }
    files = {
        tls / "server.crt": (server_cert, 0o644),
        tls / "server.key": (server_key, 0o600),
        tls / "ca.crt": (ca_pem, 0o644),
        root / h["cc_connection"]: ((json.dumps(connection, indent=2) + "\n").encode(), 0o600),
    }
    for path, (data, mode) in files.items():
        _write(path, data, mode)
    return list(files)


def issue_all(root: Path = HERE) -> list[Path]:
    """The TLS material of every hospital that has a package template under ``root/chaincode``."""
    written: list[Path] = []
    for template in sorted((root / "chaincode").glob("hospital*/connection.json")):
        match = re.fullmatch(r"hospital(\d+)", template.parent.name)
        if match:
            written += issue_for_hospital(int(match[1]), json.loads(template.read_text()), root)
    if not written:
        _fail(f"no chaincode/hospitalN/connection.json under {root}: run generate.py first")
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=HERE, help="deploy folder (default: here)")
    for path in issue_all(parser.parse_args().root):
        print(path)


if __name__ == "__main__":
    main()
