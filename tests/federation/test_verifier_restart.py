"""A verifier killed between its endorsement and remembering it resumes with the same references."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from consortium.federation.checks import Verdict
from consortium.federation.verifier import verify_step
from consortium.node.state import StateDir


def test_an_update_endorsed_just_before_a_kill_stays_a_norm_reference(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    accepted = Verdict(verdict="accept", reason="OK", metric_bp=8000, scores={"norm_ppm": 9})
    # what verify_step leaves on disk when killed after Endorse committed, before `_remember`:
    # the verdict (written before endorsing) and the opened delta in the ledger cache
    state.write_json(accepted.model_dump(), "tasks", "heart", "verdicts", "u1.json")
    view = {
        "update": {"update_id": "u1", "member_id": "h2", "committee": ["v1", "v2", "v3"],
                   "nonce": "n", "base_version": 0},
        "status": "pending",
        "endorsements": [{"member_id": "v1", "verdict": "accept", "ms": 1}],
    }  # fmt: skip

    def q(fn: str, **args: Any) -> Any:
        assert (fn, args["update_id"]) == ("GetUpdate", "u1")
        return view

    s = SimpleNamespace(member_id="v1", roles=frozenset({"verifier"}), task_id="heart",
                        state=state, cohort=object(), q=q)  # fmt: skip
    verify_step(s, ["u1"])  # type: ignore[arg-type]
    mem = state.read_json("tasks", "heart", "verifier.json")
    assert mem["accepted"] == ["u1"]  # a norm reference, as without the kill
    assert mem["done"] == ["u1"] and mem["seen"] == ["u1"]
    assert not verify_step(s, ["u1"])  # type: ignore[arg-type]  # and nothing to do again
    assert state.read_json("tasks", "heart", "verifier.json") == mem
