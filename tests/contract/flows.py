"""Multi-step flows for the contract tests: an accepted update, a finalized block."""

from __future__ import annotations

import hashlib
from typing import Any

from consortium.ledger.contract._updates import sml_commitment
from consortium.ledger.contract.scenario import Scenario, fake_digest
from consortium.pole.difficulty import next_required_gain


def nonce(label: str) -> str:
    """A 32-byte hex nonce."""
    return hashlib.sha256(label.encode()).hexdigest()


def submit(sc: Scenario, who: str, base: int = 0, eps: str = "1", task: str = "heart") -> Any:
    """SubmitUpdate with an SML commitment; returns the Update."""
    return sc.ok(who, "SubmitUpdate", submit_args(who, base, eps, task))


def submit_args(who: str, base: int = 0, eps: str = "1", task: str = "heart") -> Any:
    """SubmitUpdate args whose commitment `reveal` opens."""
    return {
        "task_id": task,
        "base_version": base,
        "model_digest": fake_digest(f"{who} {base}"),
        "n_samples": 100,
        "epsilon_spent": eps,
        "commitment": sml_commitment(nonce(f"{who} {base}")),
    }


def reveal(sc: Scenario, update: Any) -> Any:
    """RevealNonce by the submitter."""
    args = {
        "task_id": update["task_id"],
        "update_id": update["update_id"],
        "nonce": nonce(f"{update['member_id']} {update['base_version']}"),
        "unmapped_digest": fake_digest("unmapped"),
    }
    return sc.ok(update["member_id"], "RevealNonce", args)


def endorse(sc: Scenario, update: Any, who: str, verdict: str = "accept") -> Any:
    """Endorse as ``who``."""
    args = {
        "task_id": update["task_id"],
        "update_id": update["update_id"],
        "verdict": verdict,
        "reason": {"accept": "OK", "abstain": "UNMEASURABLE"}.get(verdict, "METRIC_DROP"),
        "metric_bp": 7000,
        "scores": {},
    }
    return sc.run(who, "Endorse", args)


def accepted_update(sc: Scenario, who: str, base: int = 0) -> Any:
    """Submit, reveal and get a quorum of accepts."""
    update = submit(sc, who, base)
    reveal(sc, update)
    for member in update["committee"][: update["quorum"]]:
        assert endorse(sc, update, member).valid
    return update


def proposal_args(sc: Scenario, updates: list[Any], task: str = "heart", **kw: Any) -> Any:
    """ProposeBlock args for the next height, with the difficulty the contract expects
    (the scenario clock advances one step before the proposal runs)."""
    head = sc.ok("admin", "GetHead", {"task_id": task}, after_ms=0)
    versions = sc.ok("admin", "ListVersions", {"task_id": task}, after_ms=0)
    task_record = sc.ok("admin", "GetTask", {"task_id": task}, after_ms=0)
    height = head["height"] + 1
    r = task_record["retarget_every"]
    interval = sc.now_ms + sc.step_ms - head["ms"]
    window = [v["interval_ms"] for v in versions[height - r + 1 : height]] + [interval]

    class Params:
        target_interval_ms = task_record["target_interval_ms"]
        retarget_every = r
        min_required_gain_bp = task_record["min_required_gain_bp"]
        max_required_gain_bp = task_record["max_required_gain_bp"]

    n = len(updates)
    contribution = [1_000_000 // n] * n
    contribution[-1] += 1_000_000 - sum(contribution)
    args = {
        "task_id": task,
        "height": height,
        "parent_digest": head["model_digest"],
        "updates": [u["update_id"] for u in updates],
        "weights_ppm": [500_000] * n,
        "contribution_ppm": contribution,
        "aggregate_digest": fake_digest(f"aggregate {height}"),
        "model_digest": fake_digest(f"model {height}"),
        "blob_digest": fake_digest(f"blob {height}"),
        "next_required_gain_bp": next_required_gain(
            Params(), head["required_gain_bp"], window, height
        ),
    }
    args.update(kw)
    return args


def finalize(sc: Scenario, proposal: Any, gains: tuple[int, ...] = (300, 200)) -> Any:
    """Accept attestations from the committee with ``gains``; returns the last result."""
    result = None
    for member, gain in zip(proposal["committee"], gains, strict=False):
        args = {
            "task_id": proposal["task_id"],
            "proposal_id": proposal["proposal_id"],
            "verdict": "accept",
            "metric_bp": 7000 + gain,
            "base_metric_bp": 7000,
        }
        result = sc.ok(member, "AttestBlock", args)
    return result
