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


def _demo_input(folder: Path, patients: int) -> str:
    """A few demo patients as NDJSON, plus one Patient that fails validation and carries a
    (synthetic) name; returns that name, which the portal must never display."""
    from consortium.datasets.demo import demo_resources

    resources = demo_resources("switzerland")
    keep = resources["Patient"][:patients]
    ids = {f"Patient/{p['id']}" for p in keep}
    obs = [o for o in resources["Observation"] if o["subject"]["reference"] in ids]
    broken = json.loads(json.dumps(keep[0]))
    broken["id"], broken["birthDate"] = "broken-0001", "1950-13-40"
    name = f"{broken['name'][0]['given'][0]} {broken['name'][0]['family']}"
    folder.mkdir(parents=True)
    for kind, items in (("Patient", [*keep, broken]), ("Observation", obs)):
        lines = "".join(json.dumps(item) + "\n" for item in items)
        (folder / f"{kind}.ndjson").write_text(lines, encoding="utf-8")
    return name


def write_ingest_run(member_dir: Path, tmp: Path) -> str:
    """Run the real ingest into the member's folder; returns the quarantined patient's name."""
    from consortium.fhir.ingest import ingest

    name = _demo_input(tmp / f"fhir-{member_dir.name}", patients=25)
    ingest([tmp / f"fhir-{member_dir.name}"], "switzerland", "heart", member_dir / "ingest", 2)
    return name


def make_consortium(root: Path, *, populated: bool) -> str:
    """Identities, genesis, portal passwords; with ``populated``, two rounds of learning and an
    ingest run for hospital-a and lab. Returns the name in their quarantined resource."""
    from portal_auth import set_password

    config = create_identities(root, "testnet", ROLES)
    bootstrap_ledger(config, "admin")
    for name in ROLES:  # a cheap scrypt cost keeps the tests fast; the default is 2**17
        set_password(root / "members" / name, PASSWORD, n_log2=12)
    if not populated:
        return ""
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
    write_ingest_run(root / "members" / "lab", root.parent)
    return write_ingest_run(root / "members" / "hospital-a", root.parent)
