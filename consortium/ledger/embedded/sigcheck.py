"""Signature checks that can run in a worker process (for `verify_ledger`'s pool).

Only the ECDSA check is done here; everything that decides a validation code (certificate chain,
validity period, transaction id) is still done by the replay in the main process. A worker answers
``None`` when it cannot tell (unreadable envelope), and the replay then checks by itself.
"""

from __future__ import annotations

import json

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from consortium.ledger.embedded.certs import CertInfo

__all__ = ["check_signatures"]

_keys: dict[str, CertInfo] = {}


def _info(cert_pem: str) -> CertInfo:
    found = _keys.get(cert_pem)
    if found is None:
        key = x509.load_pem_x509_certificate(cert_pem.encode()).public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise ValueError("not an EC key")
        found = CertInfo(error=None, public_key=key)
        _keys[cert_pem] = found
    return found


def check_signatures(items: list[tuple[bytes, bytes]]) -> list[bool | None]:
    """For each (envelope, signature): True/False, or None if the envelope cannot be read."""
    out: list[bool | None] = []
    for envelope, signature in items:
        try:
            cert_pem = json.loads(envelope)["creator"]["cert_pem"]
            out.append(_info(cert_pem).verify(envelope, signature))
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            out.append(None)
    return out
