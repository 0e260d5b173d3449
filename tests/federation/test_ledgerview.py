"""The verifier's ledger view: earlier revealed updates, and whose layer a blob was made behind.

A stand-in for the session (plaintext vault, blob directory, state directory, canned ledger
answers) keeps this fast; tests/pole/test_freeride.py runs the same code on the real ledger.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from pathlib import Path
from typing import Any, cast

import numpy as np

from consortium.federation.ledgerview import foreign_origin, revealed_updates, update_delta
from consortium.federation.session import LocalBlobs, Session
from consortium.federation.vault import PlainVault
from consortium.node.state import StateDir
from consortium.pole.sml import map_state, sml_layer

BASE = OrderedDict(
    [
        ("w0", np.full((4, 3), 0.1)),
        ("b0", np.zeros(4)),
        ("w1", np.ones((1, 4))),
        ("b1", np.zeros(1)),
    ]
)


class _Session:
    """What ledgerview uses of a `Session`."""

    def __init__(self, root: Path) -> None:
        self.task_id = "heart"
        self.vault = PlainVault()
        self.blobs = LocalBlobs(root / "blobs")
        self.state = StateDir(root / "state")
        self.updates: list[dict[str, Any]] = []

    def q(self, fn: str, **args: Any) -> Any:
        if fn == "GetVersion":
            return {"model_digest": f"{args['version']:064x}"}
        assert fn == "ListUpdates"
        return [{"update": u, "status": "accepted"} for u in self.updates]

    def version(self, height: int) -> OrderedDict[str, np.ndarray]:
        return BASE

    def submit(self, member: str, base: int, delta: OrderedDict[str, np.ndarray], ms: int) -> Any:
        """An honest update: trained behind its own layer, revealed consistently."""
        nonce = secrets.token_hex(32)
        layer = sml_layer(self.task_id, f"{base:064x}", member, nonce, 3)
        mapped = map_state(delta, layer)
        update = {
            "update_id": f"u{len(self.updates)}", "member_id": member, "base_version": base,
            "nonce": nonce, "submitted_ms": ms,
            "model_digest": self.blobs.put(self.vault.encrypt(mapped)),
            "unmapped_digest": self.blobs.put(self.vault.encrypt({"w0": delta["w0"]})),
        }  # fmt: skip
        self.updates.append(update)
        return update, mapped


def _delta(rng: np.random.Generator) -> OrderedDict[str, np.ndarray]:
    return OrderedDict((k, rng.normal(scale=0.05, size=v.shape)) for k, v in BASE.items())


def test_a_copied_blob_names_its_original(tmp_path: Path) -> None:
    # Arrange: two honest updates on the ledger
    rng = np.random.default_rng(0)
    fake = _Session(tmp_path)
    original, mapped = fake.submit("hungary", 1, _delta(rng), ms=10)
    other, other_mapped = fake.submit("va", 1, _delta(rng), ms=11)
    s = cast(Session, fake)
    # Act / Assert: the copied mapped first layer fits the original's revealed layer only
    others = [original, other]
    assert foreign_origin(s, mapped["w0"], others) == original["update_id"]
    assert foreign_origin(s, other_mapped["w0"], [original]) is None
    assert foreign_origin(s, _delta(rng)["w0"], others) is None


def test_only_earlier_revealed_updates_and_their_deltas_are_cached(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    fake = _Session(tmp_path)
    first, _ = fake.submit("cleveland", 0, d1 := _delta(rng), ms=5)
    mine, _ = fake.submit("hungary", 0, _delta(rng), ms=7)
    fake.submit("va", 0, _delta(rng), ms=9)  # later than ``mine``
    s = cast(Session, fake)
    seen = revealed_updates(s, mine)
    assert [u["update_id"] for u, _ in seen] == [first["update_id"]]
    delta = update_delta(s, first)
    assert delta is not None and np.allclose(delta["w1"], d1["w1"])
    assert np.allclose(delta["w0"], d1["w0"])  # the revealed (unmapped) first layer
    assert fake.state.path("tasks", "heart", "ledger", f"{first['update_id']}.npz").is_file()
