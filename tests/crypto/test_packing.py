"""Exact-width ciphertext packing: lossless, deterministic, and strict about what it accepts."""

from __future__ import annotations

import numpy as np
import pytest
import tenseal as ts

from consortium.crypto import CkksContext
from consortium.crypto.packing import (
    PackingError,
    _split_proto,
    is_seeded,
    pack_ciphertext,
    pack_seal,
    unpack_ciphertext,
)
from consortium.crypto.seeded import SeededEncryptor


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


@pytest.fixture(scope="module")
def seeded(secret_ctx: CkksContext, fresh) -> bytes:
    with SeededEncryptor(secret_ctx) as enc:
        return enc.encrypt(fresh[0])


def test_seeded_ciphertexts_are_half_size_and_load_in_tenseal(
    secret_ctx: CkksContext, public_ctx: CkksContext, fresh, seeded: bytes
) -> None:
    x, raw = fresh
    full = pack_ciphertext(raw)
    assert is_seeded(seeded) and not is_seeded(full)
    assert 0.49 * len(full) < len(seeded) < 0.51 * len(full)  # c1 replaced by an 81-byte seed
    assert pack_ciphertext(unpack_ciphertext(seeded)) == seeded  # lossless, seed kept
    vec = ts.ckks_vector_from(secret_ctx.context, unpack_ciphertext(seeded))  # SEAL expands
    assert np.abs(np.asarray(vec.decrypt()) - x).max() < 1e-8
    # Expanded by a loader that holds no secret (the aggregator), it is a full ciphertext.
    expanded = bytes(ts.ckks_vector_from(public_ctx.context, unpack_ciphertext(seeded)).serialize())
    assert len(pack_ciphertext(expanded)) == len(full)


def test_each_seeded_encryption_is_fresh(secret_ctx: CkksContext, fresh, seeded: bytes) -> None:
    with SeededEncryptor(secret_ctx) as enc:
        again = enc.encrypt(fresh[0])
    assert again != seeded and again[-64:] != seeded[-64:]  # another seed, another noise


@pytest.mark.parametrize("size", [1, 3, 2047, 2048])
def test_pack_seal_frames_like_tenseal(secret_ctx: CkksContext, size: int) -> None:
    x = np.linspace(-1, 1, size)
    head, _, tail = _split_proto(bytes(ts.ckks_vector(secret_ctx.context, x).serialize()))
    with SeededEncryptor(secret_ctx) as enc:
        ours, _, ours_tail = _split_proto(unpack_ciphertext(enc.encrypt(x)))
    assert (ours, ours_tail) == (head, tail)
    with pytest.raises(PackingError, match=r"holds 1\.\.2048 slots"):
        pack_seal(b"", 2049, 2.0**40)


def test_seed_corruption_is_detected(seeded: bytes) -> None:
    with pytest.raises(PackingError, match="PRNG info is truncated"):
        unpack_ciphertext(seeded[:-1])
    with pytest.raises(PackingError, match="PRNG info is truncated"):
        unpack_ciphertext(seeded + b"\0")
    bad_type = bytearray(seeded)
    bad_type[-65] = 9  # the prng_type byte before the 64-byte seed
    with pytest.raises(PackingError, match="unknown PRNG type 9"):
        unpack_ciphertext(bytes(bad_type))


def test_scratch_file_without_memfd(monkeypatch: pytest.MonkeyPatch, secret_ctx, fresh) -> None:
    import os

    from consortium.crypto import seeded as module

    monkeypatch.delattr(os, "memfd_create")
    enc = module.SeededEncryptor(secret_ctx)
    path = enc._scratch.path
    assert os.path.isfile(path) and not path.startswith("/proc/")
    vec = ts.ckks_vector_from(secret_ctx.context, unpack_ciphertext(enc.encrypt(fresh[0])))
    assert np.abs(np.asarray(vec.decrypt()) - fresh[0]).max() < 1e-8
    enc.close()
    assert not os.path.exists(path)
