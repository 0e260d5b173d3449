"""A small populated consortium for the portal's tests, written through the real ledger.

Until the simulator can produce one quickly, this follows docs/decisions/0001-protocol.md by hand:
genesis, a task, two rounds of updates (one rejected by its committee), endorsements, a learning
block per round with attestations and rewards, a model download and an auditor's refused download.
Also an ingest run for hospital-a with a quarantined file that holds a (fake) direct identifier.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from consortium.config import ConsortiumConfig
from consortium.identity.setup import create_identities
from consortium.ledger.base import Ledger
from consortium.ledger.factory import bootstrap_ledger, open_ledger

ROLES = {
    "admin": ["admin"],
    "hospital-a": ["hospital", "verifier"],
    "hospital-b": ["hospital", "verifier"],
    "hospital-c": ["hospital", "verifier"],
    "auditor": ["auditor"],
    "agg": ["aggregator"],
    "lab": ["verifier"],
}
PASSWORD = "correct horse battery"
TASK = "heart"
FAKE_NAME = "Jane Q. Patient"


def h(text: str) -> str:
    """A stand-in digest."""
    return hashlib.sha256(text.encode()).hexdigest()


def task_record() -> dict[str, Any]:
    """The task the fixture publishes (small committee, no retargeting, SML off)."""
    return {
        "task_id": TASK, "title": "Heart disease", "cohort": "heart", "model_spec": {"kind": "mlp"},
        "metric": "auroc", "epsilon_budget": "4", "delta": "0.00001", "accountant": "prv",
        "committee_size": 2, "quorum": 2, "staleness_exponent_bp": 5000, "max_staleness": 4,
        "buffer_size": 2, "server_lr_bp": 10000, "sml": False, "target_interval_ms": 60000,
        "retarget_every": 1000, "initial_required_gain_bp": 0, "min_required_gain_bp": -50,
        "max_required_gain_bp": 500, "block_reward": 1000, "sealer_share_bp": 1000,
        "initial_model_digest": h("model-0"), "initial_blob_digest": h("blob-0"),
    }  # fmt: skip


def _round(ledgers: dict[str, Ledger], height: int, eps: str, reject: str | None) -> None:
    """Every hospital submits on ``height - 1``; committees judge; hospital-a seals ``height``."""
    accepted = []
    for name in ("hospital-a", "hospital-b", "hospital-c"):
        args = {"task_id": TASK, "base_version": height - 1, "model_digest": h(f"{name}{height}"),
                "n_samples": 200, "epsilon_spent": eps, "commitment": ""}  # fmt: skip
        update = ledgers[name].submit_ok("SubmitUpdate", args)
        uid = update["update_id"]
        ledgers[name].submit_ok(
            "RevealNonce",
            {
                "task_id": TASK,
                "update_id": uid,
                "nonce": "",
                "unmapped_digest": h(f"u{name}{height}"),
            },
        )
        bad = name == reject
        for judge in update["committee"]:
            ledgers[judge].submit_ok("Endorse", {
                "task_id": TASK, "update_id": uid, "verdict": "reject" if bad else "accept",
                "reason": "NORM_OUTLIER" if bad else "OK", "metric_bp": 7000 + height * 100,
                "scores": {"norm": 10},
            })  # fmt: skip
        if not bad:
            accepted.append(uid)
    head = ledgers["hospital-a"].evaluate("GetHead", {"task_id": TASK})
    share = [1_000_000 - 1_000_000 // len(accepted) * (len(accepted) - 1)]
    share += [1_000_000 // len(accepted)] * (len(accepted) - 1)
    proposal = ledgers["hospital-a"].submit_ok("ProposeBlock", {
        "task_id": TASK, "height": height, "parent_digest": head["model_digest"],
        "updates": accepted, "weights_ppm": [500_000] * len(accepted), "contribution_ppm": share,
        "aggregate_digest": h(f"agg{height}"), "model_digest": h(f"model-{height}"),
        "blob_digest": h(f"blob-{height}"), "next_required_gain_bp": head["required_gain_bp"],
    })  # fmt: skip
    for i, judge in enumerate(proposal["committee"]):
        ledgers[judge].submit_ok("AttestBlock", {
            "task_id": TASK, "proposal_id": proposal["proposal_id"], "verdict": "accept",
            "metric_bp": 7200 + height * 150 + i * 40, "base_metric_bp": 7000 + height * 100,
        })  # fmt: skip


def write_ingest_run(member_dir: Path) -> Path:
    """An ingest run folder: report, cohort (anonymized columns), a quarantined raw resource."""
    import pandas as pd

    run = member_dir / "ingest" / "run-1"
    (run / "quarantine").mkdir(parents=True)
    raw = {"resourceType": "Patient", "name": [{"text": FAKE_NAME}], "birthDate": "1950-13-40"}
    (run / "quarantine" / "patient-0007.json").write_text(json.dumps(raw))
    report = {
        "resources_read": 120, "resources_valid": 119, "patients": 40,
        "k_anonymity": {"k": 5, "achieved_k": 5, "suppressed_rows": 2},
        "quarantine": [{"file": "patient-0007.json",
                        "reason": f"Patient.birthDate: invalid date input_value='{FAKE_NAME}'"}],
    }  # fmt: skip
    (run / "report.json").write_text(json.dumps(report))
    frame = pd.DataFrame({"pseudonym": ["p1", "p2"], "age": [50, 61], "label": [0, 1]})
    frame.to_parquet(run / "cohort.parquet")
    return run


def make_consortium(root: Path, *, populated: bool) -> ConsortiumConfig:
    """Identities, genesis, portal passwords; with ``populated``, two rounds of learning."""
    from portal_auth import set_password

    config = create_identities(root, "testnet", ROLES)
    bootstrap_ledger(config, "admin")
    for name in ROLES:  # a cheap scrypt cost keeps the tests fast; the default is 2**17
        set_password(root / "members" / name, PASSWORD, n_log2=12)
    if not populated:
        return config
    ledgers = {name: open_ledger(config, name) for name in ROLES}
    try:
        ledgers["admin"].submit_ok("PublishTask", {"task": task_record()})
        _round(ledgers, 1, "1.5", reject="hospital-c")
        _round(ledgers, 2, "3.4", reject=None)
        ledgers["hospital-a"].submit_ok(
            "RecordDownload", {"task_id": TASK, "version": 2, "model_digest": h("model-2")}
        )
        ledgers["auditor"].submit(
            "RecordDownload", {"task_id": TASK, "version": 2, "model_digest": h("model-2")}
        )
    finally:
        for ledger in ledgers.values():
            ledger.close()
    write_ingest_run(root / "members" / "hospital-a")
    write_ingest_run(root / "members" / "lab")
    return config
