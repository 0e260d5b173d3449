"""Create the identities of a new consortium directory, and add members to an existing one.

Layout of a consortium directory (all paths recorded relative in `consortium.toml`):

    DIR/consortium.toml
    DIR/ca/ca.pem, DIR/ca/ca-key.pem (0600)
    DIR/orderer/msp/...                 the embedded orderer's identity (role orderer)
    DIR/members/NAME/msp/...            one Fabric MSP folder per member
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable
from pathlib import Path

from consortium.config import CONFIG_NAME, ConsortiumConfig, MemberEntry
from consortium.identity import ORDERER_ROLE, ROLES
from consortium.identity.ca import CertificateAuthority, write_msp

__all__ = [
    "add_member_identity",
    "check_member_name",
    "check_member_roles",
    "create_identities",
    "member_roles",
    "remove_member_identity",
]

DEFAULT_ADMIN = "admin"
# The contract's member id pattern (`Ident` in ledger/contract/records.py, IDENT in the chaincode's
# records.ts): ASCII only, at most 64 characters (also the longest CN a certificate may carry). A
# name is checked against it before anything is written or signed, so that the ledger never has to
# refuse it and no name can lead out of `members/`.
_MEMBER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def member_roles(
    *,
    members: list[str],
    admins: list[str],
    aggregators: list[str],
    auditors: list[str],
    verifiers: list[str],
) -> dict[str, list[str]]:
    """Roles per identity from `consortium init` options.

    ``--member`` names are hospitals that also verify; a name given to several options gets the
    union of their roles (the ledger's Bootstrap refuses aggregator or auditor together with
    hospital or verifier: decisions/0001, "Roles"). Without ``--admin`` an identity named
    ``admin`` is created.
    """
    roles: dict[str, set[str]] = {}
    groups = [
        (members, ("hospital", "verifier")),
        (admins or [DEFAULT_ADMIN], ("admin",)),
        (aggregators, ("aggregator",)),
        (auditors, ("auditor",)),
        (verifiers, ("verifier",)),
    ]
    for names, granted in groups:
        for name in names:
            roles.setdefault(name, set()).update(granted)
    return {name: sorted(r) for name, r in roles.items()}


def _node_ou(roles: list[str]) -> str:
    return "admin" if "admin" in roles else "client"


def check_member_name(name: str) -> None:
    """Raise `ValueError` unless ``name`` is a member id the ledger accepts."""
    if _MEMBER_NAME.fullmatch(name) is None:
        raise ValueError(
            f"member name {name!r}: use at most 64 ASCII letters, digits, '-', '_' or '.', "
            "starting with a letter or digit"
        )


def check_member_roles(name: str, roles: Iterable[str]) -> None:
    """Raise `ValueError` if ``roles`` hold aggregator or auditor together with hospital or
    verifier: the ledger refuses such a member (ROLE_FORBIDDEN, decisions/0001 "Roles"), so it is
    refused before any identity is issued or transaction signed."""
    from consortium.ledger.contract._members import KEYED_ROLES, role_conflict

    conflict = role_conflict(roles)
    if conflict is not None:
        keyless, keyed = conflict
        raise ValueError(
            f"member {name!r} cannot be {keyless} and {keyed}: an {keyless} never receives the "
            f"consortium's secret key, which a {keyed} needs to open models and updates; give "
            f"{keyless} to another member (a name of its own, without "
            f"{' or '.join(KEYED_ROLES)}; admin goes with any role)"
        )


def create_identities(root: Path, name: str, roles: dict[str, list[str]]) -> ConsortiumConfig:
    """Create the CA, the orderer and one MSP folder per member under ``root``; write the config.

    Refuses a directory that already holds a consortium.
    """
    if (root / CONFIG_NAME).exists() or (root / "ca").exists():
        raise FileExistsError(
            f"{root} already holds a consortium; choose another directory (nothing was changed)"
        )
    for member in roles:
        check_member_name(member)
        unknown = set(roles[member]) - set(ROLES)
        if unknown:
            raise ValueError(f"unknown role(s) {sorted(unknown)}; roles are {', '.join(ROLES)}")
        check_member_roles(member, roles[member])
    for msp in [root / "orderer" / "msp", *(root / "members" / m / "msp" for m in roles)]:
        if msp.exists():  # someone's identity: never overwritten, and refused before any write
            raise FileExistsError(
                f"{msp} exists: an identity is there already; move it away or choose another "
                "directory (nothing was changed)"
            )
    root.mkdir(parents=True, exist_ok=True)
    config = ConsortiumConfig(name=name, root=root.resolve())
    ca = CertificateAuthority.create(name)
    ca.save(config.resolve(config.ca_cert), config.resolve(config.ca_key))
    cert, key = ca.issue("orderer", [ORDERER_ROLE], "orderer")
    write_msp(config.resolve(config.orderer_msp), cert, key, ca.cert_pem)
    for member, member_roles_ in roles.items():
        _issue_into(config, ca, member, member_roles_)
    config.save()
    return config


def _issue_into(
    config: ConsortiumConfig, ca: CertificateAuthority, member: str, roles: list[str]
) -> None:
    msp = f"members/{member}/msp"
    cert, key = ca.issue(member, roles, _node_ou(roles))
    write_msp(config.resolve(msp), cert, key, ca.cert_pem)
    config.members[member] = MemberEntry(msp=msp, roles=roles, msp_id=config.msp_id)


def add_member_identity(config: ConsortiumConfig, member: str, roles: list[str]) -> Path:
    """Issue an identity for a new member (not yet registered on the ledger); returns its MSP."""
    check_member_name(member)
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise ValueError(f"give one or more roles among {', '.join(ROLES)} (got {roles})")
    check_member_roles(member, roles)
    if member in config.members or config.resolve(f"members/{member}").exists():
        raise FileExistsError(f"an identity named {member!r} already exists in {config.root}")
    ca = CertificateAuthority.load(config.resolve(config.ca_cert), config.resolve(config.ca_key))
    _issue_into(config, ca, member, sorted(set(roles)))
    return config.member_msp(member)


def remove_member_identity(config: ConsortiumConfig, member: str) -> None:
    """Undo `add_member_identity` (used when the ledger refused the registration)."""
    shutil.rmtree(config.resolve(f"members/{member}"), ignore_errors=True)
    config.members.pop(member, None)
