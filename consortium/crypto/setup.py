"""Key provisioning at ``consortium init``, sharing with new members, loading a member's keys.

`provision_keys` creates the consortium key bundle once, in memory, and writes only:

- the **public context** (parameters + public key; no secret, Galois or relin keys) as a blob and
  as ``<consortium_dir>/crypto/public_context.tenseal`` for the aggregator;
- one **wrapped bundle** per member that may hold the secret (`wrap_bundle`), as blobs.

It returns the `ShareKeyArgs` the lead publishes as ``ShareKey`` transactions. Members with the
``aggregator`` or ``auditor`` role never get a share: the contract refuses it (``ROLE_FORBIDDEN``,
docs/decisions/0001-protocol.md) and they are skipped here with the reason. The clear bundle is
returned to the caller in memory (the lead needs the model key to seal version 0) and is never
written to disk.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from pydantic import BaseModel, ConfigDict

from consortium.blobs import BlobStore
from consortium.canonical import canonical_json
from consortium.crypto.keywrap import (
    KeyBundle,
    KeyUnwrapError,
    member_public_key,
    parse_wrapped,
    unwrap_bundle,
    wrap_bundle,
)
from consortium.durable import write_durably

__all__ = [
    "NO_SHARE_ROLES",
    "PUBLIC_CONTEXT_FILE",
    "ProvisionResult",
    "ShareKeyArgs",
    "load_member_keys",
    "load_private_key",
    "provision_keys",
    "share_key",
]

PUBLIC_CONTEXT_FILE = Path("crypto") / "public_context.tenseal"
NO_SHARE_ROLES = frozenset({"aggregator", "auditor"})


class ShareKeyArgs(BaseModel):
    """The arguments of one ``ShareKey`` transaction."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    member_id: str
    wrapped_key_digest: str
    public_context_digest: str


@dataclass(frozen=True)
class ProvisionResult:
    """What `provision_keys` made: what to publish, and the clear bundle (memory only)."""

    public_context_digest: str
    public_context_path: Path
    shares: tuple[ShareKeyArgs, ...]
    skipped: dict[str, str]
    bundle: KeyBundle = field(repr=False)


def share_key(
    bundle: KeyBundle, member_id: str, cert_pem: str, roles: Iterable[str], blob_store: BlobStore
) -> ShareKeyArgs:
    """Wrap ``bundle`` for one member, store the wrap, return the ``ShareKey`` arguments."""
    forbidden = sorted(NO_SHARE_ROLES.intersection(roles))
    if forbidden:
        raise PermissionError(
            f"member {member_id!r} has role {forbidden[0]!r}, which never holds the secret key"
        )
    wrapped = wrap_bundle(bundle, member_id, member_public_key(cert_pem))
    digest = blob_store.put(canonical_json(wrapped))
    return ShareKeyArgs(
        member_id=member_id,
        wrapped_key_digest=digest,
        public_context_digest=bundle.public_context_digest,
    )


def provision_keys(
    consortium_dir: str | os.PathLike[str],
    members: Sequence[tuple[str, str, Sequence[str]]],
    blob_store: BlobStore,
) -> ProvisionResult:
    """Create the consortium keys and wrap them for ``members`` = [(member_id, cert_pem, roles)].

    Refuses to overwrite an existing public context: re-keying a live consortium would orphan
    every encrypted blob (remove the file knowingly to start over).
    """
    path = Path(consortium_dir) / PUBLIC_CONTEXT_FILE
    if path.exists():
        raise FileExistsError(f"{path} exists: this consortium already has keys")
    for member_id, cert_pem, _ in members:  # fail before any key is made or any file written
        try:
            member_public_key(cert_pem)
        except ValueError as err:
            raise ValueError(f"member {member_id!r}: {err}") from err
    bundle = KeyBundle.generate()
    public = bundle.ckks.public_bytes()
    blob_store.put(public)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_durably(path, public, tmp=path.with_suffix(".tmp"))
    shares, skipped = [], {}
    for member_id, cert_pem, roles in members:
        forbidden = sorted(NO_SHARE_ROLES.intersection(roles))
        if forbidden:
            skipped[member_id] = f"role {forbidden[0]} never holds the secret key"
            continue
        shares.append(share_key(bundle, member_id, cert_pem, roles, blob_store))
    return ProvisionResult(bundle.public_context_digest, path, tuple(shares), skipped, bundle)


def load_private_key(msp_dir: str | os.PathLike[str]) -> ec.EllipticCurvePrivateKey:
    """The member's P-256 private key from its MSP folder (``keystore/key.pem``)."""
    keystore = Path(msp_dir) / "keystore"
    candidates = [keystore / "key.pem"] if (keystore / "key.pem").is_file() else []
    if not candidates and keystore.is_dir():
        candidates = sorted(p for p in keystore.iterdir() if p.is_file())
    if len(candidates) != 1:
        raise FileNotFoundError(f"expected one private key in {keystore} (keystore/key.pem)")
    key = load_pem_private_key(candidates[0].read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{candidates[0]} is not an EC private key")
    return key


def load_member_keys(
    key: str | os.PathLike[str] | ec.EllipticCurvePrivateKey,
    blob_store: BlobStore,
    wrapped_digest: str,
    *,
    member_id: str | None = None,
    context_digest: str | None = None,
) -> KeyBundle:
    """Fetch the wrapped bundle ``wrapped_digest`` and open it with the member's private key.

    ``key`` is an MSP folder or a loaded private key. With ``member_id`` the wrap must name that
    member (a wrap made for someone else is refused even if this key could open it). With
    ``context_digest`` (the ``public_context_digest`` of the member's ShareKey record, which the
    contract pins to the consortium's) the bundle must open to that very context: a key holder
    could otherwise wrap another consortium's keys for a new member, whose node would then
    encrypt and decrypt under keys nobody else holds.
    """
    private = key if isinstance(key, ec.EllipticCurvePrivateKey) else load_private_key(key)
    wrapped = parse_wrapped(blob_store.get(wrapped_digest))
    if member_id is not None and wrapped.member_id != member_id:
        raise KeyUnwrapError(
            f"wrapped key {wrapped_digest[:12]}… is for member {wrapped.member_id!r}, "
            f"not {member_id!r}"
        )
    bundle = unwrap_bundle(wrapped, private)
    if context_digest is not None and bundle.public_context_digest != context_digest:
        raise KeyUnwrapError(
            f"the key share {wrapped_digest[:12]}… opens to the context "
            f"{bundle.public_context_digest[:12]}…, not the consortium's {context_digest[:12]}… "
            "that the ledger names: an admin must share the key again (consortium member add "
            "replaces a share another key holder gave)"
        )
    return bundle
