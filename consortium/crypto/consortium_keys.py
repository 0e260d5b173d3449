"""Create the consortium's keys and publish each member's wrapped share on the ledger.

This is what `consortium init` (and the simulator's setup, and `consortium fabric bootstrap` on a
Fabric channel) runs once, right after the genesis block: `provision_keys` makes the CKKS secret
context and the model key in memory, wraps them for every member allowed to hold them, and the
admin publishes one ``ShareKey`` transaction per member so that the ledger says who holds which
wrapped copy (by digest). The clear bundle is returned to the caller in memory (it needs the model
key to encrypt version 0 of a task) and never written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from consortium.crypto.keywrap import KeyBundle
from consortium.crypto.setup import ProvisionResult, provision_keys

if TYPE_CHECKING:
    from collections.abc import Collection

    from consortium.blobs import BlobStore
    from consortium.config import ConsortiumConfig
    from consortium.ledger.base import Ledger, TxResult

__all__ = ["share_consortium_keys", "share_keys_with"]


def share_consortium_keys(
    config: ConsortiumConfig,
    admin: Ledger,
    blobs: BlobStore,
    member_ids: Collection[str] | None = None,
) -> tuple[KeyBundle, ProvisionResult]:
    """Provision the keys for every member of ``config`` (or those of ``member_ids``: the members
    registered on the ledger) and submit their ``ShareKey`` as ``admin``.

    Raises `LedgerRejected` if the contract refuses a share (the shares already published stay,
    as everything on a ledger does; the error names the member).
    """
    from consortium.identity import load_identity

    members = []
    for member_id, entry in sorted(config.members.items()):
        if member_ids is not None and member_id not in member_ids:
            continue
        ident = load_identity(config.member_msp(member_id), msp_id=entry.msp_id)
        members.append((member_id, ident.cert_pem, tuple(entry.roles)))
    result = provision_keys(config.root, members, blobs)
    for share in result.shares:
        admin.submit_ok("ShareKey", share.model_dump(mode="json"))
    return result.bundle, result


def share_keys_with(
    config: ConsortiumConfig, admin: Ledger, blobs: BlobStore, admin_id: str, member_id: str
) -> TxResult | None:
    """Wrap the consortium's keys, as ``admin_id`` holds them, for a member added after
    `share_consortium_keys` ran, and submit its ``ShareKey``; None when its roles hold no key.

    Raises `ContractError` when ``admin_id`` holds no share to pass on.
    """
    from consortium.crypto.setup import NO_SHARE_ROLES, load_member_keys, share_key
    from consortium.identity import load_identity

    entry = config.members[member_id]
    if NO_SHARE_ROLES.intersection(entry.roles):
        return None
    own = admin.evaluate("GetShareKey", {"member_id": admin_id})
    bundle = load_member_keys(
        config.member_msp(admin_id), blobs, own["wrapped_key_digest"], member_id=admin_id,
        context_digest=own["public_context_digest"],
    )  # fmt: skip
    ident = load_identity(config.member_msp(member_id), msp_id=entry.msp_id)
    share = share_key(bundle, member_id, ident.cert_pem, tuple(entry.roles), blobs)
    return admin.submit("ShareKey", share.model_dump(mode="json"))
