"""Certificate checks at commit and at verification, cached per distinct certificate.

A certificate is accepted as a creator when it was issued by the consortium CA (signature checked
with the CA's public key), is an ECDSA P-256 end-entity certificate (not the CA's own, which is
self-issued), and the block's time (the orderer's clock, signed in the header) falls inside its
validity period and the CA's (a chain is valid only while each link is), so that replaying the
ledger later gives the same answer and a back-dated transaction cannot use an expired
certificate. Parsing and the chain check cost far more than a transaction, and a consortium has
few certificates, so results are cached by the PEM text.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from consortium.identity.identity import cert_member_id, cert_roles, is_low_s
from consortium.ledger.base import Creator

__all__ = ["CertInfo", "CertValidator"]

_ECDSA = ec.ECDSA(hashes.SHA256())


@dataclass(frozen=True)
class CertInfo:
    """What the ledger knows about one certificate; ``error`` is set if it is not acceptable."""

    error: str | None
    public_key: ec.EllipticCurvePublicKey | None = None
    member_id: str = ""
    roles: tuple[str, ...] = ()
    not_before_ms: int = 0
    not_after_ms: int = 0

    def valid_at(self, timestamp_ms: int) -> bool:
        """True if the certificate is acceptable at ``timestamp_ms``."""
        return self.error is None and self.not_before_ms <= timestamp_ms <= self.not_after_ms

    def verify(self, data: bytes, signature: bytes) -> bool:
        """Low-S ECDSA check of ``signature`` over ``data`` with this certificate's key."""
        if self.public_key is None:
            return False
        try:
            if not is_low_s(signature):
                return False
            self.public_key.verify(signature, data, _ECDSA)
        except (InvalidSignature, ValueError):
            return False
        return True


@functools.lru_cache(maxsize=1024)
def _member_of(cert_pem: str) -> str:
    try:
        return cert_member_id(x509.load_pem_x509_certificate(cert_pem.encode()))
    except ValueError:
        return ""


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp()) * 1000


class CertValidator:
    """Validates certificates against one consortium CA, remembering every answer."""

    def __init__(self, ca_cert_pem: str) -> None:
        self.ca_pem = ca_cert_pem
        self._ca = x509.load_pem_x509_certificate(ca_cert_pem.encode())
        self._cache: dict[str, CertInfo] = {}
        self._creators: dict[tuple[str, str], Creator] = {}

    @staticmethod
    def member_of(cert_pem: str) -> str:
        """The member id named by a certificate ("" if unreadable); cached."""
        return _member_of(cert_pem)

    def info(self, cert_pem: str) -> CertInfo:
        """The (cached) verdict on ``cert_pem``."""
        found = self._cache.get(cert_pem)
        if found is None:
            found = self._check(cert_pem)
            self._cache[cert_pem] = found
        return found

    def creator(self, cert_pem: str, msp_id: str) -> Creator:
        """The contract's view of a (valid) creator certificate."""
        key = (cert_pem, msp_id)
        found = self._creators.get(key)
        if found is None:
            info = self.info(cert_pem)
            found = Creator(
                member_id=info.member_id, msp_id=msp_id, roles=info.roles, cert_pem=cert_pem
            )
            self._creators[key] = found
        return found

    def _check(self, cert_pem: str) -> CertInfo:
        try:
            cert = x509.load_pem_x509_certificate(cert_pem.encode())
        except ValueError:
            return CertInfo(error="certificate cannot be parsed")
        key = cert.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
            return CertInfo(error="certificate key is not ECDSA P-256")
        try:
            cert.verify_directly_issued_by(self._ca)
        except (ValueError, TypeError, InvalidSignature):
            return CertInfo(error="certificate is not issued by the consortium CA")
        if _is_ca(cert):
            return CertInfo(error="certificate is a CA certificate, not a member's")
        try:
            member, roles = cert_member_id(cert), cert_roles(cert)
        except ValueError:
            return CertInfo(error="certificate attributes are malformed")
        return CertInfo(
            error=None,
            public_key=key,
            member_id=member,
            roles=roles,
            not_before_ms=_ms(max(cert.not_valid_before_utc, self._ca.not_valid_before_utc)),
            not_after_ms=_ms(min(cert.not_valid_after_utc, self._ca.not_valid_after_utc)),
        )
