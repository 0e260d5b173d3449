"""A hospital verifier that will not train still verifies, against what the ledger accepted.

Its node may never train (its ε budget or its site's cap refuses every run, decisions/0004): it
then has no own delta to wait for (`verifier._ready`), and its norm references come from the
updates the ledger accepted (`verifier._references`), opened once and cached like any update it
verified. An update it could not compare with any norm is abstained on (`checks.decide`) and is
not a norm reference later (`verifier._remember`). A stand-in for the session (plaintext vault,
blob directory, state directory, canned ledger answers) keeps this fast;
tests/simulate/test_capped_verifier.py runs it in a consortium.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import pytest

from consortium.federation.checks import Verdict, flatten
from consortium.federation.ledgerview import revealed_updates
from consortium.federation.session import LocalBlobs, Session
from consortium.federation.verifier import _ready, _references, _remember
from consortium.node.state import StateDir
from consortium.pole.sml import map_state, sml_layer

from .doubles import BASE, CountingVault


class _Session:
    """What the verifier's reference and readiness logic uses of a `Session`."""

    def __init__(self, root: Path, member: str = "va") -> None:
        self.member_id, self.task_id = member, "heart"
        self.roles = frozenset({"hospital", "verifier"})
        self.vault = CountingVault()
        self.blobs = LocalBlobs(root / "blobs")
        self.state = StateDir(root / "state")
        self.settings = SimpleNamespace(reference_window=2, planned_updates=3)
        self.views: list[dict[str, Any]] = []
        self.revoked: set[str] = set()

    def q(self, fn: str, **args: Any) -> Any:
        if fn == "GetVersion":
            return {"model_digest": f"{args['version']:064x}"}
        if fn == "ListMembers":
            names = {v["update"]["member_id"] for v in self.views} | {self.member_id}
            return [{"member_id": m, "status": "revoked" if m in self.revoked else "active"}
                    for m in sorted(names)]  # fmt: skip
        assert fn == "ListUpdates"
        return self.views

    def version(self, height: int) -> OrderedDict[str, np.ndarray]:
        return BASE

    def submit(
        self, member: str, status: str, ms: int, scale: float = 0.05, base: int = 0,
        revealed: bool = True,
    ) -> dict[str, Any]:  # fmt: skip
        """An honest update on version ``base`` with the committee's ``status`` (revealed unless
        told otherwise)."""
        rng = np.random.default_rng(ms)
        delta = OrderedDict((k, rng.normal(scale=scale, size=v.shape)) for k, v in BASE.items())
        nonce = secrets.token_hex(32)
        mapped = map_state(delta, sml_layer(self.task_id, f"{base:064x}", member, nonce, 3))
        update = {
            "update_id": f"u{ms}", "member_id": member, "base_version": base, "nonce": nonce,
            "submitted_ms": ms, "model_digest": self.blobs.put(self.vault.encrypt(mapped)),
            "unmapped_digest": self.blobs.put(self.vault.encrypt({"w0": delta["w0"]})),
        }  # fmt: skip
        if not revealed:
            update["nonce"] = update["unmapped_digest"] = None
        self.views.append({"update": update, "status": status, "endorsements": []})
        return update


def _norms(ref: Any) -> list[float]:
    return sorted(float(np.linalg.norm(d)) for d in ref.recent_deltas)


def _refs(fake: _Session, update: dict[str, Any]) -> Any:
    s = cast(Session, fake)
    ledger = revealed_updates(s, update, fake.views)
    return _references(s, update, np.zeros((4, 3)), ledger, fake.views)


def test_without_references_of_its_own_it_takes_the_ledgers_accepted_updates(
    tmp_path: Path,
) -> None:
    # Arrange: accepted and included updates of other members, one rejected, one pending
    fake = _Session(tmp_path)
    for ms, status in [(1, "included"), (2, "accepted"), (3, "rejected"), (4, "accepted")]:
        fake.submit("cleveland" if ms % 2 else "hungary", status, ms)
    fake.submit("cleveland", "pending", 5)
    update = fake.submit("hungary", "pending", 6)  # the one being verified
    accepted = [v["update"] for v in fake.views if v["status"] in ("accepted", "included")]
    # Act
    ref = _refs(fake, update)
    # Assert: the last `reference_window` accepted ones (by submission), in the clear
    assert len(ref.recent_deltas) == 2
    expected = [flatten(fake.state.read_arrays("tasks", "heart", "ledger", f"{u['update_id']}.npz"))
                for u in accepted[-2:]]  # fmt: skip
    assert _norms(ref) == sorted(float(np.linalg.norm(d)) for d in expected)
    for d, e in zip(ref.recent_deltas, expected, strict=True):
        assert np.array_equal(d, e)
    # ... opened once: asked again, it decrypts nothing
    before = sum(fake.vault.calls.values())
    again = _refs(fake, update)
    assert sum(fake.vault.calls.values()) == before
    assert _norms(again) == _norms(ref)


def test_references_of_its_own_are_kept_as_before(tmp_path: Path) -> None:
    fake = _Session(tmp_path)
    for ms in (1, 2, 3):
        fake.submit("cleveland", "accepted", ms)
    update = fake.submit("hungary", "pending", 9)
    own = OrderedDict((k, np.full(v.shape, 0.5)) for k, v in BASE.items())
    fake.state.write_arrays(own, "tasks", "heart", "own", f"{0:08d}.npz")
    # with an own delta: that alone (nothing accepted in its memory), and no peers
    ref = _refs(fake, update)
    assert _norms(ref) == [float(np.linalg.norm(flatten(own)))]
    assert list(ref.peer_deltas) == []
    # a verifier that remembers updates it accepted (and has no own delta) uses those
    other = _Session(tmp_path / "other", member="cleveland")
    other.views = fake.views
    mine = fake.views[1]["update"]
    delta = OrderedDict((k, np.full(v.shape, 0.25)) for k, v in BASE.items())
    other.state.write_arrays(delta, "tasks", "heart", "ledger", f"{mine['update_id']}.npz")
    other.state.write_json({"accepted": [mine["update_id"]]}, "tasks", "heart", "verifier.json")
    assert _norms(_refs(other, update)) == [float(np.linalg.norm(flatten(delta)))]


def test_nothing_accepted_anywhere_leaves_no_norm_reference(tmp_path: Path) -> None:
    fake = _Session(tmp_path)
    fake.submit("cleveland", "rejected", 1)
    update = fake.submit("hungary", "pending", 2)
    assert list(_refs(fake, update).recent_deltas) == []


def _opened(fake: _Session, update: dict[str, Any]) -> np.ndarray:
    """The delta of ``update`` as this verifier cached it when it opened it."""
    cached = fake.state.read_arrays("tasks", "heart", "ledger", f"{update['update_id']}.npz")
    assert cached is not None, f"{update['update_id']} was not opened"
    return flatten(cached)


def test_with_nothing_accepted_the_peers_are_the_other_members_submissions_on_its_base(
    tmp_path: Path,
) -> None:
    # Arrange: nothing accepted anywhere. Cleveland submitted twice on version 0 (the contract
    # takes one per member and base; a ledger with two counts the later one), Switzerland after
    # the update under review, VA on version 1 and once without a reveal; Hungary's is judged.
    fake = _Session(tmp_path)
    fake.submit("cleveland", "rejected", 1)
    latest = fake.submit("cleveland", "rejected", 3)
    fake.submit("va", "pending", 4, base=1)
    update = fake.submit("hungary", "pending", 5)
    fake.submit("va", "pending", 6, revealed=False)
    later = fake.submit("switzerland", "pending", 8)
    # Act
    ref = _refs(fake, update)
    # Assert: no norm reference of its own or the ledger's, and one peer per other member on the
    # update's base, revealed, in the order they were submitted
    assert list(ref.recent_deltas) == []
    assert len(ref.peer_deltas) == 2
    for got, peer in zip(ref.peer_deltas, [latest, later], strict=True):
        assert np.array_equal(got, _opened(fake, peer))
    # ... each opened once: asked again, it decrypts nothing
    before = sum(fake.vault.calls.values())
    again = _refs(fake, update)
    assert sum(fake.vault.calls.values()) == before
    assert [float(np.linalg.norm(d)) for d in again.peer_deltas] == [
        float(np.linalg.norm(d)) for d in ref.peer_deltas
    ]


def test_a_revoked_members_submissions_are_no_peers(tmp_path: Path) -> None:
    """Revocation takes a member out of the consortium's judgement (0001, "Revocation"): what it
    submitted before is no reference for anyone else's norm, and it is not opened for that."""
    fake = _Session(tmp_path)
    gone = fake.submit("cleveland", "pending", 1, scale=0.5)  # ×10 of the others, say
    kept = [fake.submit("switzerland", "pending", 2), fake.submit("va", "pending", 3)]
    update = fake.submit("hungary", "pending", 4)
    fake.revoked.add("cleveland")

    ref = _refs(fake, update)

    assert len(ref.peer_deltas) == 2
    for got, peer in zip(ref.peer_deltas, kept, strict=True):
        assert np.array_equal(got, _opened(fake, peer))
    assert fake.vault.calls[fake.blobs.get(gone["model_digest"])] == 0


def test_once_the_ledger_accepted_an_update_the_peers_are_not_opened(tmp_path: Path) -> None:
    fake = _Session(tmp_path)
    accepted = fake.submit("cleveland", "accepted", 1)
    peers = [fake.submit("switzerland", "pending", 2), fake.submit("va", "rejected", 3)]
    update = fake.submit("hungary", "pending", 4)

    ref = _refs(fake, update)

    assert list(ref.peer_deltas) == []
    assert np.array_equal(ref.recent_deltas[0], _opened(fake, accepted))
    for peer in peers:  # not a single decryption of their whole deltas
        assert fake.vault.calls[fake.blobs.get(peer["model_digest"])] == 0


@pytest.mark.parametrize(
    ("subs", "ready"),
    [
        ({}, False),  # not trained yet: it waits for its first delta, as before
        ({"0": {"base": 0, "nonce": "ab", "started": 1.0}}, False),  # training
        ({"0": {"base": 0, "status": "refused", "reason": "site cap"}}, True),
        ({"0": {"base": 0, "status": "spent", "reason": "task budget"}}, True),
        ({"0": {"base": 0, "status": "abandoned", "code": "BUDGET_EXCEEDED"}}, True),
        ({"0": {"base": 0, "status": "abandoned", "code": "STALE_BASE"}}, False),
    ],
)
def test_a_hospital_that_will_not_train_does_not_wait_for_its_own_delta(
    tmp_path: Path, subs: dict[str, Any], ready: bool
) -> None:
    fake = _Session(tmp_path)
    fake.state.write_json(subs, "tasks", "heart", "submissions.json")
    assert _ready(cast(Session, fake)) is ready
    fake.state.write_arrays(BASE, "tasks", "heart", "own", f"{0:08d}.npz")
    assert _ready(cast(Session, fake))  # with an own delta it verifies, whatever it refused


def test_only_updates_whose_norm_was_compared_become_norm_references(tmp_path: Path) -> None:
    fake = _Session(tmp_path)
    s = cast(Session, fake)
    norm = {"norm_ppm": 50_000, "norm_ratio_bp": 10_000, "norm_z_bp": 0}
    verdicts = {
        "accepted": Verdict(verdict="accept", reason="OK", metric_bp=8000, scores=norm),
        # no direction check could run (version 0, unmeasurable metric): its norm was compared
        "blind": Verdict(verdict="abstain", reason="UNMEASURABLE", metric_bp=8000, scores=norm),
        # no norm reference: it might be a ×10 update
        "unnormed": Verdict(
            verdict="abstain", reason="UNMEASURABLE", metric_bp=8000, scores={"norm_ppm": 500_000}
        ),
        "rejected": Verdict(verdict="reject", reason="NORM_OUTLIER", metric_bp=0, scores=norm),
        # judged against the other members' submissions on the base: not a reference, however
        # it went (a majority of ×10 submitters would make a ×10 update one)
        "peers": Verdict(
            verdict="accept", reason="OK", metric_bp=8000, scores={**norm, "norm_peers": 2}
        ),
    }
    for uid, verdict in verdicts.items():
        _remember(s, uid, verdict)
    mem = fake.state.read_json("tasks", "heart", "verifier.json")
    assert mem["accepted"] == ["accepted", "blind"]
    assert mem["done"] == list(verdicts)
