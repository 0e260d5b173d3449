"""Exact-width ciphertext packing: lossless, deterministic, and strict about what it accepts."""

from __future__ import annotations

import numpy as np
import pytest
import tenseal as ts

from consortium.crypto import CkksContext
from consortium.crypto.packing import PackingError, pack_ciphertext, unpack_ciphertext


@pytest.fixture(scope="module")
def fresh(secret_ctx: CkksContext) -> tuple[np.ndarray, bytes]:
    x = np.random.default_rng(7).uniform(-1, 1, 2048)
    return x, bytes(ts.ckks_vector(secret_ctx.context, x).serialize())


def test_round_trip_is_the_same_ciphertext(secret_ctx: CkksContext, fresh) -> None:
    x, raw = fresh
    packed = pack_ciphertext(raw)
    vec = ts.ckks_vector_from(secret_ctx.context, unpack_ciphertext(packed))
    assert bytes(vec.serialize()) == raw  # TenSEAL re-serializes to the very same bytes
    assert pack_ciphertext(unpack_ciphertext(packed)) == packed
    assert np.abs(np.asarray(vec.decrypt()) - x).max() < 1e-7
    assert len(packed) < 0.87 * len(raw)


def test_short_vectors_keep_their_size(secret_ctx: CkksContext) -> None:
    raw = bytes(ts.ckks_vector(secret_ctx.context, [0.5, -0.25, 0.125]).serialize())
    vec = ts.ckks_vector_from(secret_ctx.context, unpack_ciphertext(pack_ciphertext(raw)))
    assert np.allclose(vec.decrypt(), [0.5, -0.25, 0.125], atol=1e-7)


def test_corruption_is_detected(fresh) -> None:
    packed = bytearray(pack_ciphertext(fresh[1]))
    with pytest.raises(PackingError, match="truncated"):
        unpack_ciphertext(bytes(packed[:-5]))
    with pytest.raises(PackingError, match="trailing"):
        unpack_ciphertext(bytes(packed) + b"\0" * 10)
    packed[-5:] = b"\xff" * 5  # the last 40-bit residue becomes 2^40 - 1 > q1
    with pytest.raises(PackingError, match="exceeds its prime"):
        unpack_ciphertext(bytes(packed))


def test_other_bytes_are_refused() -> None:
    with pytest.raises(PackingError):
        pack_ciphertext(b"\x0a\x02\x80\x10" + b"\x12\x05hello")
    with pytest.raises(PackingError):
        pack_ciphertext(b"not a protobuf at all")
