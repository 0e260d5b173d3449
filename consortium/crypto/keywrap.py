"""The consortium key bundle, and how it is wrapped for one member with that member's certificate.

A **key bundle** is what makes a member a member: the CKKS secret context (secret + public key) and
a 32-byte AES-256 model key for version blobs (docs/decisions/0001-protocol.md, "Versions and their
blobs"). It exists in clear only in memory. For each member it is wrapped as follows:

1. **Ephemeral-static ECDH on P-256** (NIST SP 800-56A rev. 3, scheme C(1e, 1s)): the sender draws a
   fresh key pair for this one wrap and agrees a secret with the member's certificate public key.
   The sender needs no long-term key-agreement key of its own, any holder of a share can wrap for a
   new member, and each wrap gets an independent secret: a wrapping key is used exactly once. The
   ephemeral private key is dropped when the function returns. (Only the recipient's static key
   can undo a wrap, so compromising the recipient's key exposes its bundle: inherent to
   store-and-forward delivery.)
   The certificate key is also the member's ECDSA signing key. Using one P-256 key for ECDSA and
   ECDH-then-KDF is shown jointly secure in the generic group model (Paterson, Schuldt, Stam,
   Thomson, "On the Joint Security of Encryption and Signature, Revisited", ASIACRYPT 2011) and it
   spares members a second key to manage; the shared secret is only ever fed to HKDF.
2. **HKDF-SHA256** (RFC 5869) turns the raw ECDH output (not uniform) into the AES key. Its ``info``
   is canonical JSON binding the purpose, member id, public-context digest, format version and both
   public keys (as in HPKE, RFC 9180, whose key schedule binds enc and pkR): a wrap cannot be
   re-labelled for another member or another consortium context and still give the same key.
3. **AES-256-GCM** (NIST SP 800-38D) with a random 96-bit nonce and AAD = canonical JSON of
   ``{member_id, public_context_digest, version}``: the record's visible labels are authenticated,
   so editing them makes unwrapping fail rather than load a bundle under a wrong name. The nonce
   is random and, since each derived key encrypts exactly one message, can never repeat under a
   key (SP 800-38D's 2^32-messages-per-key limit is far away).

The wrapped record is canonical JSON (`WrappedKey`); its SHA-256 is the ``wrapped_key_digest`` a
``ShareKey`` transaction puts on the ledger.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.x509 import load_pem_x509_certificate
from pydantic import BaseModel, ConfigDict, ValidationError

from consortium.canonical import canonical_json
from consortium.crypto.context import CkksContext

__all__ = [
    "KeyBundle",
    "KeyUnwrapError",
    "WrappedKey",
    "member_public_key",
    "parse_wrapped",
    "unwrap_bundle",
    "wrap_bundle",
]

WRAP_VERSION = 1
_BUNDLE_MAGIC = b"CSKEYB1\n"
_MODEL_KEY_BYTES = 32


class KeyUnwrapError(ValueError):
    """A wrapped key that this private key cannot open, or whose labels were changed."""


@dataclass(frozen=True)
class KeyBundle:
    """The consortium secrets: the CKKS secret context and the AES-256 model key (memory only)."""

    secret_context: bytes = field(repr=False)
    model_key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.model_key) != _MODEL_KEY_BYTES:
            raise ValueError("the model key must be 32 bytes (AES-256)")

    @classmethod
    def generate(cls) -> KeyBundle:
        """A new bundle: fresh CKKS keys and a random model key (once per consortium)."""
        return cls(CkksContext.generate().secret_bytes(), os.urandom(_MODEL_KEY_BYTES))

    @cached_property
    def ckks(self) -> CkksContext:
        """The loaded secret CKKS context (encrypts and decrypts)."""
        return CkksContext.from_secret_bytes(self.secret_context)

    @property
    def public_context_digest(self) -> str:
        """Digest of the public context matching this secret context."""
        return self.ckks.digest

    def to_bytes(self) -> bytes:
        """Plaintext form, only ever passed to AES-GCM: magic | model key | secret context."""
        return _BUNDLE_MAGIC + self.model_key + self.secret_context

    @classmethod
    def from_bytes(cls, data: bytes) -> KeyBundle:
        """Inverse of `to_bytes`."""
        if not data.startswith(_BUNDLE_MAGIC):
            raise KeyUnwrapError("the unwrapped bytes are not a key bundle")
        body = data[len(_BUNDLE_MAGIC) :]
        return cls(body[_MODEL_KEY_BYTES:], body[:_MODEL_KEY_BYTES])


class WrappedKey(BaseModel):
    """A key bundle wrapped for one member (canonical JSON; stored as a blob)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["consortium/wrapped-key/v1"] = "consortium/wrapped-key/v1"
    version: int = WRAP_VERSION
    member_id: str
    public_context_digest: str
    ephemeral_public_key: str  # hex, X9.62 uncompressed point
    nonce: str  # hex, 12 bytes
    ciphertext: str  # base64, AES-256-GCM output (ciphertext | 16-byte tag)

    def aad(self) -> bytes:
        """The authenticated labels."""
        return canonical_json(
            {
                "member_id": self.member_id,
                "public_context_digest": self.public_context_digest,
                "version": self.version,
            }
        )


def member_public_key(cert_pem: str | bytes) -> ec.EllipticCurvePublicKey:
    """The P-256 public key of a member certificate (PEM); refuses other key types."""
    pem = cert_pem.encode() if isinstance(cert_pem, str) else cert_pem
    key = load_pem_x509_certificate(pem).public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ValueError(
            "member certificate must carry an EC P-256 key (as the consortium CA issues)"
        )
    return key


def _point(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def _derive(shared: bytes, labels: WrappedKey, recipient: ec.EllipticCurvePublicKey) -> bytes:
    info = canonical_json(
        {
            "purpose": "consortium/keywrap/v1",
            "member_id": labels.member_id,
            "public_context_digest": labels.public_context_digest,
            "version": labels.version,
            "ephemeral_public_key": labels.ephemeral_public_key,
            "recipient_public_key": _point(recipient).hex(),
        }
    )
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(shared)


def wrap_bundle(
    bundle: KeyBundle, member_id: str, recipient: ec.EllipticCurvePublicKey
) -> WrappedKey:
    """Wrap ``bundle`` for ``member_id`` whose certificate key is ``recipient``."""
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    labels = WrappedKey(
        member_id=member_id,
        public_context_digest=bundle.public_context_digest,
        ephemeral_public_key=_point(ephemeral.public_key()).hex(),
        nonce=os.urandom(12).hex(),
        ciphertext="",
    )
    key = _derive(ephemeral.exchange(ec.ECDH(), recipient), labels, recipient)
    sealed = AESGCM(key).encrypt(bytes.fromhex(labels.nonce), bundle.to_bytes(), labels.aad())
    return labels.model_copy(update={"ciphertext": base64.b64encode(sealed).decode("ascii")})


def parse_wrapped(data: bytes) -> WrappedKey:
    """Parse a wrapped-key blob."""
    try:
        return WrappedKey.model_validate_json(data)
    except ValidationError as err:
        raise KeyUnwrapError(f"not a wrapped key blob: {err.error_count()} field error(s)") from err


def unwrap_bundle(
    wrapped: WrappedKey | bytes, private_key: ec.EllipticCurvePrivateKey
) -> KeyBundle:
    """Open a wrapped bundle with the member's certificate private key."""
    rec = wrapped if isinstance(wrapped, WrappedKey) else parse_wrapped(wrapped)
    try:
        peer = ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), bytes.fromhex(rec.ephemeral_public_key)
        )
        key = _derive(private_key.exchange(ec.ECDH(), peer), rec, private_key.public_key())
        plain = AESGCM(key).decrypt(
            bytes.fromhex(rec.nonce), base64.b64decode(rec.ciphertext, validate=True), rec.aad()
        )
    except (InvalidTag, ValueError) as err:
        raise KeyUnwrapError(
            f"cannot unwrap the key for member {rec.member_id!r}: wrong private key, or the "
            "record was altered"
        ) from err
    bundle = KeyBundle.from_bytes(plain)
    if bundle.public_context_digest != rec.public_context_digest:
        raise KeyUnwrapError("the unwrapped context does not match the record's context digest")
    return bundle
