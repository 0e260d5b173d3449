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
import pytest

from consortium.federation.ledgerview import (
    cache_delta,
    duplicate_candidates,
    foreign_origin,
    open_delta,
    opened_delta,
    revealed_first,
    revealed_updates,
    update_delta,
)
from consortium.federation.session import LocalBlobs, Session
from consortium.federation.vault import PlainVault
from consortium.node.state import StateDir
from consortium.pole.sml import map_state, sml_layer

from .doubles import BASE, CountingVault


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


def _verify_like_the_verifier(s: Session, update: dict[str, Any]) -> list[str]:
    """The ledger reads of `verifier.verify_update`; returns the duplicate candidates' ids."""
    mapped, delta = open_delta(s, update)
    cache_delta(s, str(update["update_id"]), delta)
    ledger = [u for u, _ in revealed_updates(s, update)]
    foreign_origin(s, mapped["w0"], ledger)
    candidates = duplicate_candidates(s, delta["w0"], ledger)
    for other in candidates:  # the duplicate check opens its candidates ...
        update_delta(s, other)
    for other in ledger:  # ... the others' direction (a score) takes only what is open
        opened_delta(s, other)
    return [str(u["update_id"]) for u in candidates]


def test_each_update_is_decrypted_at_most_once_per_member(tmp_path: Path) -> None:
    # Arrange: four honest updates, a converted copy of the first, and one of this member's own
    rng = np.random.default_rng(2)
    fake = _Session(tmp_path)
    fake.vault = vault = CountingVault()
    fake.member_id = "cleveland"  # type: ignore[attr-defined]
    originals = [_delta(rng) for _ in range(4)]
    for i, d in enumerate(originals):
        fake.submit(f"m{i}", 0, d, ms=10 + i)
    # (re-encrypted under CKKS the copy's revealed blob differs from its original's by noise)
    noisy = OrderedDict(
        (k, v + rng.normal(scale=1e-9, size=v.shape)) for k, v in originals[0].items()
    )
    copy, _ = fake.submit("trudy", 0, noisy, ms=20)
    mine_delta = _delta(rng)
    mine, _ = fake.submit("cleveland", 0, mine_delta, ms=21)
    fake.state.write_arrays(mine_delta, "tasks", "heart", "own", f"{0:08d}.npz")
    s = cast(Session, fake)
    # Act: the verifier checks the updates it is drawn for (not the 2nd and 3rd) in turn
    drawn = [fake.updates[i] for i in (0, 3, 4)]
    found = {u["update_id"]: _verify_like_the_verifier(s, u) for u in drawn}
    # Assert: a blob is never decrypted twice, this member's own blobs never
    assert max(vault.calls.values()) == 1
    own_blobs = {fake.blobs.get(mine[k]) for k in ("model_digest", "unmapped_digest")}
    assert not own_blobs & set(vault.calls)
    # ... and the converted copy is found as its original's duplicate candidate, nothing else is
    assert found[copy["update_id"]] == [fake.updates[0]["update_id"]]
    assert all(ids == [] for uid, ids in found.items() if uid != copy["update_id"])


def test_the_duplicate_check_opens_only_close_first_layers(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    fake = _Session(tmp_path)
    fake.vault = vault = CountingVault()
    others = [fake.submit(f"m{i}", 0, _delta(rng), ms=i)[0] for i in range(3)]
    s = cast(Session, fake)
    near = revealed_first(s, others[1])
    assert near is not None
    # Act: candidates for a slightly perturbed copy of the second update's first layer
    got = duplicate_candidates(s, near + rng.normal(scale=1e-4, size=near.shape), others)
    # Assert: only the second; the mapped (full) blobs were never decrypted
    assert [u["update_id"] for u in got] == [others[1]["update_id"]]
    mapped_blobs = {fake.blobs.get(u["model_digest"]) for u in others}
    assert not mapped_blobs & set(vault.calls)


def test_the_score_of_other_members_decrypts_nothing(tmp_path: Path) -> None:
    # Arrange: two updates of other members, this member's own, one opened by verifying it
    rng = np.random.default_rng(4)
    fake = _Session(tmp_path)
    fake.vault = vault = CountingVault()
    fake.member_id = "cleveland"  # type: ignore[attr-defined]
    unopened, _ = fake.submit("va", 0, _delta(rng), ms=1)
    verified, _ = fake.submit("hungary", 0, d_verified := _delta(rng), ms=2)
    mine, _ = fake.submit("cleveland", 0, d_mine := _delta(rng), ms=3)
    fake.state.write_arrays(d_mine, "tasks", "heart", "own", f"{0:08d}.npz")
    s = cast(Session, fake)
    update_delta(s, verified)
    opened = len(vault.calls)
    # Act
    got = [opened_delta(s, u) for u in (unopened, verified, mine)]
    # Assert: what was opened or kept comes back, the rest is None, and nothing was decrypted
    assert got[0] is None
    assert got[1] is not None and np.allclose(got[1]["w1"], d_verified["w1"])
    assert got[2] is not None and np.allclose(got[2]["w1"], d_mine["w1"])
    assert len(vault.calls) == opened and sum(vault.calls.values()) == opened


@pytest.mark.parametrize("bad", [np.nan, np.inf, -1e297, 4.5])
@pytest.mark.parametrize("tensor", ["w0", "w1"])
def test_an_update_with_entries_no_encryption_makes_does_not_open(
    tmp_path: Path, bad: float, tensor: str
) -> None:
    # A member chooses what its blobs decrypt to: in plaintext mode any float64, under CKKS any
    # scale its values are divided by (tests/pole/test_malformed_update.py). NaN, ±inf, values
    # whose norms overflow and entries beyond what `encrypt_update` takes make no update; read
    # on, they stopped the verifier's node in its metric or its norms.
    fake = _Session(tmp_path)
    delta = _delta(np.random.default_rng(5))
    update, mapped = fake.submit("mallory", 0, delta, ms=1)
    blobs = {"model_digest": OrderedDict((k, v.astype(np.float64)) for k, v in mapped.items()),
             "unmapped_digest": OrderedDict(w0=delta["w0"].copy())}  # fmt: skip
    for field, arrays in blobs.items():  # the bad entry in each blob that holds the tensor
        if tensor in arrays:
            arrays[tensor][0, 1] = bad
            update[field] = fake.blobs.put(fake.vault.encrypt(arrays))
    s = cast(Session, fake)
    first = revealed_first(s, update)  # the duplicate and SML screens read only the first layer
    assert (first is None) if tensor == "w0" else (first is not None)
    with pytest.raises(ValueError, match="not finite or beyond"):
        open_delta(s, update)
    assert update_delta(s, update) is None  # for the references and the attester
