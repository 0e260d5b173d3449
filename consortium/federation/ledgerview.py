"""A verifier's view of every revealed update of a task on the ledger, in unmapped coordinates.

A verifier that only remembered the updates it verified itself would miss a converted copy of an
update drawn to another committee (with 3 verifiers of 4 members, about one committee in six
never saw the original). Every member may decrypt every update (the aggregator alone cannot), so
the verifier opens each revealed update of the task once, forms its unmapped delta (mapped blob
with the revealed first layer swapped in) and caches it under
``tasks/<task>/ledger/<update_id>.npz`` in its private state: an update's blobs never change
once revealed (content-addressed), so the cache never goes stale.

A submitted blob is opened with `Vault.open_update`, which refuses ciphertexts the aggregator
could not sum with the others (`consortium.crypto.update.check_submission`) and ciphertexts that
would sum as something else than they open to (`consortium.crypto.update.open_submission`: other
residues modulo q1 than modulo q0, values in slots past the update's). What opens is an
update only if every entry is a number `encrypt_update` takes (finite, within ±`MAX_ENTRY`): a
member writes its own blobs (in plaintext mode any float64; under CKKS, the scale a decoded value
is divided by too) and can make them open to NaN, ±inf or 1e297 (tests/pole/
test_malformed_update.py). Such a blob is unusable like one that does not decrypt: `open_delta`
raises ValueError and the verifier names it ``BAD_BLOB``; read on, it stopped the verifier's node
in its metric (NaN predictions) or its norms (overflow).

It also answers whose layer a mapped model was made behind (`foreign_origin`): a copied or
replayed mapped blob reproduces *another* update's revealed first layer when multiplied by that
update's layer (rebuilt from the nonce revealed on the ledger), which no independently trained
model does. That names the original, and is the SML check of 0001 for a submitter who reveals a
consistent first layer (docs/decisions/0007-bafl.md).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

from consortium.crypto.params import MAX_ABS_VALUE
from consortium.federation.session import Session
from consortium.federation.vault import VaultError
from consortium.federation.versions import SUM_TOLERANCE

__all__ = [
    "MAX_ENTRY",
    "cache_delta",
    "cached_delta",
    "duplicate_candidates",
    "foreign_origin",
    "open_delta",
    "opened_delta",
    "peer_submissions",
    "revealed_first",
    "revealed_updates",
    "revoked_members",
    "update_delta",
]

Arrays = OrderedDict[str, np.ndarray]

# Relative tolerance of "this blob times that layer is that update's revealed first layer": CKKS
# noise is ~1e-8 relative to an honest first-layer delta, an unrelated pair is off by ~100 %.
ORIGIN_REL_TOL = 1e-3

# A replayed or converted copy is an (near) exact duplicate in every layer, so its revealed first
# layer is too (cosine > 0.99, `checks.Thresholds.duplicate_cosine` is 0.995 on the whole delta).
# Only an earlier update whose first layer is this close is opened in full for the duplicate
# check; the bound is loose on purpose (a false candidate costs one decryption, never a verdict).
CANDIDATE_COSINE = 0.9

# The largest |entry| an update decrypts to: `encrypt_update` takes entries within
# ±MAX_ABS_VALUE, and decryption adds CKKS noise far below SUM_TOLERANCE. The same bound holds in
# plaintext mode (`PlainVault`), so that both modes judge the same updates alike.
MAX_ENTRY = MAX_ABS_VALUE + SUM_TOLERANCE


def _check_entries(arrays: Arrays) -> None:
    """ValueError unless every entry is finite and within ±`MAX_ENTRY` (module docstring)."""
    for name, values in arrays.items():
        flat = np.asarray(values, dtype=np.float64).ravel()
        if flat.size and not float(np.abs(flat).max()) <= MAX_ENTRY:  # NaN compares false too
            raise ValueError(f"tensor {name}: entries that are not finite or beyond ±{MAX_ENTRY}")


def open_delta(s: Session, update: dict[str, Any]) -> tuple[Arrays, Arrays]:
    """(mapped delta, unmapped delta) of a revealed update; ValueError/VaultError if unusable."""
    from consortium.pole.sml import first_layer_name

    mapped = s.vault.open_update(s.blobs.get(update["model_digest"]))
    base = s.version(int(update["base_version"]))
    first = first_layer_name(base)
    uid = str(update["update_id"])
    opened = s.state.read_arrays("tasks", s.task_id, "ledger", f"{uid}.first.npz")
    if opened is not None:  # its revealed layer was opened already (`revealed_first`)
        revealed: Arrays = OrderedDict([(first, opened["first"])])
    else:
        revealed = s.vault.open_update(s.blobs.get(update["unmapped_digest"]))
    shapes_ok = all(k in mapped and mapped[k].shape == v.shape for k, v in base.items())
    if set(mapped) != set(base) or not shapes_ok or first not in revealed:
        raise ValueError("tensor layout")
    if revealed[first].shape != base[first].shape:
        raise ValueError("tensor layout")
    _check_entries(mapped)
    _check_entries(OrderedDict([(first, revealed[first])]))
    ordered = OrderedDict((k, mapped[k]) for k in base)  # the model's order (blobs sort by name)
    delta = OrderedDict(ordered)
    delta[first] = revealed[first]
    return ordered, delta


def _own_delta(s: Session, update: dict[str, Any]) -> Arrays | None:
    """This member's own update, from the plaintext it kept when submitting (no decryption)."""
    if update.get("member_id") != getattr(s, "member_id", None):
        return None
    return s.state.read_arrays("tasks", s.task_id, "own", f"{int(update['base_version']):08d}.npz")


def cached_delta(s: Session, uid: str) -> Arrays | None:
    """The unmapped delta of update ``uid`` if this member opened it before, else None."""
    cached = s.state.read_arrays("tasks", s.task_id, "ledger", f"{uid}.npz")
    if cached is None:  # verified by this member before the ledger cache existed
        cached = s.state.read_arrays("tasks", s.task_id, "seen", f"{uid}.npz")
    return cached


def cache_delta(s: Session, update_id: str, delta: Arrays) -> None:
    """Keep an unmapped delta this member has opened, so that no later check decrypts it again."""
    s.state.write_arrays(delta, "tasks", s.task_id, "ledger", f"{update_id}.npz")


def _is_bad(s: Session, uid: str) -> bool:
    return s.state.read_json("tasks", s.task_id, "ledger", f"{uid}.bad.json") is not None


def _mark_bad(s: Session, uid: str) -> None:
    s.state.write_json({"bad": True}, "tasks", s.task_id, "ledger", f"{uid}.bad.json")


def opened_delta(s: Session, update: dict[str, Any]) -> Arrays | None:
    """The unmapped delta of an update this member already holds in the clear, else None.

    Never decrypts: for what may do without the updates this member has not opened (a score).
    """
    cached = cached_delta(s, str(update["update_id"]))
    return cached if cached is not None else _own_delta(s, update)


def update_delta(s: Session, update: dict[str, Any]) -> Arrays | None:
    """The unmapped delta of a revealed update (cached), None if its blobs do not open."""
    uid = str(update["update_id"])
    cached = opened_delta(s, update)
    if cached is not None:
        return cached
    if _is_bad(s, uid):
        return None
    try:
        _, delta = open_delta(s, update)
    except (VaultError, OSError, ValueError, KeyError):
        _mark_bad(s, uid)
        return None
    cache_delta(s, uid, delta)
    return delta


def revealed_first(s: Session, update: dict[str, Any]) -> np.ndarray | None:
    """The revealed unmapped first layer of an update, decrypting only that small blob (cached)."""
    from consortium.pole.sml import first_layer_name

    uid = str(update["update_id"])
    full = opened_delta(s, update)
    if full is not None:
        return full[first_layer_name(full)]
    cached = s.state.read_arrays("tasks", s.task_id, "ledger", f"{uid}.first.npz")
    if cached is not None:
        return cached["first"]
    if _is_bad(s, uid):
        return None
    try:
        base = s.version(int(update["base_version"]))
        first = first_layer_name(base)
        layer = s.vault.open_update(s.blobs.get(update["unmapped_digest"]))[first]
        if layer.shape != base[first].shape:
            raise ValueError("tensor layout")
        _check_entries(OrderedDict([(first, layer)]))
    except (VaultError, OSError, ValueError, KeyError):
        _mark_bad(s, uid)
        return None
    s.state.write_arrays(OrderedDict(first=layer), "tasks", s.task_id, "ledger", f"{uid}.first.npz")
    return layer


def duplicate_candidates(
    s: Session, first: np.ndarray, others: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The updates of ``others`` whose revealed first layer is close to ``first``.

    Only these can be duplicates of the update whose first layer is ``first`` (a copy matches in
    every layer); the rest need not be opened in full.
    """
    a = np.asarray(first, dtype=np.float64).ravel()
    na = float(np.linalg.norm(a))
    out = []
    for other in others:
        layer = revealed_first(s, other)
        if layer is None or layer.size != a.size:
            continue
        b = np.asarray(layer, dtype=np.float64).ravel()
        nb = float(np.linalg.norm(b))
        if na > 0.0 and nb > 0.0 and float(a @ b) / (na * nb) >= CANDIDATE_COSINE:
            out.append(other)
    return out


def revealed_updates(
    s: Session, update: dict[str, Any], views: list[dict[str, Any]] | None = None
) -> list[tuple[dict[str, Any], str]]:
    """(update record, status) of every *other* revealed update submitted no later than ``update``.

    Later ones are left out: an original verified after its copy was submitted must not be
    called the duplicate of its copy. ``views``: the task's ``ListUpdates``, when the caller has
    read it already.
    """
    if views is None:
        views = s.q("ListUpdates", task_id=s.task_id)
    return [
        (v["update"], str(v["status"]))
        for v in views
        if v["update"]["update_id"] != update["update_id"]
        and v["update"].get("unmapped_digest") is not None
        and int(v["update"]["submitted_ms"]) <= int(update["submitted_ms"])
    ]


def revoked_members(s: Session) -> set[str]:
    """The members the ledger has revoked: nothing of theirs enters a block any more (the contract
    refuses an aggregate or a proposal naming one of their updates with MEMBER_REVOKED), and
    nothing they submitted is a peer reference (`peer_submissions`' callers)."""
    return {m["member_id"] for m in s.q("ListMembers") if m.get("status") == "revoked"}


def peer_submissions(update: dict[str, Any], views: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The other members' revealed submissions on ``update``'s base version, the latest of each
    (the contract takes one per member and base), in the order they were submitted; ``views``:
    the task's ``ListUpdates``.

    Unlike `revealed_updates` this takes submissions made after ``update`` as well: they are a
    norm reference (`checks.Thresholds.min_peers`), not candidates for an original, and which
    of a base's hospitals submitted first is only who trained faster.
    """
    base, submitter = int(update["base_version"]), update["member_id"]
    latest: dict[str, dict[str, Any]] = {}
    for view in views:
        u = view["update"]
        if u["member_id"] == submitter or int(u["base_version"]) != base:
            continue
        if u.get("nonce") is None or u.get("unmapped_digest") is None:
            continue  # not revealed: its delta cannot be formed yet
        held = latest.get(u["member_id"])
        if held is None or int(u["submitted_ms"]) > int(held["submitted_ms"]):
            latest[u["member_id"]] = u
    return sorted(latest.values(), key=lambda u: int(u["submitted_ms"]))


def foreign_origin(
    s: Session, mapped_first: np.ndarray, others: list[dict[str, Any]]
) -> str | None:
    """The id of another revealed update whose layer ``mapped_first`` was made behind, if any."""
    from consortium.pole.sml import sml_layer

    digests: dict[int, str] = {}
    m = np.asarray(mapped_first, dtype=np.float64)
    for other in others:
        if other.get("nonce") is None:
            continue
        revealed = revealed_first(s, other)
        if revealed is None:
            continue
        target = np.asarray(revealed, dtype=np.float64)
        norm = float(np.linalg.norm(target))
        if target.shape != m.shape or norm == 0.0:
            continue
        base = int(other["base_version"])
        if base not in digests:
            digests[base] = s.q("GetVersion", task_id=s.task_id, version=base)["model_digest"]
        layer = sml_layer(s.task_id, digests[base], other["member_id"], other["nonce"], m.shape[1])
        if float(np.linalg.norm(m @ layer - target)) <= ORIGIN_REL_TOL * norm:
            return str(other["update_id"])
    return None
