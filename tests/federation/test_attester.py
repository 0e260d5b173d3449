"""The attester's refusal of a post-dated proposal (its interval sets the PoLe bar it is judged
against), with a session that holds only what `attest_step` reads; and its check of a version
against the updates in the clear."""

from __future__ import annotations

from collections import OrderedDict
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
    ("ahead_ms", "verdict", "reason"),
    [(0, "abstain", None), (60_000, "abstain", None), (60_001, "reject", "PROPOSAL_LATE"),
     (3_600_000, "reject", "PROPOSAL_LATE")],
)  # fmt: skip
def test_a_proposal_stamped_beyond_the_skew_ahead_of_the_attesters_clock_is_rejected(
    monkeypatch: pytest.MonkeyPatch, ahead_ms: int, verdict: str, reason: str | None
) -> None:
    monkeypatch.setattr(attester, "_consistent", lambda s, p: None)  # the blob checks out
    node = _Node(proposal_ms=1_000_000 + ahead_ms, now_ms=1_000_000)

    assert attester.attest_step(node, ["p1"])  # type: ignore[arg-type]

    assert [(a["verdict"], a.get("reason")) for a in node.sent] == [(verdict, reason)]


def test_a_reject_says_which_check_the_proposal_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    # the reason goes on the ledger with the reject (AttestBlock.reason), for auditors; an accept
    # or an abstention carries none (the contract refuses one)
    monkeypatch.setattr(attester, "_consistent", lambda s, p: "VERSION_MISMATCH")
    node = _Node(proposal_ms=1_000_000, now_ms=1_000_000)

    assert attester.attest_step(node, ["p1"])  # type: ignore[arg-type]

    (sent,) = node.sent
    assert (sent["verdict"], sent["reason"]) == ("reject", "VERSION_MISMATCH")


def test_a_proposal_closed_while_it_was_checked_is_not_attested(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The quorum may come while this attester checks: its attestation would only be refused
    (PROPOSAL_CLOSED) and stay on the ledger as an invalid transaction (the demo had two)."""
    node = _Node(proposal_ms=1_000_000, now_ms=1_000_000)

    def consistent(s: Any, p: dict[str, Any]) -> str | None:
        node.proposal = {**node.proposal, "status": "final"}  # the others' attestations land
        return None

    monkeypatch.setattr(attester, "_consistent", consistent)

    assert attester.attest_step(node, ["p1"])  # type: ignore[arg-type]

    assert node.sent == []
    assert not attester.attest_step(node, ["p1"])  # type: ignore[arg-type]  # done with it


class _Checks:
    """A session for `_consistent` whose blob, weights and weighted mean all check out."""

    task_id = "heart"

    def __init__(self) -> None:
        self.blobs = SimpleNamespace(get=lambda digest: b"sealed version")
        self.vault = SimpleNamespace(open_model=lambda blob: b"version bytes")

    def q(self, fn: str, **args: Any) -> Any:
        return {"update": {"update_id": args["update_id"], "base_version": 0}}

    def task(self) -> dict[str, Any]:
        return {"server_lr_bp": 10_000, "staleness_exponent_bp": 5_000}

    def version(self, height: int) -> dict[str, Any]:
        return {}


def _every_check_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Everything an attester recomputes in the clear checks out: the weights, the updates'
    deltas, the weighted mean, and the version's bytes (b"version bytes")."""
    from consortium.federation import aggregator, ledgerview, versions
    from consortium.learning import serialize

    monkeypatch.setattr(aggregator, "weights_as_ledger_says", lambda s, p, h: True)
    monkeypatch.setattr(ledgerview, "update_delta", lambda s, u: {})
    monkeypatch.setattr(versions, "is_weighted_mean", lambda *a: True)
    monkeypatch.setattr(serialize, "from_safetensors", lambda data: ({}, None))
    monkeypatch.setattr(serialize, "to_safetensors", lambda arrays: b"version bytes")


@pytest.mark.parametrize(("aggregate_id", "failed"), [("", "NO_AGGREGATE"), ("a" * 64, None)])
def test_a_proposal_that_names_no_posted_aggregate_is_not_consistent(
    monkeypatch: pytest.MonkeyPatch, aggregate_id: str, failed: str | None
) -> None:
    # Everything an attester recomputes in the clear checks out. Without an aggregate_id the
    # contract does not bind aggregate_digest to the aggregator's sum, so the block would record a
    # digest nobody can recompute (`consortium trace` fails on it for good): reject it.
    from consortium.canonical import sha256_hex

    _every_check_passes(monkeypatch)
    proposal = {
        "height": 1, "updates": ["u1"], "weights_ppm": [1_000_000],
        "model_digest": sha256_hex(b"version bytes"), "blob_digest": "b" * 64,
        "aggregate_id": aggregate_id, "aggregate_digest": "c" * 64,
    }  # fmt: skip

    assert attester._consistent(_Checks(), proposal) == failed  # type: ignore[arg-type]


def _broken(exc: Exception) -> Any:
    def fail(*args: Any) -> Any:
        raise exc

    return fail


def _check_fails(monkeypatch: pytest.MonkeyPatch, check: str) -> _Checks:
    """A `_Checks` session (all checks passing) where ``check`` fails, as the sealer or the store
    can make it fail."""
    from safetensors import SafetensorError

    from consortium.blobs.base import BlobCorruptedError, BlobNotFoundError
    from consortium.federation import aggregator, ledgerview, versions
    from consortium.federation.vault import VaultError
    from consortium.learning import serialize

    session = _Checks()
    corrupted = BlobCorruptedError("b" * 64, "0" * 64, "kept")
    patches: dict[str, tuple[Any, str, Any]] = {
        "blob-missing": (session.blobs, "get", _broken(BlobNotFoundError("b" * 64))),
        "blob-corrupted": (session.blobs, "get", _broken(corrupted)),
        "blob-undecryptable": (session.vault, "open_model", _broken(VaultError("tag"))),
        "digest": (session.vault, "open_model", lambda blob: b"other bytes"),
        "weights": (aggregator, "weights_as_ledger_says", lambda s, p, h: False),
        "update-unopened": (ledgerview, "update_delta", lambda s, u: None),
        "update-corrupted": (ledgerview, "update_delta", _broken(corrupted)),
        "not-a-model": (serialize, "from_safetensors", _broken(SafetensorError("header"))),
        "other-bytes": (serialize, "to_safetensors", lambda arrays: b"float64 bytes"),
        "not-the-mean": (versions, "is_weighted_mean", lambda *a: False),
        "mean-of-other-shapes": (versions, "is_weighted_mean", _broken(ValueError("shapes"))),
    }
    target, name, value = patches.get(check, (None, "", None))
    if target is not None:
        monkeypatch.setattr(target, name, value)
    return session


@pytest.mark.parametrize(
    ("check", "reason"),
    [("none", None), ("blob-missing", "BLOB_UNREADABLE"), ("blob-corrupted", "BLOB_UNREADABLE"),
     ("blob-undecryptable", "BLOB_UNREADABLE"), ("digest", "MODEL_DIGEST_MISMATCH"),
     ("weights", "WEIGHTS_MISMATCH"), ("update-unopened", "UPDATE_UNREADABLE"),
     ("update-corrupted", "UPDATE_UNREADABLE"), ("not-a-model", "NOT_CANONICAL"),
     ("other-bytes", "NOT_CANONICAL"), ("not-the-mean", "VERSION_MISMATCH"),
     ("mean-of-other-shapes", "VERSION_MISMATCH")],
)  # fmt: skip
def test_consistent_names_the_check_a_proposal_fails(
    monkeypatch: pytest.MonkeyPatch, check: str, reason: str | None
) -> None:
    # what goes on the ledger as the reject's reason: an exception a check raises on what the
    # sealer named (a blob the store lacks, bytes that do not parse) fails that check
    from consortium.canonical import sha256_hex

    _every_check_passes(monkeypatch)
    session = _check_fails(monkeypatch, check)
    proposal = {
        "height": 1, "updates": ["u1"], "weights_ppm": [1_000_000],
        "model_digest": sha256_hex(b"version bytes"), "blob_digest": "b" * 64,
        "aggregate_id": "a" * 64, "aggregate_digest": "c" * 64,
    }  # fmt: skip

    assert attester._consistent(session, proposal) == reason  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "entries",
    [[np.inf], [-np.inf], [np.nan], [1e308, 1e308]],  # the last two overflow when weighted
    ids=["inf", "-inf", "nan", "overflow"],
)
def test_no_version_is_the_weighted_mean_of_deltas_that_are_not_finite(
    entries: list[float],
) -> None:
    # An attester compares the proposed version with the weighted mean of the deltas in the
    # clear, within a bound that grows with the mean: where the mean was infinite, so was the
    # bound, and the sealer could put any number there.
    from consortium.federation.versions import is_weighted_mean

    base = OrderedDict(w=np.zeros((3, 2), dtype=np.float32))
    deltas = []
    for entry in entries:
        delta = OrderedDict(w=np.full((3, 2), 0.01))
        delta["w"][1, 1] = entry
        deltas.append(delta)
    weights = [1_000_000] * len(deltas)
    for chosen in (0.0, 7.0, np.inf):
        version = OrderedDict(w=np.full((3, 2), 0.01, dtype=np.float32))  # the mean elsewhere
        version["w"][1, 1] = chosen
        fresh = [1_000_000] * len(deltas)
        assert not is_weighted_mean(version, base, deltas, weights, 10_000, fresh), chosen
