"""A free-riding member's submissions, made through the real ledger and blob store.

Each function submits one update as the attacker (a hospital of the consortium) on the current
head and reveals it, the way the protocol lets it (docs/decisions/0001-protocol.md, SML): it sees
every blob of the store and, as a member, can decrypt other members' updates.

- `copy_update`: another member's update as it is (its mapped blob and its revealed unmapped first
  layer), under the attacker's own fresh nonce;
- `convert_update`: another member's revealed (unmapped) delta, mapped into the attacker's own
  layer so that its reveal is consistent (the "converted copy" of the SML's threat model);
- `global_model`: the current global model resubmitted (a zero delta);
- `older_global`: an older global model resubmitted (the delta is minus a global step);
- `precomputed`: a delta the attacker trained behind its layer for an *earlier* base version,
  submitted again on the new base.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from typing import Any

import numpy as np

from consortium.federation.session import Session
from consortium.pole.sml import commitment, first_layer_name, map_state, sml_layer


def _submit(s: Session, mapped: Any, unmapped_first: Any, nonce: str, base: int) -> str:
    """SubmitUpdate + RevealNonce of already encrypted blobs; returns the update id."""
    args = {
        "task_id": s.task_id,
        "base_version": base,
        "model_digest": mapped,
        "n_samples": 100,
        "epsilon_spent": _eps(s),
        "commitment": commitment(nonce),
    }
    update = s.ledger.submit_ok("SubmitUpdate", args)
    s.ledger.submit_ok(
        "RevealNonce",
        {
            "task_id": s.task_id,
            "update_id": update["update_id"],
            "nonce": nonce,
            "unmapped_digest": unmapped_first,
        },
    )
    return str(update["update_id"])


def _eps(s: Session) -> str:
    own = [
        v["update"]["epsilon_spent"]
        for v in s.q("ListUpdates", task_id=s.task_id)
        if v["update"]["member_id"] == s.member_id
    ]
    return max(own, key=float, default="0.5")


def _layer(s: Session, base: int, nonce: str, dim: int) -> np.ndarray:
    block = s.q("GetVersion", task_id=s.task_id, version=base)
    return sml_layer(s.task_id, block["model_digest"], s.member_id, nonce, dim)


def _put(s: Session, arrays: Any) -> str:
    return s.blobs.put(s.vault.encrypt(arrays))


def copy_update(s: Session, victim: dict[str, Any]) -> str:
    """Resubmit ``victim``'s blobs verbatim on the head, under a fresh nonce of our own."""
    base = int(s.head()["height"])
    return _submit(
        s, victim["model_digest"], victim["unmapped_digest"], secrets.token_hex(32), base
    )


def _victim_delta(s: Session, victim: dict[str, Any]) -> OrderedDict[str, np.ndarray]:
    mapped = s.vault.decrypt(s.blobs.get(victim["model_digest"]))
    revealed = s.vault.decrypt(s.blobs.get(victim["unmapped_digest"]))
    base = s.version(int(victim["base_version"]))
    delta = OrderedDict((k, np.asarray(mapped[k], dtype=np.float64)) for k in base)
    first = first_layer_name(base)
    delta[first] = np.asarray(revealed[first], dtype=np.float64)
    return delta


def _submit_delta(s: Session, delta: OrderedDict[str, np.ndarray], base: int) -> str:
    nonce = secrets.token_hex(32)
    first = first_layer_name(delta)
    layer = _layer(s, base, nonce, delta[first].shape[1])
    mapped = map_state(delta, layer)
    return _submit(s, _put(s, mapped), _put(s, {first: delta[first]}), nonce, base)


def convert_update(s: Session, victim: dict[str, Any]) -> str:
    """``victim``'s unmapped delta, mapped into our own layer (a consistent reveal)."""
    return _submit_delta(s, _victim_delta(s, victim), int(s.head()["height"]))


def global_model(s: Session) -> str:
    """The current global model as our 'trained' model: a zero delta."""
    head = int(s.head()["height"])
    zero = OrderedDict((k, np.zeros_like(v, dtype=np.float64)) for k, v in s.version(head).items())
    return _submit_delta(s, zero, head)


def older_global(s: Session, older: int) -> str:
    """Version ``older`` resubmitted on the head: Δ = θ(older) − θ(head)."""
    head = int(s.head()["height"])
    new, old = s.version(head), s.version(older)
    delta = OrderedDict(
        (k, np.asarray(old[k], np.float64) - np.asarray(new[k], np.float64)) for k in new
    )
    return _submit_delta(s, delta, head)


def precomputed(s: Session, old_update: dict[str, Any]) -> str:
    """Our own earlier update, prepared behind the layer of an older base, resubmitted on the
    head with the same blobs and nonce (the layer of the new base cannot have existed then)."""
    base = int(s.head()["height"])
    return _submit(
        s, old_update["model_digest"], old_update["unmapped_digest"], old_update["nonce"], base
    )
