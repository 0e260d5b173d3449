"""ECDSA P-256 signing and checking as Fabric does it: SHA-256, DER, low-S only.

Fabric's BCCSP (``bccsp/sw/ecdsa.go``) refuses signatures whose ``s`` lies in the upper half of the
group order: ``(r, s)`` and ``(r, n - s)`` both verify, so accepting both would let anyone re-encode
a signed message into a different byte string. Everything signed here is normalised to low-S, and
the fake peer rejects high-S signatures exactly as a peer would.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

# Order of the P-256 group (SEC 2, section 2.4.2).
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_ECDSA = ec.ECDSA(hashes.SHA256())


def is_low_s(signature: bytes) -> bool:
    """True if the DER signature's ``s`` is at most half the group order."""
    try:
        _, s = decode_dss_signature(signature)
    except ValueError:
        return False
    return s <= P256_N // 2


def to_low_s(signature: bytes) -> bytes:
    """The low-S form of a DER ECDSA P-256 signature."""
    r, s = decode_dss_signature(signature)
    return signature if s <= P256_N // 2 else encode_dss_signature(r, P256_N - s)


def sign_low_s(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """ECDSA P-256 over SHA-256(data), DER encoded, low-S."""
    return to_low_s(key.sign(data, _ECDSA))


def verify_low_s(public_key: ec.EllipticCurvePublicKey, data: bytes, signature: bytes) -> bool:
    """True only for a valid *low-S* signature of ``data`` by ``public_key``."""
    if not is_low_s(signature):
        return False
    try:
        public_key.verify(signature, data, _ECDSA)
    except InvalidSignature:
        return False
    return True


def cert_public_key(cert: x509.Certificate) -> ec.EllipticCurvePublicKey:
    """The certificate's key, refusing anything but ECDSA P-256."""
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ValueError("certificate key is not ECDSA P-256")
    return key


@dataclass(frozen=True)
class KeySigner:
    """A `Signer` from a key and certificate (tests, the fake's peers; members use `Identity`)."""

    msp_id: str
    cert_pem: str
    key: ec.EllipticCurvePrivateKey = field(repr=False)

    def sign(self, data: bytes) -> bytes:
        """Low-S DER ECDSA P-256 signature over SHA-256(data)."""
        return sign_low_s(self.key, data)
