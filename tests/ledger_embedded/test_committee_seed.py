"""Committee seeds on the embedded ledger: a task published as every client did before
``committee_seed`` existed keeps the transaction-id draw and its stored bytes, a task with
``committee_seed: "head"`` draws from the head, and `verify_ledger` replays both."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from consortium.config import ConsortiumConfig
from consortium.identity.setup import create_identities, member_roles
from consortium.ledger.contract.committee import draw_committee, head_seed
from consortium.ledger.contract.scenario import example_task, fake_digest
from consortium.ledger.embedded.verify import verify_ledger
from consortium.ledger.factory import bootstrap_ledger, default_contract

from .oneshot import submit

HOSPITALS = ["a", "b", "c", "d", "e"]


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> ConsortiumConfig:
    """Five hospitals that verify, an admin; the genesis block runs the consortium contract."""
    roles = member_roles(members=HOSPITALS, admins=[], aggregators=[], auditors=[], verifiers=[])
    root = tmp_path_factory.mktemp("seeds") / "c"
    config = create_identities(root, "testnet", roles)
    bootstrap_ledger(config, "admin", contract=default_contract())
    return config


def _update(task_id: str) -> dict[str, Any]:
    return {
        "task_id": task_id, "base_version": 0, "model_digest": fake_digest(task_id),
        "n_samples": 10, "epsilon_spent": "1", "commitment": fake_digest("commitment"),
    }  # fmt: skip


def _stored(config: ConsortiumConfig, key: str) -> Any:
    with sqlite3.connect(config.ledger_path) as db:
        (value,) = db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
    return json.loads(bytes(value))


def test_old_and_head_seeded_tasks_draw_their_way_and_the_ledger_replays(
    config: ConsortiumConfig,
) -> None:
    old = example_task("old", committee_size=2, quorum=2)  # no committee_seed: as clients before
    new = example_task("new", committee_size=2, quorum=2, committee_seed="head")
    for task in (old, new):
        submit(config, "admin", "PublishTask", {"task": task})

    by_tx = submit(config, "a", "SubmitUpdate", _update("old"))
    by_head = submit(config, "a", "SubmitUpdate", _update("new"))

    others = ["b", "c", "d", "e"]
    assert by_tx["committee"] == draw_committee(by_tx["update_id"], others, 2)
    seed = head_seed("update", "new", 0, new["initial_model_digest"], "a")
    assert by_head["committee"] == draw_committee(seed, others, 2)
    assert "committee_seed" not in _stored(config, "task/old")
    assert _stored(config, "task/new")["committee_seed"] == "head"
    report = verify_ledger(
        config.ledger_path, Path(config.ca_cert_path).read_text(), default_contract()
    )
    assert report.ok, report
