"""Run transactions against an in-memory world state as named identities, with a clock.

A small driver for tests, the vectors generator (`data_schemas/vectors/generate.py`) and anyone
who wants the contract without a ledger: deterministic transaction ids and timestamps, so that the
same script always produces the same states.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from consortium.ledger.base import Creator
from consortium.ledger.contract.contract import ConsortiumContract
from consortium.ledger.contract.memory import MemoryState, Outcome, execute

START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def example_task(task_id: str = "heart", **overrides: Any) -> dict[str, Any]:
    """A valid `PublishTask.task` argument; ``overrides`` replace fields."""
    task: dict[str, Any] = {
        "task_id": task_id,
        "title": "Coronary disease, UCI Heart Disease cohort",
        "cohort": "heart-uci",
        "model_spec": {"kind": "mlp", "hidden": [16], "inputs": 10},
        "metric": "auroc",
        "epsilon_budget": "8",
        "delta": "0.00001",
        "accountant": "prv",
        "committee_size": 3,
        "quorum": 2,
        "staleness_exponent_bp": 5000,
        "max_staleness": 4,
        "buffer_size": 2,
        "server_lr_bp": 10000,
        "sml": True,
        "target_interval_ms": 60_000,
        "retarget_every": 2,
        "min_interval_bp": 0,
        "initial_required_gain_bp": 50,
        "min_required_gain_bp": -100,
        "max_required_gain_bp": 2000,
        "block_reward": 1000,
        "sealer_share_bp": 1000,
        "initial_model_digest": hashlib.sha256(b"initial model").hexdigest(),
        "initial_blob_digest": hashlib.sha256(b"initial blob").hexdigest(),
        "verification_set_digest": None,
    }
    task.update(overrides)
    return task


def fake_digest(label: str) -> str:
    """A stand-in SHA-256 for a blob named ``label``."""
    return hashlib.sha256(label.encode()).hexdigest()


class Scenario:
    """A memory world state, a clock and a transaction counter."""

    def __init__(
        self,
        identities: Mapping[str, Creator],
        *,
        start_ms: int = START_MS,
        step_ms: int = 1000,
        state: MemoryState | None = None,
    ) -> None:
        self.identities = dict(identities)
        self.state = state or MemoryState()
        self.contract = ConsortiumContract()
        self.now_ms = start_ms
        self.step_ms = step_ms
        self.counter = 0

    def next_tx_id(self) -> str:
        """A deterministic 64-hex transaction id (Fabric ids have this shape)."""
        self.counter += 1
        return hashlib.sha256(f"consortium/scenario-tx/{self.counter}".encode()).hexdigest()

    def run(
        self,
        who: str,
        fn: str,
        args: dict[str, Any],
        *,
        tx_id: str | None = None,
        after_ms: int | None = None,
    ) -> Outcome:
        """Run ``fn`` as identity ``who``; the clock advances by ``after_ms`` (default step)."""
        self.now_ms += self.step_ms if after_ms is None else after_ms
        query = self.contract.is_query(fn)
        return execute(
            self.contract, self.state, fn, args, creator=self.identities[who],
            tx_id=tx_id or self.next_tx_id(), timestamp_ms=self.now_ms, query=query,
        )  # fmt: skip

    def ok(self, who: str, fn: str, args: dict[str, Any], **kwargs: Any) -> Any:
        """Run and return the result; raise AssertionError if the contract refused."""
        outcome = self.run(who, fn, args, **kwargs)
        if not outcome.valid:
            raise AssertionError(f"{fn} by {who} refused: {outcome.code}: {outcome.message}")
        return outcome.result
