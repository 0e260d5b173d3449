"""The real federated run the PoLe tests share (the fixture is in conftest.py).

The simulator's setup (`create_consortium`: identities, genesis, CKKS and model keys wrapped per
member, the task with its encrypted version 0, the UCI cohorts) and the real node roles stepped in
this process (`consortium.pole.localrun`): DP training behind the SML, CKKS encryption, committees,
homomorphic aggregation, sealing and attestation, all through the embedded ledger. More identities
are added the way `consortium member add` does: ``mallory``, ``trudy`` and ``oscar`` (hospitals
with a key share that never train: the free-riders), ``nobody`` (a registered hospital without a
key share) and ``auditor``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

SITES = ("cleveland", "hungary", "switzerland", "va")
FREE_RIDERS = ("mallory", "trudy", "oscar")


@dataclass
class Run:
    """The consortium directory of the session's run and its nodes."""

    root: Path
    config: Any
    nodes: list[Any]

    def session(self, member: str) -> Any:
        """A fresh `Session` for ``member``."""
        from consortium.node.open import open_session

        return open_session(self.root, member)


def add_member(config: Any, name: str, roles: list[str], share: bool) -> None:
    from consortium.blobs import open_blob_store
    from consortium.crypto.setup import load_member_keys, share_key
    from consortium.identity import load_identity
    from consortium.identity.setup import add_member_identity
    from consortium.ledger.factory import genesis_args, open_ledger

    add_member_identity(config, name, roles)
    config.save()
    admin = open_ledger(config, "admin")
    record = next(m for m in genesis_args(config)["members"] if m["member_id"] == name)
    admin.submit_ok("RegisterMember", record)
    if share:
        blobs = open_blob_store(config.blobs.url, config.root)
        wrapped = admin.evaluate("GetShareKey", {"member_id": "admin"})["wrapped_key_digest"]
        bundle = load_member_keys(config.member_msp("admin"), blobs, wrapped, member_id="admin")
        cert = load_identity(config.member_msp(name)).cert_pem
        args = share_key(bundle, name, cert, roles, blobs)
        admin.submit_ok("ShareKey", args.model_dump(mode="json"))
    admin.close()
