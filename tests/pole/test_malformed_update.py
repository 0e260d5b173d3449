"""An update whose ciphertexts decrypt to NaN or to values far out of scale is rejected, and every
honest node keeps running.

A member writes its own ciphertexts. Each one carries the CKKS scale its values are divided by when
decoded (a double in the SEAL ciphertext, `consortium.crypto.packing`); SEAL only asks it to be
positive. The attacker here encrypts a delta with the real TenSEAL encryption, behind its own
layer and with a consistent reveal, then rewrites that scale in every ciphertext: 1e-300 decodes
to NaN and ±inf, 2⁻⁹⁵⁰ to values near 1e297, whose norms overflow. `encrypt_update` makes
neither (it refuses entries beyond ±`MAX_ABS_VALUE`), so the verifiers reject both as
``BAD_BLOB``; before, the first verifier drawn stopped with "Input contains NaN" in its metric.
"""

from __future__ import annotations

import secrets
import struct
from collections import OrderedDict
from typing import Any

import numpy as np
import pytest

from . import freeride as fr
from .federated import Run

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
