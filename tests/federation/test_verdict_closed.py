"""A verifier whose verdict comes after the task's ``verdict_timeout_ms``: the contract refuses
it (VERDICT_CLOSED, its seat counts as an abstention now), and the verifier moves on instead of
stopping its node (decisions/0007, "A verifier whose node is down")."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from consortium.federation import verifier
from consortium.federation.checks import Verdict
from consortium.node.state import StateDir


def test_an_endorsement_refused_as_too_late_marks_the_update_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = StateDir(tmp_path)
    view = {
        "update": {"update_id": "u1", "member_id": "h2", "committee": ["v1", "v2", "v3"],
                   "nonce": "n", "base_version": 0},
        "status": "pending",  # at the query's time; the deadline passed while v1 judged
        "endorsements": [],
    }  # fmt: skip
    sent: list[str] = []

    def submit(fn: str, args: dict[str, Any]) -> Any:
        sent.append(fn)
        return SimpleNamespace(valid=False, code="VERDICT_CLOSED", message="passed at 5 ms")

    abstain = Verdict(verdict="abstain", reason="UNMEASURABLE", metric_bp=0, scores={})
    monkeypatch.setattr(verifier, "verify_update", lambda s, update: (abstain, None))
    s = SimpleNamespace(member_id="v1", roles=frozenset({"verifier"}), task_id="heart",
                        state=state, cohort=object(), q=lambda fn, **a: view,
                        ledger=SimpleNamespace(submit=submit))  # fmt: skip

    assert verifier.verify_step(s, ["u1"])  # type: ignore[arg-type]

    assert sent == ["Endorse"]
    assert state.read_json("tasks", "heart", "verifier.json")["done"] == ["u1"]
    assert not verifier.verify_step(s, ["u1"])  # type: ignore[arg-type]  # not sent again
    assert sent == ["Endorse"]
