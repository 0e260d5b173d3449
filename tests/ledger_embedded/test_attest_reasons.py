"""Attesters' reasons on the embedded ledger: a task published as every client did before
``attest_reasons`` existed takes a reject without a reason and stores the attestation's old bytes;
a task with ``attest_reasons`` stores the reason; `verify_ledger` replays both."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from consortium.config import ConsortiumConfig
from consortium.identity.setup import create_identities, member_roles
from consortium.ledger.contract.scenario import example_task, fake_digest
from consortium.ledger.embedded.verify import verify_ledger
from consortium.ledger.factory import bootstrap_ledger, default_contract, open_ledger

from .oneshot import submit

HOSPITALS = ["a", "b", "c"]


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> ConsortiumConfig:
    """Three hospitals that verify, an admin; the genesis block runs the consortium contract."""
    roles = member_roles(members=HOSPITALS, admins=[], aggregators=[], auditors=[], verifiers=[])
    root = tmp_path_factory.mktemp("reasons") / "c"
    config = create_identities(root, "testnet", roles)
    bootstrap_ledger(config, "admin", contract=default_contract())
    return config


def _proposal(config: ConsortiumConfig, task_id: str) -> Any:
    """a's update on ``task_id``, accepted by its committee of 2, proposed by a as version 1."""
    update = submit(config, "a", "SubmitUpdate", {
        "task_id": task_id, "base_version": 0, "model_digest": fake_digest(task_id),
        "n_samples": 10, "epsilon_spent": "1", "commitment": "",
    })  # fmt: skip
    reveal = {"task_id": task_id, "update_id": update["update_id"], "nonce": "",
              "unmapped_digest": fake_digest(f"unmapped {task_id}")}  # fmt: skip
    submit(config, "a", "RevealNonce", reveal)
    for judge in update["committee"]:
        submit(config, judge, "Endorse", {
            "task_id": task_id, "update_id": update["update_id"], "verdict": "accept",
            "reason": "OK", "metric_bp": 7000, "scores": {},
        })  # fmt: skip
    ledger = open_ledger(config, "a")
    try:
        head = ledger.evaluate("GetHead", {"task_id": task_id})
    finally:
        ledger.close()
    return submit(config, "a", "ProposeBlock", {
        "task_id": task_id, "height": 1, "parent_digest": head["model_digest"],
        "updates": [update["update_id"]], "weights_ppm": [1_000_000],
        "contribution_ppm": [1_000_000], "aggregate_digest": fake_digest("aggregate"),
        "model_digest": fake_digest(f"v1 {task_id}"), "blob_digest": fake_digest(f"b1 {task_id}"),
        "next_required_gain_bp": head["required_gain_bp"],
    })  # fmt: skip


def _stored(config: ConsortiumConfig, key: str) -> Any:
    with sqlite3.connect(config.ledger_path) as db:
        (value,) = db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
    return json.loads(bytes(value))


def test_rejects_with_and_without_reasons_replay(config: ConsortiumConfig) -> None:
    old = example_task("old", sml=False, committee_size=2, quorum=2)  # no attest_reasons
    new = example_task("new", sml=False, committee_size=2, quorum=2, attest_reasons=True)
    for task in (old, new):
        submit(config, "admin", "PublishTask", {"task": task})
    untold, told = _proposal(config, "old"), _proposal(config, "new")

    for proposal, reason in ((untold, {}), (told, {"reason": "VERSION_MISMATCH"})):
        submit(config, proposal["committee"][0], "AttestBlock", {
            "task_id": proposal["task_id"], "proposal_id": proposal["proposal_id"],
            "verdict": "reject", "metric_bp": 0, "base_metric_bp": 7000, **reason,
        })  # fmt: skip

    old_record = _stored(config, f"attest/{untold['proposal_id']}/{untold['committee'][0]}")
    new_record = _stored(config, f"attest/{told['proposal_id']}/{told['committee'][0]}")
    assert "reason" not in old_record and "attest_reasons" not in _stored(config, "task/old")
    assert new_record["reason"] == "VERSION_MISMATCH"
    report = verify_ledger(
        config.ledger_path, Path(config.ca_cert_path).read_text(), default_contract()
    )
    assert report.ok, report
