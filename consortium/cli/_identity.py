"""Which identity a command acts as: one whose private key this consortium directory holds.

`consortium init` writes every identity's key, but a member's copy of the directory (a hospital's,
an auditor's) holds only its own: the other ``members/NAME/msp/keystore/`` folders are absent or
empty. A command that signs or reads the ledger as an identity checks that its key is here before
it does anything else, and says which identities it could act as instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from consortium.cli._errors import fail

if TYPE_CHECKING:
    from consortium.config import ConsortiumConfig

__all__ = ["any_keyed_identity", "keyed_identities", "require_key"]


def keyed_identities(config: ConsortiumConfig, role: str | None = None) -> list[str]:
    """The identities not revoked whose private key is in this directory (with ``role``)."""
    return [
        m for m in sorted(config.members)
        if not config.members[m].revoked and config.holds_private_key(m)
        and (role is None or role in config.members[m].roles)
    ]  # fmt: skip


def require_key(config: ConsortiumConfig, member_id: str, *, role: str | None = None) -> None:
    """Fail with one line, naming the keystore looked in, unless ``member_id``'s private key is in
    this directory; ``role``: the role the command needs, to name the identities that have it.

    A name that is no identity of the directory fails alike, with the names it holds."""
    from consortium.config import ConfigError

    try:
        keystore = config.member_msp(member_id) / "keystore"
    except ConfigError as exc:
        fail(str(exc))
    if config.holds_private_key(member_id):
        return
    noun = role or "identity"
    who = f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"
    missing = (
        f"no private key of {member_id!r} in {keystore} (a member's copy of the consortium "
        "directory holds only its own)"
    )
    here = keyed_identities(config, role)
    if here:
        fail(f"{missing}: pass --as NAME with {who} whose key is here (here: {', '.join(here)}), "
             f"or --dir naming the copy that holds {member_id}'s key")  # fmt: skip
    fail(f"{missing}, and no {noun}'s key is here: give --dir naming the copy that holds "
         f"{member_id}'s key, or --as NAME with {who} whose key that copy holds")  # fmt: skip


def any_keyed_identity(config: ConsortiumConfig) -> str:
    """An identity to read the ledger as: the first by name whose private key is here."""
    here = keyed_identities(config)
    if not here:
        fail(
            f"this directory holds no member's private key (looked in "
            f"{config.root / 'members'}/*/msp/keystore): run the command with --dir naming a "
            "member's copy of the consortium directory, or restore the member's msp/ folder from "
            "a backup"
        )
    return here[0]
