"""Fixtures for the contract tests: the stored test identities and a bootstrapped consortium."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from consortium.ledger.base import Creator
from consortium.ledger.contract.scenario import Scenario, example_task

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "data_schemas" / "vectors"
GENESIS = ("admin", "h1", "h2", "h3", "v1", "v2", "v3", "agg", "aud")


@pytest.fixture(scope="session")
def people() -> dict[str, Creator]:
    """The vectors' identities (certificates made once by the consortium CA)."""
    data = json.loads((VECTORS / "identities.json").read_text())
    return {name: Creator(**fields) for name, fields in data["identities"].items()}


def member_args(who: Creator) -> dict[str, Any]:
    """RegisterMember args for an identity."""
    return {
        "member_id": who.member_id,
        "msp_id": who.msp_id,
        "roles": list(who.roles),
        "cert_pem": who.cert_pem,
    }


@pytest.fixture
def sc(people: dict[str, Creator]) -> Scenario:
    """A consortium of GENESIS members with task ``heart`` published (SML, committee 3 of 4)."""
    scenario = Scenario(people)
    scenario.ok("admin", "Bootstrap", {"members": [member_args(people[n]) for n in GENESIS]})
    scenario.ok("admin", "PublishTask", {"task": example_task("heart")})
    return scenario
