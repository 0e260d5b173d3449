"""Per-transaction checks that need no world state, for `verify_ledger`'s worker processes.

A worker runs `parse_envelope` (well-formed, canonical JSON, field types) and the low-S ECDSA
check of the creator signature over the exact stored envelope bytes, with the certificate's public
key parsed once per distinct certificate. Everything that decides a validation code from context
(certificate chain and validity period, channel, transaction id, duplicates, the contract) is still
done by the replay in the main process, which also re-parses the envelope (`known_canonical` only
skips re-encoding it). A verdict is ``None`` when the worker cannot tell (unreadable envelope or
certificate); the replay then runs every check itself, so a worker can only save work, never
decide a code the replay would not.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from consortium.ledger.embedded.certs import CertInfo
from consortium.ledger.embedded.envelope import parse_envelope

__all__ = ["Verdict", "precheck", "precheck_one"]

# (envelope is canonical and well formed, signature verdict or None if not checked)
Verdict = tuple[bool, bool | None]

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


def precheck_one(envelope: bytes, signature: bytes) -> Verdict:
    """The verdict on one stored (envelope, signature) pair."""
    if type(envelope) is not bytes or type(signature) is not bytes:
        return False, None  # e.g. a TEXT value in a BLOB column: the replay reports it
    try:
        env = parse_envelope(envelope)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return False, None
    try:
        return True, _info(env.cert_pem).verify(envelope, signature)
    except ValueError:
        return True, None


def precheck(items: list[tuple[bytes, bytes]]) -> list[Verdict]:
    """Verdicts for a window of (envelope, signature) pairs, in order."""
    return [precheck_one(envelope, signature) for envelope, signature in items]
