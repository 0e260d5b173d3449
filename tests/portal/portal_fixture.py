"""Consortium directories for the portal's tests, all written through the real ledger.

- ``simulated``: a real short `run_simulation` (node processes, DP-SGD, CKKS, PoLe); what it holds
  depends on timing, so tests on it assert against the ledger, not against fixed values;
- ``scripted``: the simulator's own setup (identities, genesis, wrapped keys, the task and its
  encrypted version 0), then two rounds written by hand following docs/decisions/0001-protocol.md
  (one update rejected by its committee, endorsements, a learning block per round with real
  encrypted versions, attestations and rewards, a download and an auditor's refused download):
  deterministic content for exact assertions;
- ``empty``: identities and the genesis block only.

Both non-empty kinds also get the real ingest for two members, on demo FHIR with one invalid
Patient that carries a (synthetic) name the portal must never display.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from consortium.ledger.base import Ledger
from consortium.ledger.factory import bootstrap_ledger, open_ledger


@dataclass
class FakeTx:
    """A committed transaction as the portal's helpers read one (id, creator, arguments, time),
    for tests that hand them a fake ledger."""

    tx_id: str
    creator: str
    args: dict[str, Any]
    timestamp_ms: int = 1_795_000_000_000


SITES = ("cleveland", "hungary", "switzerland")
ROLES = {
    "admin": ["admin"],
    "cleveland": ["hospital", "verifier"],
    "hungary": ["hospital", "verifier"],
    "switzerland": ["hospital", "verifier"],
    "aggregator": ["aggregator"],
    "auditor": ["auditor"],
    "lab": ["verifier"],
}
HOSPITAL, REJECTED = "cleveland", "switzerland"
REVOKED = "lab"  # revoked at the end of the scripted rounds
PASSWORD = "correct horse battery"
TASK = "heart"


def h(text: str) -> str:
    """A stand-in digest."""
    return hashlib.sha256(text.encode()).hexdigest()


def _real_version(root: Path, ledger: Ledger, height: int) -> tuple[str, str]:
    """Version 0's weights nudged by ``height``, encrypted with the consortium model key and
    stored as a blob, as a sealer would: returns (model_digest, blob_digest)."""
    import numpy as np

    from consortium.blobs import open_blob_store
    from consortium.config import ConsortiumConfig
    from consortium.crypto.modelblob import decrypt_model_blob, encrypt_model_blob
    from consortium.crypto.setup import load_member_keys
    from consortium.learning.serialize import from_safetensors, to_safetensors

    config = ConsortiumConfig.load(root)
    blobs = open_blob_store(config.blobs.url, config.root)
    share = ledger.evaluate("GetShareKey", {"member_id": HOSPITAL})
    key = load_member_keys(
        config.member_msp(HOSPITAL), blobs, share["wrapped_key_digest"]
    ).model_key
    genesis = ledger.evaluate("GetVersion", {"task_id": TASK, "version": 0})
    arrays, spec = from_safetensors(decrypt_model_blob(blobs.get(genesis["blob_digest"]), key))
    nudged = {k: (v + np.float32(0.01 * height)).astype(v.dtype) for k, v in arrays.items()}
    data = to_safetensors(nudged, spec)
    return hashlib.sha256(data).hexdigest(), blobs.put(encrypt_model_blob(data, key))


def _round(
    ledgers: dict[str, Ledger], root: Path, height: int, eps: str, reject: str | None
) -> None:
    """Every hospital submits on ``height - 1``; committees judge; HOSPITAL seals ``height``."""
    accepted = []
    for name in SITES:
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
    head = ledgers[HOSPITAL].evaluate("GetHead", {"task_id": TASK})
    model_digest, blob_digest = _real_version(root, ledgers[HOSPITAL], height)
    share = [1_000_000 - 1_000_000 // len(accepted) * (len(accepted) - 1)]
    share += [1_000_000 // len(accepted)] * (len(accepted) - 1)
    proposal = ledgers[HOSPITAL].submit_ok("ProposeBlock", {
        "task_id": TASK, "height": height, "parent_digest": head["model_digest"],
        "updates": accepted, "weights_ppm": [500_000] * len(accepted), "contribution_ppm": share,
        "aggregate_digest": h(f"agg{height}"), "model_digest": model_digest,
        "blob_digest": blob_digest, "next_required_gain_bp": head["required_gain_bp"],
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


def _register(root: Path, admin: Ledger, name: str) -> None:
    from consortium.config import ConsortiumConfig
    from consortium.identity import load_identity
    from consortium.identity.setup import add_member_identity

    config = ConsortiumConfig.load(root)
    msp = add_member_identity(config, name, ROLES[name])
    config.save()
    cert = load_identity(msp, msp_id=config.msp_id).cert_pem
    admin.submit_ok("RegisterMember", {"member_id": name, "msp_id": config.msp_id,
                                       "roles": ROLES[name], "cert_pem": cert})  # fmt: skip


def _simulate(root: Path) -> None:
    """A real short simulation (node processes, DP training, CKKS, PoLe) writing ``root``: three
    hospitals send one update each; switzerland flips its update's sign. Committee 2, quorum 2:
    Switzerland's held-out rows cannot measure AUROC, so it abstains from attesting and the other
    verifier's accept decides (`attest_quorum`)."""
    from consortium.simulate.config import SimConfig
    from consortium.simulate.runner import run_simulation

    cfg = SimConfig(
        sites=SITES, attacks={REJECTED: "sign_flip"}, planned_updates=1, epochs=1,
        update_seconds=0.0, flush_seconds=0.5, max_seconds=90, buffer_size=2,
        committee_size=2, quorum=2, workdir=str(root.parent),
    )  # fmt: skip
    report = run_simulation(cfg)
    assert Path(report.workdir).resolve() == root.resolve(), report.workdir
    assert report.ledger_verified


def make_consortium(root: Path, kind: str) -> str:
    """A consortium directory at ``root`` of one ``kind``:

    - ``empty``: `consortium init` only (identities and the genesis block);
    - ``scripted``: the simulator's setup plus two hand-written rounds (deterministic content);
    - ``simulated``: a real short `run_simulation`.

    The non-empty kinds also get the auditor and lab members and two real ingest runs. Every
    portal password is set; returns the name in the quarantined resource ('' when empty).
    """
    from portal_auth import set_password

    from consortium.config import ConsortiumConfig
    from consortium.identity.setup import create_identities
    from consortium.simulate.config import SimConfig
    from consortium.simulate.setup import create_consortium

    if kind == "empty":
        bootstrap_ledger(create_identities(root, "testnet", ROLES), "admin")
    elif kind == "scripted":
        cfg = SimConfig(sites=SITES, sml=False, epsilon_budget="4", committee_size=2, quorum=2)
        create_consortium(cfg, root)
        _register_others(root)
        _learn(ConsortiumConfig.load(root), root)
    else:
        _simulate(root)
        _register_others(root)
    for name in ROLES:  # a cheap scrypt cost keeps the tests fast; the default is 2**17
        set_password(root / "members" / name, PASSWORD, n_log2=12)
    if kind == "empty":
        return ""
    write_ingest_run(root / "members" / "lab", root.parent)
    return write_ingest_run(root / "members" / HOSPITAL, root.parent)


def _register_others(root: Path) -> None:
    """Register the members a simulation does not have: an auditor and a verifier-only lab."""
    from consortium.config import ConsortiumConfig

    admin = open_ledger(ConsortiumConfig.load(root), "admin")
    try:
        for name in ("auditor", "lab"):
            _register(root, admin, name)
    finally:
        admin.close()


def _learn(config: Any, root: Path) -> None:
    ledgers = {name: open_ledger(config, name) for name in ROLES}
    try:
        _round(ledgers, root, 1, "1.5", reject=REJECTED)
        _round(ledgers, root, 2, "3.4", reject=None)
        v2 = ledgers[HOSPITAL].evaluate("GetVersion", {"task_id": TASK, "version": 2})
        download = {"task_id": TASK, "version": 2, "model_digest": v2["model_digest"]}
        ledgers[HOSPITAL].submit_ok("RecordDownload", download)
        ledgers["auditor"].submit("RecordDownload", download)
        ledgers["admin"].submit_ok("RevokeMember", {"member_id": REVOKED})
    finally:
        for ledger in ledgers.values():
            ledger.close()
