"""Encrypted updates: round trip, blob format, deterministic weighted sums, tensor replacement."""

from __future__ import annotations

import numpy as np
import pytest
import tenseal as ts
from hypothesis import given, settings
from hypothesis import strategies as st

from consortium.crypto import (
    CkksContext,
    ContextMismatchError,
    EncryptedUpdate,
    KeyBundle,
    UpdateFormatError,
    decrypt_update,
    encrypt_update,
    replace_tensor,
    weighted_sum,
)
from consortium.crypto.packing import is_seeded, unpack_ciphertext
from consortium.crypto.update import FORMAT, FORMAT_V1, FORMAT_V2


def delta(seed: int, scale: float = 1.0) -> dict[str, np.ndarray]:
    """A small model delta: entries of magnitude ~1e-2..1, a 3-chunk first layer."""
    rng = np.random.default_rng(seed)
    return {
        "fc1.weight": (rng.uniform(-1, 1, (50, 100)) * scale).astype(np.float32),
        "fc1.bias": (rng.uniform(-0.01, 0.01, 50) * scale).astype(np.float32),
        "fc2.weight": rng.uniform(-0.1, 0.1, (1, 50)),
    }


def test_round_trip_keeps_shapes_dtypes_and_values(secret_ctx: CkksContext) -> None:
    plain = delta(1)
    back = decrypt_update(encrypt_update(plain, secret_ctx), secret_ctx)
    assert sorted(back) == sorted(plain)
    for name, arr in plain.items():
        assert back[name].shape == arr.shape and back[name].dtype == arr.dtype
        assert np.abs(back[name].astype(np.float64) - arr).max() < 1e-6


def test_tensors_are_chunked_per_tensor(secret_ctx: CkksContext) -> None:
    upd = encrypt_update(delta(1), secret_ctx)
    counts = {t.name: len(t.chunk_bytes) for t in upd.header.tensors}
    # Two values per complex slot: 4096 per ciphertext, so 5000 -> 2 (v2, one per slot: 3).
    assert counts == {"fc1.bias": 1, "fc1.weight": 2, "fc2.weight": 1}
    assert [t.name for t in upd.header.tensors] == sorted(counts)
    old = encrypt_update(delta(1), secret_ctx, fmt=FORMAT_V2)
    assert [len(t.chunk_bytes) for t in old.header.tensors] == [1, 3, 1]


@pytest.mark.parametrize("size", [1, 2, 3, 4095, 4096, 4097, 8193])
def test_complex_packing_round_trips_every_chunk_length(secret_ctx: CkksContext, size: int) -> None:
    values = np.linspace(-4.0, 4.0, size)  # the whole accepted range, odd and even chunk lengths
    back = decrypt_update(encrypt_update({"w": values}, secret_ctx), secret_ctx)["w"]
    assert back.shape == (size,)
    assert np.abs(back - values).max() < 1e-6


def test_complex_packing_halves_the_ciphertexts_of_real_packing(secret_ctx: CkksContext) -> None:
    values = {"w": np.random.default_rng(2).uniform(-1, 1, 20_480)}
    new, old = (encrypt_update(values, secret_ctx, fmt=f) for f in (FORMAT, FORMAT_V2))
    assert (len(new.chunks["w"]), len(old.chunks["w"])) == (5, 10)
    assert 0.49 < len(new.to_bytes()) / len(old.to_bytes()) < 0.51
    for blob in (new, old):
        assert np.abs(decrypt_update(blob, secret_ctx)["w"] - values["w"]).max() < 1e-6


def test_blob_bytes_parse_back_identically(secret_ctx: CkksContext) -> None:
    blob = encrypt_update(delta(2), secret_ctx).to_bytes()
    parsed = EncryptedUpdate.from_bytes(blob)
    assert parsed.to_bytes() == blob
    assert parsed.header.context_digest == secret_ctx.digest


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda b: b"XXXXXXXX" + b[8:], "bad magic"),
        (lambda b: b[:-10], "truncated"),
        (lambda b: b + b"\0", "trailing"),
        (lambda b: b[:12] + b[12:].replace(b'"slots":2048', b'"slots":4096', 1), "chunk count"),
    ],
)
def test_malformed_blobs_are_refused(secret_ctx: CkksContext, mangle, message: str) -> None:
    blob = encrypt_update(delta(2), secret_ctx).to_bytes()
    with pytest.raises(UpdateFormatError, match=message):
        EncryptedUpdate.from_bytes(mangle(blob))


def test_weighted_sum_matches_plaintext_and_is_byte_deterministic(
    secret_ctx: CkksContext, public_ctx: CkksContext
) -> None:
    deltas = [delta(10), delta(11, scale=0.01), delta(12, scale=0.3)]
    blobs = [encrypt_update(d, secret_ctx).to_bytes() for d in deltas]
    weights = [1_000_000, 333_333, 27]
    first = weighted_sum(blobs, weights, public_ctx).to_bytes()
    # Anyone recomputes it from the blobs and a freshly loaded public context: same bytes.
    again = weighted_sum(blobs, weights, CkksContext.from_public_bytes(public_ctx.public_bytes()))
    assert again.to_bytes() == first
    got = decrypt_update(first, secret_ctx, dtype="float64")
    for name in deltas[0]:
        want = sum(
            w / 1e6 * d[name].astype(np.float64) for w, d in zip(weights, deltas, strict=True)
        )
        assert np.abs(got[name] - want).max() < 1e-6


@settings(max_examples=8, deadline=None)
@given(
    weights=st.lists(st.integers(1, 1_000_000), min_size=1, max_size=4),
    scale=st.sampled_from([0.01, 0.1, 1.0]),
)
def test_weighted_sum_precision_property(
    secret_ctx: CkksContext, public_ctx: CkksContext, weights: list[int], scale: float
) -> None:
    rng = np.random.default_rng(sum(weights))
    deltas = [{"w": rng.uniform(-scale, scale, 3000)} for _ in weights]
    summed = weighted_sum([encrypt_update(d, secret_ctx) for d in deltas], weights, public_ctx)
    want = sum(w / 1e6 * d["w"] for w, d in zip(weights, deltas, strict=True))
    assert np.abs(decrypt_update(summed, secret_ctx)["w"] - want).max() < 1e-6


@pytest.mark.parametrize(
    "weights",
    [[1_000_000] * 16, [1, 1, 1], [1, 1_000_000]],
    ids=["weight-sum-at-the-limit", "one-ppm", "one-ppm-beside-one"],
)
def test_weighted_sum_precision_at_the_range_limits(
    secret_ctx: CkksContext, public_ctx: CkksContext, weights: list[int]
) -> None:
    # The range argument of `consortium.crypto.params`: entries at ±MAX_ABS_VALUE (both parts of
    # every complex slot) and weights summing to MAX_WEIGHT_SUM_PPM give |sum| = 64 per part, the
    # largest the modulus is sized for; 1 ppm is the smallest weight the ledger allows.
    from consortium.crypto.params import MAX_ABS_VALUE, MAX_WEIGHT_SUM_PPM

    assert sum(weights) <= MAX_WEIGHT_SUM_PPM
    rng = np.random.default_rng(len(weights))
    deltas = [{"w": rng.choice([-1.0, 1.0], 8192) * MAX_ABS_VALUE} for _ in weights]
    deltas[0] = {"w": np.full(8192, float(MAX_ABS_VALUE))}
    if len(weights) == 16:
        deltas = [deltas[0]] * 16  # every update at +4: the sum is 64 in every part
    summed = weighted_sum([encrypt_update(d, secret_ctx) for d in deltas], weights, public_ctx)
    want = sum(w / 1e6 * d["w"] for w, d in zip(weights, deltas, strict=True))
    assert np.abs(decrypt_update(summed, secret_ctx)["w"] - want).max() < 1e-6


def test_public_context_cannot_decrypt(secret_ctx: CkksContext, public_ctx: CkksContext) -> None:
    upd = encrypt_update(delta(3), public_ctx)  # the public key encrypts fine
    assert not public_ctx.can_decrypt
    with pytest.raises(PermissionError, match="no secret key"):
        decrypt_update(upd, public_ctx)
    with pytest.raises(ValueError, match="secret_key"):  # TenSEAL itself refuses too
        chunk = unpack_ciphertext(upd.chunks["fc1.bias"][0])
        ts.ckks_vector_from(public_ctx.context, chunk).decrypt()
    assert (
        np.abs(decrypt_update(upd, secret_ctx)["fc2.weight"] - delta(3)["fc2.weight"]).max() < 1e-6
    )


def test_public_context_bytes_hold_no_secret_key(secret_ctx: CkksContext, tmp_path) -> None:
    path = tmp_path / "sk"
    secret_ctx.context.secret_key().data.save(str(path))
    sk = path.read_bytes()
    windows = [sk[i : i + 64] for i in range(16, len(sk) - 64, 4096)]
    assert all(w in secret_ctx.secret_bytes() for w in windows)  # the check can see a key
    public = secret_ctx.public_bytes()
    assert not any(w in public for w in windows)
    loaded = ts.context_from(public)
    assert not loaded.has_secret_key() and not loaded.has_galois_keys()
    assert not loaded.has_relin_keys()


def test_replace_tensor_takes_the_unmapped_first_layer(secret_ctx: CkksContext) -> None:
    mapped, unmapped = delta(4), {"fc1.weight": delta(5)["fc1.weight"]}
    composite = replace_tensor(
        encrypt_update(mapped, secret_ctx), "fc1.weight", encrypt_update(unmapped, secret_ctx)
    )
    out = decrypt_update(composite, secret_ctx)
    assert np.abs(out["fc1.weight"] - unmapped["fc1.weight"]).max() < 1e-6
    assert np.abs(out["fc1.bias"] - mapped["fc1.bias"]).max() < 1e-6
    assert EncryptedUpdate.from_bytes(composite.to_bytes()).to_bytes() == composite.to_bytes()


def test_replace_tensor_refuses_other_shapes(secret_ctx: CkksContext) -> None:
    other = encrypt_update({"fc1.weight": np.zeros((10, 10))}, secret_ctx)
    with pytest.raises(UpdateFormatError, match="shape"):
        replace_tensor(encrypt_update(delta(4), secret_ctx), "fc1.weight", other)
    with pytest.raises(UpdateFormatError, match="no tensor named"):
        replace_tensor(other, "fc9.weight", other)


def test_sum_refuses_bad_inputs(secret_ctx: CkksContext, public_ctx: CkksContext) -> None:
    a = encrypt_update({"w": np.ones(4) * 0.5}, secret_ctx)
    b = encrypt_update({"w": np.ones(5) * 0.5}, secret_ctx)
    with pytest.raises(UpdateFormatError, match="other tensors or shapes"):
        weighted_sum([a, b], [1, 1], public_ctx)
    with pytest.raises(ValueError, match="positive integers"):
        weighted_sum([a], [0], public_ctx)
    with pytest.raises(ValueError, match="positive integers"):
        weighted_sum([a], [True], public_ctx)
    with pytest.raises(ValueError, match="one weight per update"):
        weighted_sum([a, a], [1], public_ctx)
    with pytest.raises(ValueError, match="CKKS range"):
        weighted_sum([a] * 17, [1_000_000] * 17, public_ctx)
    with pytest.raises(UpdateFormatError, match="already a weighted sum"):
        weighted_sum([weighted_sum([a], [1], public_ctx)], [1], public_ctx)


def test_update_under_another_key_is_refused(secret_ctx: CkksContext) -> None:
    stranger = KeyBundle.generate().ckks
    upd = encrypt_update({"w": np.zeros(3)}, stranger)
    with pytest.raises(ContextMismatchError, match="another key"):
        decrypt_update(upd, secret_ctx)


@pytest.mark.parametrize("bad", [np.array([np.nan]), np.array([5.0]), np.array(["x"])])
def test_encrypt_refuses_values_it_cannot_carry(secret_ctx: CkksContext, bad) -> None:
    with pytest.raises(UpdateFormatError):
        encrypt_update({"w": bad}, secret_ctx)


def test_fresh_updates_are_seeded_and_sums_are_full(
    secret_ctx: CkksContext, public_ctx: CkksContext
) -> None:
    upd = encrypt_update(delta(6), secret_ctx)
    by_public_key = encrypt_update(delta(6), public_ctx)
    assert upd.header.format == FORMAT
    assert all(is_seeded(c) for chunks in upd.chunks.values() for c in chunks)
    assert not any(is_seeded(c) for chunks in by_public_key.chunks.values() for c in chunks)
    assert len(upd.to_bytes()) < 0.52 * len(by_public_key.to_bytes())
    # Both encryptions are under the same key: they sum together and decrypt alike.
    summed = weighted_sum([upd, by_public_key], [250_000, 750_000], public_ctx)
    assert not any(is_seeded(c) for chunks in summed.chunks.values() for c in chunks)
    got = decrypt_update(summed, secret_ctx, dtype="float64")
    for name, arr in delta(6).items():
        assert np.abs(got[name] - arr).max() < 1e-6


def test_v1_and_v2_blobs_still_load_and_sum_to_their_own_format(
    secret_ctx: CkksContext, public_ctx: CkksContext
) -> None:
    olds = [encrypt_update(delta(k), public_ctx, fmt=FORMAT_V1) for k in (7, 8)]  # as v1 wrote
    summed = weighted_sum(olds, [400_000, 600_000], public_ctx)
    assert summed.header.format == FORMAT_V1  # a ledger written with v1 recomputes to v1 bytes
    assert weighted_sum(olds, [400_000, 600_000], public_ctx).to_bytes() == summed.to_bytes()
    v2 = encrypt_update(delta(8), secret_ctx, fmt=FORMAT_V2)
    mixed = weighted_sum([olds[0], v2], [1, 1], public_ctx)
    assert mixed.header.format == FORMAT_V2
    replaced = replace_tensor(
        olds[0], "fc1.bias", encrypt_update(delta(9), secret_ctx, fmt=FORMAT_V2)
    )
    assert replaced.header.format == FORMAT_V2
    got = decrypt_update(summed, secret_ctx, dtype="float64")
    want = 0.4 * delta(7)["fc2.weight"] + 0.6 * delta(8)["fc2.weight"]
    assert np.abs(got["fc2.weight"] - want).max() < 1e-6
    # v3 packs two values per slot: it cannot be summed with or spliced into a one-per-slot blob.
    new = encrypt_update(delta(8), secret_ctx)
    with pytest.raises(UpdateFormatError, match="pack values differently"):
        weighted_sum([v2, new], [1, 1], public_ctx)
    with pytest.raises(UpdateFormatError, match="pack values differently"):
        replace_tensor(new, "fc1.bias", v2)
    with pytest.raises(ValueError, match="public key"):
        encrypt_update(delta(8), secret_ctx, fmt=FORMAT_V1)


def test_last_level_decryption_equals_tenseals_bit_for_bit(
    secret_ctx: CkksContext, public_ctx: CkksContext
) -> None:
    from consortium.crypto.lastlevel import LastLevelDecryptor

    ours = LastLevelDecryptor(secret_ctx)
    for fmt in (FORMAT_V2, FORMAT):
        upd = encrypt_update(delta(13), secret_ctx, fmt=fmt)
        other = encrypt_update(delta(14), secret_ctx, fmt=fmt)
        summed = weighted_sum([upd, other], [999_999, 7], public_ctx)
        for blob, limbs in ((upd, 2), (summed, 1)):
            for chunk in blob.chunks["fc1.weight"]:
                vec = ts.ckks_vector_from(secret_ctx.context, unpack_ciphertext(chunk))
                assert vec.ciphertext()[0].coeff_modulus_size() == limbs
                tenseal = np.asarray(vec.decrypt())  # real parts
                assert np.array_equal(ours.decrypt(vec), tenseal)  # vec is left intact
                assert np.array_equal(ours.decrypt_complex(vec).real, tenseal)
    with pytest.raises(PermissionError):
        LastLevelDecryptor(public_ctx)


def _rescaled(upd: EncryptedUpdate, scale: float) -> EncryptedUpdate:
    """``upd`` with the SEAL scale of every ciphertext rewritten (a double the submitter owns)."""
    import struct

    at = 32 + 1 + 3 * 8  # after parms_id, is_ntt_form and the sizes (`consortium.crypto.packing`)
    chunks = {}
    for name, parts in upd.chunks.items():
        out = []
        for part in parts:
            head, tail = struct.unpack_from("<HH", part)
            pos = 4 + head + tail + at
            out.append(part[:pos] + struct.pack("<d", scale) + part[pos + 8 :])
        chunks[name] = tuple(out)
    return EncryptedUpdate(upd.header, chunks)


def _resized(upd: EncryptedUpdate, name: str, slots: int) -> EncryptedUpdate:
    """``upd`` with the TenSEAL size field of tensor ``name``'s last ciphertext set to ``slots``
    (a varint the submitter owns, like the scale)."""
    import struct

    from consortium.crypto.packing import _encode_varint

    *first, last = upd.chunks[name]
    head_len, tail_len = struct.unpack_from("<HH", last)
    sizes = _encode_varint(slots)
    head = b"\x0a" + _encode_varint(len(sizes)) + sizes
    resized = struct.pack("<HH", len(head), tail_len) + head + last[4 + head_len :]
    entries = tuple(
        t.model_copy(update={"chunk_bytes": (*t.chunk_bytes[:-1], len(resized))})
        if t.name == name
        else t
        for t in upd.header.tensors
    )
    header = upd.header.model_copy(update={"tensors": entries})
    return EncryptedUpdate(header, {**upd.chunks, name: (*first, resized)})


def test_a_submission_whose_slot_count_does_not_fit_its_shape_is_refused(
    secret_ctx: CkksContext, public_ctx: CkksContext
) -> None:
    # fc1.bias holds 50 values: 25 complex slots, the last 25 values in the imaginary parts. A
    # size field of 2048 makes a member read the 50 values from 50 real parts instead (the
    # submitter writes those slots too), while a sum that begins with another update is read with
    # that update's 25 slots: verifiers would endorse other numbers than the sum adds up.
    from consortium.crypto.update import check_submission

    values = delta(5)
    fresh = encrypt_update(values, secret_ctx)
    crafted = _resized(fresh, "fc1.bias", 2048)
    opened = decrypt_update(crafted, secret_ctx)["fc1.bias"]
    assert np.max(np.abs(opened[25:] - values["fc1.bias"][25:])) > 1e-3  # not what was encrypted
    other = encrypt_update(delta(6), secret_ctx)
    summed = weighted_sum([other, crafted], [500_000, 500_000], public_ctx)
    expected = 0.5 * delta(6)["fc1.bias"] + 0.5 * values["fc1.bias"]
    got = decrypt_update(summed, secret_ctx)["fc1.bias"]
    assert np.max(np.abs(got - expected)) < 1e-6  # ... the sum adds the encrypted values
    with pytest.raises(UpdateFormatError, match="slots"):
        check_submission(crafted, secret_ctx)
    for slots in (24, 26):
        with pytest.raises(UpdateFormatError, match="slots"):
            check_submission(_resized(fresh, "fc1.bias", slots), secret_ctx)


@pytest.mark.parametrize(
    "craft",
    [
        lambda upd, ctx, pub: _rescaled(upd, 2.0**40 * (1 + 2.0**-30)),  # SEAL: scale mismatch
        lambda upd, ctx, pub: _rescaled(upd, 1e-300),  # decodes to NaN
        lambda upd, ctx, pub: weighted_sum([upd], [1_000_000], pub),  # a sum: no level left
        lambda upd, ctx, pub: EncryptedUpdate(  # ... even when its header says "update"
            (s := weighted_sum([upd], [1_000_000], pub)).header.model_copy(
                update={"kind": "update"}
            ),
            s.chunks,
        ),
        lambda upd, ctx, pub: encrypt_update(delta(5), ctx, fmt=FORMAT_V2),  # another packing
    ],
    ids=["scale", "tiny-scale", "sum", "sum-as-update", "v2"],
)
def test_a_submission_that_decrypts_but_cannot_be_summed_is_refused(
    secret_ctx: CkksContext, public_ctx: CkksContext, craft
) -> None:
    from consortium.crypto.update import check_submission

    fresh = encrypt_update(delta(5), secret_ctx)
    check_submission(fresh, secret_ctx)  # what every honest member submits
    crafted = craft(fresh, secret_ctx, public_ctx)
    decrypt_update(crafted, secret_ctx)  # a member opens it without complaint ...
    with pytest.raises(ValueError):  # SEAL's own errors and UpdateFormatError are ValueErrors
        weighted_sum([crafted, fresh], [500_000, 500_000], public_ctx)  # ... the aggregator not
    with pytest.raises(UpdateFormatError):
        check_submission(crafted, secret_ctx)
