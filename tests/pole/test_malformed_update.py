"""An update whose ciphertexts decrypt to NaN or to values far out of scale is rejected, and every
honest node keeps running.

A member writes its own ciphertexts. Each one carries the CKKS scale its values are divided by when
decoded (a double in the SEAL ciphertext, `consortium.crypto.packing`); SEAL only asks it to be
positive. The attacker here encrypts a delta with the real TenSEAL encryption, behind its own
layer and with a consistent reveal, then rewrites that scale in every ciphertext: 1e-300 decodes
to NaN and ±inf, 2⁻⁹⁵⁰ to values near 1e297, whose norms overflow. `encrypt_update` makes
neither (it refuses entries beyond ±`MAX_ABS_VALUE`), so the verifiers reject both as
``BAD_BLOB``; before, the first verifier drawn stopped with "Input contains NaN" in its metric.

Ciphertexts can also decrypt to the right numbers and still not sum with the others: another
scale, or a sum (no prime left for the weight's product). An honest hospital's update made so was
accepted, and the aggregator then stopped at every step; now it is a ``BAD_BLOB`` as well
(`consortium.crypto.update.check_submission`).
"""

from __future__ import annotations

import secrets
import struct
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from . import freeride as fr
from .federated import SITES, Run

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

# Where the scale sits in a packed ciphertext (`consortium.crypto.packing`): after the two length
# fields and the TenSEAL framing, the SEAL members parms_id (32 bytes), is_ntt_form (1), size,
# poly_modulus_degree and coeff_modulus_size (8 each).
_SCALE_AT = 32 + 1 + 8 + 8 + 8


def _rescaled(blob: bytes, scale: float) -> bytes:
    """``blob`` (an encrypted update) with the scale of every ciphertext set to ``scale``."""
    from consortium.crypto.update import EncryptedUpdate

    update = EncryptedUpdate.from_bytes(blob)
    chunks = {}
    for name, parts in update.chunks.items():
        out = []
        for part in parts:
            head, tail = struct.unpack_from("<HH", part)
            at = 4 + head + tail + _SCALE_AT
            out.append(part[:at] + struct.pack("<d", scale) + part[at + 8 :])
        chunks[name] = tuple(out)
    return EncryptedUpdate(update.header, chunks).to_bytes()


def _submit_rescaled(s: Any, scale: float) -> str:
    """A small delta behind the attacker's own layer, every ciphertext rescaled to ``scale``."""
    from consortium.pole.sml import first_layer_name, map_state

    base = int(s.head()["height"])
    model = s.version(base)
    rng = np.random.default_rng(7)
    delta = OrderedDict((k, rng.normal(scale=0.01, size=v.shape)) for k, v in model.items())
    nonce = secrets.token_hex(32)
    first = first_layer_name(delta)
    mapped = map_state(delta, fr._layer(s, base, nonce, delta[first].shape[1]))
    mapped_digest = s.blobs.put(_rescaled(s.vault.encrypt(mapped), scale))
    first_digest = s.blobs.put(_rescaled(s.vault.encrypt({first: delta[first]}), scale))
    return fr._submit(s, mapped_digest, first_digest, nonce, base)


@pytest.mark.parametrize(
    ("attacker", "scale", "decrypts_to"),
    [("mallory", 1e-300, "nan"), ("trudy", 2.0**-950, "overflow")],
)
def test_an_update_that_decrypts_to_nan_or_overflows_is_a_bad_blob(
    run: Run, attacker: str, scale: float, decrypts_to: str
) -> None:
    from consortium.pole.localrun import run_nodes

    # Arrange: the crafted update, and what a member decrypts it to
    uid = _submit_rescaled(run.session(attacker), scale)
    watch = run.nodes[0].s
    update = watch.q("GetUpdate", task_id="heart", update_id=uid)["update"]
    opened = watch.vault.decrypt(watch.blobs.get(update["model_digest"]))
    values = np.concatenate([v.ravel() for v in opened.values()])
    if decrypts_to == "nan":
        assert np.isnan(values).any() and not np.isfinite(values).any()
    else:
        assert np.isfinite(values).all() and float(np.abs(values).max()) > 1e290

    # Act: the honest nodes run until it is decided (an exception would stop them here)
    def decided(w: Any) -> bool:
        return bool(w.q("GetUpdate", task_id="heart", update_id=uid)["status"] != "pending")

    assert run_nodes(run.nodes, decided, max_seconds=120)

    # Assert: rejected by every verifier that judged it, for what it is, with nothing measured
    view = watch.q("GetUpdate", task_id="heart", update_id=uid)
    assert view["status"] == "rejected"
    assert {(e["verdict"], e["reason"]) for e in view["endorsements"]} == {("reject", "BAD_BLOB")}
    assert all(e["scores"] == {} and e["metric_bp"] == 0 for e in view["endorsements"])


def _summed(vault: Any, blob: bytes) -> bytes:
    """The weighted sum of ``blob`` alone, weight 1: a ``sum`` blob, one prime left."""
    return bytes(vault.weighted_sum([blob], [1_000_000]))


@pytest.mark.parametrize(
    "craft",
    [
        lambda vault, blob: _rescaled(blob, 2.0**40 * (1 + 2.0**-30)),  # decrypts as it was
        _summed,  # decrypts as it was too, but has no level left for the aggregator's product
    ],
    ids=["scale", "sum"],
)
def test_an_update_the_aggregator_cannot_sum_is_a_bad_blob(tmp_path: Path, craft: Any) -> None:
    # An honest hospital's updates, with their ciphertexts changed so that they decrypt to the
    # same numbers but cannot be summed with the others': another scale ("scale mismatch" in
    # SEAL), or no level left (`weighted_sum` refuses a sum). Accepted, one stopped the
    # aggregator at every step (and restart) for as long as it waited in the buffer.
    from consortium.pole.localrun import open_nodes, run_nodes
    from consortium.simulate.config import SimConfig
    from consortium.simulate.setup import create_consortium

    # Arrange: a run of its own (the shared one may have no planned updates left to make blocks)
    cfg = SimConfig(planned_updates=8, epochs=1, update_seconds=0.0, flush_seconds=1.0)
    nodes: list[Any] = open_nodes(create_consortium(cfg, tmp_path / "consortium"),
                                  [*SITES, "aggregator"])  # fmt: skip
    site = SITES[-1]
    vault = next(n for n in nodes if n.s.member_id == site).s.vault
    honest = vault.encrypt
    vault.encrypt = lambda arrays: craft(vault, honest(arrays))
    seen: dict[str, int] = {}

    def first(w: Any) -> dict[str, Any] | None:
        own = [v for v in w.q("ListUpdates", task_id="heart") if v["update"]["member_id"] == site]
        return min(own, key=lambda v: int(v["update"]["submitted_ms"]), default=None)

    def decided_and_summed(w: Any) -> bool:
        view = first(w)
        if view is None or view["status"] in ("pending", "accepted"):  # accepted: to be summed
            return False
        seen.setdefault("height", int(w.head()["height"]))
        return int(w.head()["height"]) > seen["height"]  # the aggregator summed again since

    try:
        # Act: every node runs until the site's first update is rejected or included, and one
        # more block is made
        assert run_nodes(nodes, decided_and_summed, max_seconds=180)
        # Assert
        view = first(nodes[0].s)
        assert view is not None and view["status"] == "rejected"
        reasons = {(e["verdict"], e["reason"]) for e in view["endorsements"]}
        assert reasons == {("reject", "BAD_BLOB")}
    finally:
        for node in nodes:
            node.s.ledger.close()
