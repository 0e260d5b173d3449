"""The aggregator's vault cannot decrypt; the homomorphic weighted sum matches the plaintext one."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

from consortium.canonical import sha256_hex
from consortium.federation.he import HEVault
from consortium.federation.vault import PlainVault, VaultError
from consortium.federation.versions import RELEASE_GRID, apply_aggregate


@pytest.fixture(scope="module")
def vaults() -> tuple[HEVault, HEVault]:
    from consortium.crypto.context import CkksContext
    from consortium.crypto.keywrap import KeyBundle

    bundle = KeyBundle.generate()
    member = HEVault(bundle.ckks, bundle.model_key)
    aggregator = HEVault(CkksContext.from_public_bytes(bundle.ckks.public_bytes()), None)
    return member, aggregator


def _update(rng: np.random.Generator) -> OrderedDict[str, np.ndarray]:
    return OrderedDict(
        [
            ("layers.0.weight", rng.normal(scale=0.05, size=(16, 20))),
            ("layers.0.bias", rng.normal(scale=0.05, size=16)),
            ("layers.1.weight", rng.normal(scale=0.05, size=(1, 16))),
            ("layers.1.bias", rng.normal(scale=0.05, size=1)),
        ]
    )


def test_aggregator_cannot_decrypt(vaults: tuple[HEVault, HEVault]) -> None:
    member, aggregator = vaults
    blob = member.encrypt(_update(np.random.default_rng(0)))
    assert not aggregator.can_decrypt
    with pytest.raises(PermissionError):
        aggregator.decrypt(blob)
    with pytest.raises(PermissionError):
        aggregator.decrypt(aggregator.weighted_sum([blob], [500_000]))
    with pytest.raises(PermissionError):
        aggregator.open_model(member.seal_model(b"model bytes"))


def test_homomorphic_sum_equals_plaintext_sum(vaults: tuple[HEVault, HEVault]) -> None:
    member, aggregator = vaults
    rng = np.random.default_rng(1)
    updates = [_update(rng) for _ in range(4)]
    weights = [700_000, 123_457, 1, 999_999]
    he = member.decrypt(aggregator.weighted_sum([member.encrypt(u) for u in updates], weights))
    plain = PlainVault()
    expected = plain.decrypt(plain.weighted_sum([plain.encrypt(u) for u in updates], weights))
    for name, value in expected.items():
        assert np.max(np.abs(he[name] - value)) < 1e-6, name


def test_aggregate_bytes_are_recomputable(vaults: tuple[HEVault, HEVault]) -> None:
    member, aggregator = vaults
    rng = np.random.default_rng(2)
    blobs = [member.encrypt(_update(rng)) for _ in range(3)]
    first = aggregator.weighted_sum(blobs, [1, 2, 3])
    again = aggregator.weighted_sum(list(blobs), [1, 2, 3])
    assert sha256_hex(first) == sha256_hex(again)
    assert sha256_hex(aggregator.weighted_sum(blobs, [1, 2, 4])) != sha256_hex(first)


def test_replace_swaps_in_the_revealed_layer(vaults: tuple[HEVault, HEVault]) -> None:
    member, aggregator = vaults
    rng = np.random.default_rng(3)
    update = _update(rng)
    unmapped = rng.normal(size=(16, 20))
    swapped = aggregator.replace(
        member.encrypt(update), member.encrypt({"layers.0.weight": unmapped})
    )
    out = member.decrypt(swapped)
    assert np.max(np.abs(out["layers.0.weight"] - unmapped)) < 1e-6
    assert np.max(np.abs(out["layers.1.weight"] - update["layers.1.weight"])) < 1e-6


def test_version_formula_is_exact_and_deterministic() -> None:
    rng = np.random.default_rng(4)
    base = OrderedDict((k, v.astype(np.float32)) for k, v in _update(rng).items())
    agg = _update(rng)
    fresh = [1_000_000, 1_000_000]
    a = apply_aggregate(base, agg, [250_000, 250_000], 5000, fresh)
    b = apply_aggregate(
        base, OrderedDict(reversed(list(agg.items()))), [250_000, 250_000], 5000, fresh
    )
    for name in base:
        on_grid = np.round(agg[name] / RELEASE_GRID) * RELEASE_GRID  # the released step's grid
        want = (base[name].astype(np.float64) + 0.5 * on_grid * 2.0).astype(np.float32)
        assert np.array_equal(a[name], want)
        assert np.array_equal(a[name], b[name])
    assert list(a) == list(base)


def _lift_q1_limb(packed: bytes, c: int) -> bytes:
    """A seeded update ciphertext with q0·c added to c0 in the CRT sense: its q1 residues (all of
    them, in NTT form: the constant polynomial q0·c) moved, its q0 residues untouched. A member
    holding the key can write this; it decrypts modulo q0 to the same values."""
    import struct

    from consortium.crypto.params import coeff_primes

    q0, q1, _ = coeff_primes()
    head, tail = struct.unpack_from("<HH", packed)
    pos = 4 + head + tail + 97 + 4096 * 6  # members, then c0's q0 limb (6 B), its q1 limb (5 B)
    raw = np.frombuffer(packed[pos : pos + 4096 * 5], dtype=np.uint8).reshape(-1, 5)
    words = np.zeros((4096, 8), dtype=np.uint8)
    words[:, :5] = raw
    moved = [(int(v) + q0 * c) % q1 for v in words.view("<u8")[:, 0]]
    new = np.array(moved, dtype="<u8").view(np.uint8).reshape(-1, 8)[:, :5].tobytes()
    return packed[:pos] + new + packed[pos + 4096 * 5 :]


def _sized(packed: bytes, slots: int) -> bytes:
    """``packed`` with its TenSEAL size field (the slots decryption reads) set to ``slots``."""
    import struct

    from consortium.crypto.packing import _encode_varint

    head_len, tail_len = struct.unpack_from("<HH", packed)
    sizes = _encode_varint(slots)
    head = b"\x0a" + _encode_varint(len(sizes)) + sizes
    return struct.pack("<HH", len(head), tail_len) + head + packed[4 + head_len :]


def _one_chunk(member: HEVault, values: np.ndarray, chunk: bytes) -> bytes:
    from consortium.crypto.update import EncryptedUpdate, encrypt_update

    honest = encrypt_update({"w": values}, member.ctx)
    entry = honest.header.tensors[0].model_copy(update={"chunk_bytes": (len(chunk),)})
    header = honest.header.model_copy(update={"tensors": (entry,)})
    return EncryptedUpdate(header, {"w": (chunk,)}).to_bytes()


def _q1_lifted(member: HEVault, values: np.ndarray) -> bytes:
    from consortium.crypto.update import EncryptedUpdate

    honest = EncryptedUpdate.from_bytes(member.encrypt({"w": values}))
    return _one_chunk(member, values, _lift_q1_limb(honest.chunks["w"][0], 1))


def _junk_past_the_values(member: HEVault, values: np.ndarray) -> bytes:
    """One chunk whose slots past the values' ⌈n/2⌉ hold 100 + 100i (the size field says ⌈n/2⌉)."""
    from consortium.crypto.seeded import SeededEncryptor

    half = (values.size + 1) // 2
    slots = np.full(2048, 100 + 100j, dtype=np.complex128)
    slots[:half] = values[:half] + 1j * np.append(values[half:], 0.0)[:half]
    with SeededEncryptor(member.ctx) as encryptor:
        return _one_chunk(member, values, _sized(encryptor.encrypt(slots), half))


@pytest.mark.parametrize("craft", [_q1_lifted, _junk_past_the_values], ids=["q1", "unused"])
def test_a_submission_that_opens_as_one_update_and_sums_as_another_is_refused(
    vaults: tuple[HEVault, HEVault], craft
) -> None:
    # Verifiers judge what `open_update` shows them; the aggregator sums the whole ciphertext.
    # "q1": decrypting modulo q0 alone (the last-level shortcut) cannot see residues modulo q1
    # chosen apart, which the sum's rescale turns into garbage (unless the weight is exactly 1).
    # "unused": slots past the values are not read, but two such updates overflow the sum.
    member, aggregator = vaults
    rng = np.random.default_rng(7)
    values, others = rng.uniform(-0.1, 0.1, 301), rng.uniform(-0.1, 0.1, 301)
    crafted = craft(member, values)
    honest = member.encrypt({"w": others})
    blobs, weights = [honest, crafted, craft(member, values)], [600_000, 700_000, 700_000]
    summed = member.decrypt(aggregator.weighted_sum(blobs, weights))["w"]
    expected = 0.6 * others + 1.4 * values
    assert np.max(np.abs(summed - expected)) > 1.0  # the sum is not what a verifier would read
    with pytest.raises(VaultError, match="not an update as members submit them"):
        member.open_update(crafted)
    assert np.max(np.abs(member.open_update(honest)["w"] - others)) < 1e-6
