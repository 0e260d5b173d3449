"""A verifier's view of every revealed update of a task on the ledger, in unmapped coordinates.

A verifier that only remembered the updates it verified itself would miss a converted copy of an
update drawn to another committee (with 3 verifiers of 4 members, about one committee in six
never saw the original). Every member may decrypt every update (the aggregator alone cannot), so
the verifier opens each revealed update of the task once, forms its unmapped delta (mapped blob
with the revealed first layer swapped in) and caches it under
``tasks/<task>/ledger/<update_id>.npz`` in its private state: an update's blobs never change
once revealed (content-addressed), so the cache never goes stale.

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

from consortium.federation.session import Session
from consortium.federation.vault import VaultError

__all__ = ["foreign_origin", "open_delta", "revealed_updates", "update_delta"]

Arrays = OrderedDict[str, np.ndarray]

# Relative tolerance of "this blob times that layer is that update's revealed first layer": CKKS
# noise is ~1e-8 relative to an honest first-layer delta, an unrelated pair is off by ~100 %.
ORIGIN_REL_TOL = 1e-3


def open_delta(s: Session, update: dict[str, Any]) -> tuple[Arrays, Arrays]:
    """(mapped delta, unmapped delta) of a revealed update; ValueError/VaultError if unusable."""
    from consortium.pole.sml import first_layer_name

    mapped = s.vault.decrypt(s.blobs.get(update["model_digest"]))
    revealed = s.vault.decrypt(s.blobs.get(update["unmapped_digest"]))
    base = s.version(int(update["base_version"]))
    first = first_layer_name(base)
    shapes_ok = all(k in mapped and mapped[k].shape == v.shape for k, v in base.items())
    if set(mapped) != set(base) or not shapes_ok or first not in revealed:
        raise ValueError("tensor layout")
    if revealed[first].shape != base[first].shape:
        raise ValueError("tensor layout")
    ordered = OrderedDict((k, mapped[k]) for k in base)  # the model's order (blobs sort by name)
    delta = OrderedDict(ordered)
    delta[first] = revealed[first]
    return ordered, delta


def update_delta(s: Session, update: dict[str, Any]) -> Arrays | None:
    """The unmapped delta of a revealed update (cached), None if its blobs do not open."""
    uid = str(update["update_id"])
    cached = s.state.read_arrays("tasks", s.task_id, "ledger", f"{uid}.npz")
    if cached is not None:
        return cached
    if s.state.read_json("tasks", s.task_id, "ledger", f"{uid}.bad.json") is not None:
        return None
    try:
        _, delta = open_delta(s, update)
    except (VaultError, OSError, ValueError, KeyError):
        s.state.write_json({"bad": True}, "tasks", s.task_id, "ledger", f"{uid}.bad.json")
        return None
    s.state.write_arrays(delta, "tasks", s.task_id, "ledger", f"{uid}.npz")
    return delta


def revealed_updates(s: Session, update: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """(update record, status) of every *other* revealed update submitted no later than ``update``.

    Later ones are left out: an original verified after its copy was submitted must not be
    called the duplicate of its copy.
    """
    views = s.q("ListUpdates", task_id=s.task_id)
    return [
        (v["update"], str(v["status"]))
        for v in views
        if v["update"]["update_id"] != update["update_id"]
        and v["update"].get("unmapped_digest") is not None
        and int(v["update"]["submitted_ms"]) <= int(update["submitted_ms"])
    ]


def foreign_origin(
    s: Session, mapped_first: np.ndarray, others: list[dict[str, Any]]
) -> str | None:
    """The id of another revealed update whose layer ``mapped_first`` was made behind, if any."""
    from consortium.pole.sml import first_layer_name, sml_layer

    digests: dict[int, str] = {}
    m = np.asarray(mapped_first, dtype=np.float64)
    for other in others:
        if other.get("nonce") is None:
            continue
        delta = update_delta(s, other)
        if delta is None:
            continue
        target = np.asarray(delta[first_layer_name(delta)], dtype=np.float64)
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
