"""Test doubles: what a verifier opens (a small model, a vault that counts decryptions) and
what a sealer reads and writes (`SealerSession`)."""

from __future__ import annotations

import copy
from collections import Counter, OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from consortium.federation.vault import PlainVault
from consortium.ledger.contract.scenario import example_task
from consortium.node.settings import NodeSettings

# A two-layer model small enough to read in a failure message (4 hidden units, 3 inputs).
BASE = OrderedDict(
    [
        ("w0", np.full((4, 3), 0.1)),
        ("b0", np.zeros(4)),
        ("w1", np.ones((1, 4))),
        ("b1", np.zeros(1)),
    ]
)


class CountingVault(PlainVault):
    """A plaintext vault that counts how often each blob is decrypted."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[bytes] = Counter()

    def decrypt(self, blob: bytes) -> OrderedDict[str, np.ndarray]:
        self.calls[blob] += 1
        return super().decrypt(blob)


class SealerSession:
    """What `consortium.federation.sealer.seal_step` reads and writes, for hospital ``me`` among
    ``hospitals``: its state files in memory, the proposals its follower has read (GetProposal)
    and a clock it sets."""

    task_id, roles = "heart", ("hospital",)

    def __init__(
        self, me: str = "h1", hospitals: Sequence[str] = ("h1",), now_ms: int = 10_000
    ) -> None:
        self.member_id, self.hospitals, self.clock_ms = me, tuple(hospitals), now_ms
        self.settings = NodeSettings(sealer_timeout_seconds=2.0)
        self.vault = self.state = self
        self.can_decrypt = True
        self.files: dict[tuple[str, ...], Any] = {}
        self.proposals: dict[str, dict[str, Any]] = {}

    def read_json(self, *path: str, default: Any = None) -> Any:
        return copy.deepcopy(self.files.get(path, default))

    def write_json(self, doc: Any, *path: str) -> None:
        self.files[path] = copy.deepcopy(doc)

    def head(self) -> dict[str, Any]:
        return {"height": 1, "ms": 0, "required_gain_bp": 50, "model_digest": "m" * 64}

    def task(self) -> dict[str, Any]:
        return {**example_task("heart"), "published_by": "admin", "published_ms": 0}

    def now_ms(self) -> int:
        return self.clock_ms

    def q(self, fn: str, **args: Any) -> Any:
        if fn == "ListMembers":
            return [{"member_id": m, "roles": ["hospital"], "status": "active"}
                    for m in self.hospitals]  # fmt: skip
        assert fn == "GetProposal"
        return {"proposal": self.proposals[args["proposal_id"]]}
