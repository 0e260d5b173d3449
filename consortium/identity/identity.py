"""A member identity: an X.509 certificate and its ECDSA P-256 key, loaded from a Fabric MSP folder.

The same folder works on both ledgers: the embedded ledger reads it here, a Fabric peer reads it as
an MSP (``signcerts/``, ``keystore/``, ``cacerts/``, ``config.yaml``).

Signatures are DER-encoded ECDSA over SHA-256 with **low-S normalisation**: for any valid
``(r, s)`` the pair ``(r, n - s)`` is valid too, so a third party could re-encode a signed
transaction without the key. Fabric refuses high-S signatures for that reason
(``fabric/bccsp/sw/ecdsa.go``, ``IsLowS``); we produce only low-S and `verify_signature` accepts
only low-S, so one message has exactly one accepted signature per nonce.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.x509.oid import NameOID

__all__ = [
    "ATTR_OID",
    "DEFAULT_MSP_ID",
    "Identity",
    "IdentityError",
    "cert_attributes",
    "cert_member_id",
    "cert_roles",
    "is_low_s",
    "load_certificate",
    "load_identity",
    "verify_signature",
]

# Fabric CA's attribute extension (fabric-ca/lib/attrmgr): the value is the raw JSON
# {"attrs": {...}}; chaincode reads it with cid.GetAttributeValue / ctx.clientIdentity.
ATTR_OID = x509.ObjectIdentifier("1.2.3.4.5.6.7.8.1")
DEFAULT_MSP_ID = "ConsortiumMSP"
# Order of the P-256 group (SEC 2, section 2.4.2).
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_HALF_N = P256_N // 2
_ECDSA = ec.ECDSA(hashes.SHA256())


class IdentityError(ValueError):
    """An MSP folder or certificate that cannot be used as a consortium identity."""


def cert_attributes(cert: x509.Certificate) -> dict[str, str]:
    """The Fabric CA attributes of ``cert`` (empty if it carries none)."""
    try:
        ext = cert.extensions.get_extension_for_oid(ATTR_OID)
    except x509.ExtensionNotFound:
        return {}
    value = ext.value
    raw = value.value if isinstance(value, x509.UnrecognizedExtension) else b""
    try:
        attrs = json.loads(raw)["attrs"]
    except (ValueError, KeyError, TypeError) as exc:
        raise IdentityError(f"malformed attribute extension: {exc}") from exc
    return {str(k): str(v) for k, v in attrs.items()}


def cert_roles(cert: x509.Certificate) -> tuple[str, ...]:
    """Roles named in the certificate's ``consortium.roles`` attribute, sorted."""
    text = cert_attributes(cert).get("consortium.roles", "")
    return tuple(sorted(r for r in text.split(",") if r))


def cert_member_id(cert: x509.Certificate) -> str:
    """The member id of a certificate: its ``consortium.member`` attribute, else its CN."""
    member = cert_attributes(cert).get("consortium.member")
    if member:
        return member
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not names:
        raise IdentityError("certificate has neither a consortium.member attribute nor a CN")
    return str(names[0].value)


def is_low_s(signature: bytes) -> bool:
    """True if the DER signature's ``s`` is in the lower half of the group order."""
    _, s = decode_dss_signature(signature)
    return s <= _HALF_N


def _to_low_s(signature: bytes) -> bytes:
    r, s = decode_dss_signature(signature)
    return signature if s <= _HALF_N else encode_dss_signature(r, P256_N - s)


@dataclass(frozen=True)
class Identity:
    """A member's certificate and private key. ``sign`` gives DER low-S ECDSA P-256/SHA-256."""

    cert_pem: str
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    msp_id: str = DEFAULT_MSP_ID

    @cached_property
    def certificate(self) -> x509.Certificate:
        """The parsed certificate."""
        return x509.load_pem_x509_certificate(self.cert_pem.encode())

    @property
    def member_id(self) -> str:
        """The member's id (``consortium.member`` attribute, else the subject CN)."""
        return cert_member_id(self.certificate)

    @property
    def roles(self) -> tuple[str, ...]:
        """Roles written in the certificate (the ledger's `member/` record is authoritative)."""
        return cert_roles(self.certificate)

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        """The certificate's public key."""
        key = self.certificate.public_key()
        assert isinstance(key, ec.EllipticCurvePublicKey)
        return key

    @property
    def cert_sha256(self) -> str:
        """Hex SHA-256 of the certificate PEM text: how the embedded ledger names a certificate in
        its block headers and ``certs`` table (a Member record stores the DER's,
        `cert_der_sha256`)."""
        return hashlib.sha256(self.cert_pem.encode()).hexdigest()

    def sign(self, data: bytes) -> bytes:
        """ECDSA P-256 over SHA-256(data), DER encoded, low-S (as Fabric requires)."""
        return _to_low_s(self.private_key.sign(data, _ECDSA))


def verify_signature(cert_pem: str, data: bytes, sig: bytes) -> bool:
    """True if ``sig`` is a low-S ECDSA signature of ``data`` by the key of ``cert_pem``.

    Checks only the signature, not who issued the certificate: use the ledger's certificate
    validation (chain to the consortium CA) for that.
    """
    try:
        cert = x509.load_pem_x509_certificate(cert_pem.encode())
        key = cert.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey) or not is_low_s(sig):
            return False
        key.verify(sig, data, _ECDSA)
    except (InvalidSignature, ValueError):
        return False
    return True


def _single_file(folder: Path) -> Path:
    files = sorted(p for p in folder.glob("*") if p.is_file()) if folder.is_dir() else []
    if len(files) != 1:
        raise IdentityError(f"expected exactly one file in {folder}, found {len(files)}")
    return files[0]


def load_certificate(msp_dir: str | Path) -> str:
    """The certificate (PEM) of a Fabric MSP folder's ``signcerts/``, without its private key: what
    registering a member on the ledger needs, and all an admin holds of the other members'."""
    signcerts = Path(msp_dir) / "signcerts"
    cert_pem = _single_file(signcerts).read_text()
    try:
        x509.load_pem_x509_certificate(cert_pem.encode())
    except ValueError as exc:
        raise IdentityError(f"cannot read the certificate in {signcerts}: {exc}") from exc
    return cert_pem


def load_identity(msp_dir: str | Path, msp_id: str = DEFAULT_MSP_ID) -> Identity:
    """Load the identity of a Fabric MSP folder (``signcerts/`` + ``keystore/``)."""
    msp = Path(msp_dir)
    if not msp.is_dir():
        raise IdentityError(
            f"no MSP folder at {msp}: restore it from a backup (a lost key cannot be recovered: "
            "an admin revokes the member and adds it under a new name, `consortium member add`)"
        )
    cert_pem = _single_file(msp / "signcerts").read_text()
    key_bytes = _single_file(msp / "keystore").read_bytes()
    try:
        key = serialization.load_pem_private_key(key_bytes, password=None)
    except ValueError as exc:
        raise IdentityError(f"cannot read the private key in {msp / 'keystore'}: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise IdentityError(f"the key in {msp / 'keystore'} is not an ECDSA P-256 key")
    identity = Identity(cert_pem=cert_pem, private_key=key, msp_id=msp_id)
    try:
        certified = identity.certificate.public_key()
    except ValueError as exc:  # not a PEM certificate
        raise IdentityError(f"cannot read the certificate in {msp / 'signcerts'}: {exc}") from exc
    if (
        not isinstance(certified, ec.EllipticCurvePublicKey)
        or certified.public_numbers() != key.public_key().public_numbers()
    ):
        raise IdentityError(f"the key in {msp / 'keystore'} does not match signcerts/")
    return identity
