"""A hospital's node says, once, when it has sent every update its ε budget was paced over.

The pacing spreads the task's budget over `planned_updates` updates, so the node normally stops
training without the accountant refusing anything: it used to fall silent, and an admin watching
it could not tell a node that is done from one that is stuck."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from consortium.node import runner
from consortium.node.runner import Node
from consortium.node.state import StateDir


def _session(tmp_path: Path, sent: int, **extra: Any) -> SimpleNamespace:
    state = StateDir(tmp_path)
    subs = {
        str(base): {
            "base": base,
            "update_id": f"{base:064x}",
            "epsilon": f"{base + 1}.5",
            "revealed": True,
        }
        for base in range(sent)
    }
    state.write_json(subs, "tasks", "heart", "submissions.json")
    return SimpleNamespace(
        ledger=SimpleNamespace(transactions=lambda start: iter([])),
        state=state,
        task_id="heart",
        member_id="cleveland",
        roles=frozenset({"hospital", "verifier"}),
        cohort=object(),
        settings=SimpleNamespace(planned_updates=2, poll_seconds=0),
        task=lambda: {"epsilon_budget": "3"},
        **extra,
    )


@pytest.fixture
def idle_roles(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every role's step finds nothing to do: only what `Node.step` says itself is left."""
    for step in ("train_step", "verify_step", "aggregate_step", "seal_step", "attest_step"):
        monkeypatch.setattr(runner, step, lambda *args: False)


@pytest.mark.usefixtures("idle_roles")
def test_a_node_that_sent_its_planned_updates_says_so_once(tmp_path: Path) -> None:
    lines: list[str] = []
    node = Node(_session(tmp_path, sent=2), report=lines.append)  # type: ignore[arg-type]

    node.step()
    node.step()

    assert lines == [
        "cleveland: sent the 2 updates its ε budget was paced over (ε so far 2.5 of 3 on task "
        "heart): it trains no more on this task, and the node goes on with its other work"
    ]


@pytest.mark.usefixtures("idle_roles")
def test_a_node_with_updates_left_says_nothing(tmp_path: Path) -> None:
    lines: list[str] = []

    Node(_session(tmp_path, sent=1), report=lines.append).step()  # type: ignore[arg-type]

    assert lines == []
