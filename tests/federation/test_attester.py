"""The attester's refusal of a post-dated proposal (its interval sets the PoLe bar it is judged
against), with a session that holds only what `attest_step` reads."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from consortium.federation import attester
from consortium.ledger.base import TxResult
from consortium.node.settings import NodeSettings


class _Node:
    task_id, member_id, roles = "heart", "v1", ("verifier",)

    def __init__(self, proposal_ms: int, now_ms: int) -> None:
        self.settings = NodeSettings(max_clock_skew_seconds=60.0)
        # held-out rows of one class: the attester cannot measure AUROC and abstains when the
        # proposal checks out, so no model is evaluated here
        self.cohort = SimpleNamespace(y_test=np.ones(20))
        self.vault = SimpleNamespace(can_decrypt=True)
        self.proposal = {"proposal_id": "p1", "status": "open", "committee": ["v1", "v2"],
                         "ms": proposal_ms, "height": 1}  # fmt: skip
        self._now_ms, self.files, self.sent = now_ms, {}, []  # type: ignore[var-annotated]
        self.state, self.ledger = self, self

    def read_json(self, *path: str, default: Any = None) -> Any:
        return self.files.get(path, default)

    def write_json(self, doc: Any, *path: str) -> None:
        self.files[path] = doc

    def now_ms(self) -> int:
        return self._now_ms

    def q(self, fn: str, **args: Any) -> Any:
        assert fn == "GetProposal" and args["proposal_id"] == "p1"
        return {"proposal": self.proposal, "attestations": []}

    def submit(self, fn: str, args: dict[str, Any]) -> TxResult:
        assert fn == "AttestBlock"
        self.sent.append(args)
        return TxResult(tx_id="t", code="VALID")


@pytest.mark.parametrize(
    ("ahead_ms", "verdict"),
    [(0, "abstain"), (60_000, "abstain"), (60_001, "reject"), (3_600_000, "reject")],
)
def test_a_proposal_stamped_beyond_the_skew_ahead_of_the_attesters_clock_is_rejected(
    monkeypatch: pytest.MonkeyPatch, ahead_ms: int, verdict: str
) -> None:
    monkeypatch.setattr(attester, "_consistent", lambda s, p: True)  # the blob checks out
    node = _Node(proposal_ms=1_000_000 + ahead_ms, now_ms=1_000_000)

    assert attester.attest_step(node, ["p1"])  # type: ignore[arg-type]

    assert [a["verdict"] for a in node.sent] == [verdict]
