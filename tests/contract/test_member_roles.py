"""A member never holds a role that may not have the secret key (aggregator, auditor) together with
one whose work needs it (hospital, verifier): Bootstrap and RegisterMember refuse such a member
with ROLE_FORBIDDEN (0001-protocol.md, "Roles")."""

from __future__ import annotations

import pytest

from consortium.ledger.base import Creator
from consortium.ledger.contract import codes
from consortium.ledger.contract.scenario import Scenario

from .conftest import GENESIS, member_args

MIXED = [["aggregator", "hospital"], ["auditor", "verifier"], ["aggregator", "auditor", "verifier"],
         ["auditor", "hospital", "verifier"]]  # fmt: skip


@pytest.mark.parametrize("roles", MIXED, ids="+".join)
def test_registering_a_keyless_role_with_one_that_needs_the_key_is_refused(
    sc: Scenario, people: dict[str, Creator], roles: list[str]
) -> None:
    args = {**member_args(people["outsider"]), "roles": roles}

    outcome = sc.run("admin", "RegisterMember", args)

    assert outcome.code == codes.ROLE_FORBIDDEN, f"{outcome.code}: {outcome.message}"
    assert outcome.writes == {}
    assert "'outsider'" in outcome.message and "two members" in outcome.message


@pytest.mark.parametrize("roles", [["admin", "auditor"], ["admin", "aggregator"],
                                   ["aggregator", "auditor"]], ids="+".join)  # fmt: skip
def test_a_keyless_role_may_go_with_admin_or_another_keyless_role(
    sc: Scenario, people: dict[str, Creator], roles: list[str]
) -> None:
    args = {**member_args(people["outsider"]), "roles": roles}

    outcome = sc.run("admin", "RegisterMember", args)

    assert outcome.valid, f"{outcome.code}: {outcome.message}"


def test_a_genesis_member_mixing_them_is_refused(people: dict[str, Creator]) -> None:
    members = [member_args(people[n]) for n in GENESIS]
    mixed = next(m for m in members if m["member_id"] == "agg")
    mixed["roles"] = ["aggregator", "hospital"]
    sc = Scenario(people)

    outcome = sc.run("admin", "Bootstrap", {"members": members})

    assert outcome.code == codes.ROLE_FORBIDDEN, f"{outcome.code}: {outcome.message}"
    assert "'agg'" in outcome.message
    assert outcome.writes == {}
