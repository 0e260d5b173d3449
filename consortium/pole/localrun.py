"""Nodes stepped in one process: the same roles as `consortium node run`, without process startup.

`run_nodes` opens one `Session` per member of a consortium directory and calls `Node.step` on each
in turn until a condition holds. Every transaction still goes through the real ledger (signed,
ordered, validated by the contract) and every blob through the real blob store and CKKS; only the
scheduling differs from one OS process per node. It is what the tests and the demo's
``--in-process`` mode use on a loaded 2-core machine, where starting five Python processes that
import torch takes longer than the learning itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from consortium.federation.session import Session

__all__ = ["open_nodes", "run_nodes", "step_all"]


def open_nodes(root: Path, members: Sequence[str]) -> list[object]:
    """A `Node` per member (hospitals, aggregator) of the consortium directory ``root``."""
    from consortium.node.open import open_session
    from consortium.node.runner import Node

    return [Node(open_session(root, m)) for m in members]


def run_nodes(
    nodes: Sequence[object],
    until: Callable[[Session], bool],
    *,
    max_seconds: float = 120.0,
    idle_sleep: float = 0.1,
) -> bool:
    """Step every node until ``until(first session)``; False when ``max_seconds`` ran out."""
    from consortium.node.runner import Node

    typed = [n for n in nodes if isinstance(n, Node)]
    watch = typed[0].s
    deadline = time.monotonic() + max_seconds
    while time.monotonic() < deadline:
        if until(watch):
            return True
        if not step_all(typed):
            time.sleep(idle_sleep)
    return until(watch)


def step_all(nodes: Sequence[object]) -> bool:
    """One `Node.step` of every node, in order; True when any of them did something."""
    from consortium.node.runner import Node

    did = False
    for node in nodes:
        assert isinstance(node, Node)
        did = node.step() or did
    return did


def height_at_least(height: int) -> Callable[[Session], bool]:
    """A condition for `run_nodes`: the task's head reached ``height``."""

    def reached(s: Session) -> bool:
        return int(s.head()["height"]) >= height

    return reached
