"""Exact bit-packing of CKKS ciphertexts, full or seeded, in the layout TenSEAL loads.

A CKKS ciphertext is two polynomials (c0, c1) whose coefficients, limb j, are integers below the
prime q_j (48 or 40 bits here), but SEAL stores each in a 64-bit word and then zstd-compresses
them; random residues hardly compress (~105.4 kB per ciphertext). Storing each
residue in ``ceil(q_j.bit_length() / 8)`` bytes (exactly 6 and 5 bytes here, as the primes were
chosen with whole-byte sizes) is the information content up to < 1 bit per residue.

Two kinds of ciphertexts are packed:

- **full** (a weighted sum, or an update encrypted with the public key): both polynomials,
  2 x (6 + 5) x 4096 = 90,112 bytes of residues per ciphertext (22 B/param with the two values per
  complex slot of `consortium.crypto.update`, 44 with one);
- **seeded** (a fresh update encrypted with the secret key, `consortium.crypto.seeded`): SEAL
  writes c0 and, instead of the uniformly random c1, the 81-byte `UniformRandomGeneratorInfo`
  (SEAL header, PRNG type, 512-bit seed) it was drawn from: 45,056 bytes of residues plus the seed
  (11 B/param with two values per slot). SEAL's ``Ciphertext::load`` expands the seed back into
  c1, so TenSEAL loads the unpacked bytes like any other ciphertext (SEAL,
  native/src/seal/ciphertext.cpp, load_members).

Packing is lossless and deterministic: `unpack_ciphertext` gives TenSEAL bytes (SEAL stored
uncompressed) that load to the same ciphertext, `pack_ciphertext` of those bytes gives the same
packed bytes, and packing the TenSEAL bytes of one ciphertext always gives the same packed bytes,
which keeps weighted sums recomputable byte for byte. It depends on the serialization of TenSEAL
0.3.18 / SEAL 4.x (pinned in pyproject.toml); any unexpected layout raises `PackingError` instead
of guessing.

TenSEAL's CKKSVector bytes are a protobuf (tenseal/proto/tensors.proto, ``CKKSVectorProto``):
field 1 (packed vector sizes), field 2 (the SEAL ciphertext), field 3 (the scale, a double). The
SEAL ciphertext is a 16-byte SEAL header, then (compressed) its members: parms_id (32 bytes),
is_ntt_form (1), size, poly_modulus_degree, coeff_modulus_size (8 each), scale (8),
correction_factor (8), then a data array with its own 16-byte header, a count (8) and the
residues (count x 8 bytes, polynomial-major, then limb, then coefficient), then for a seeded
ciphertext the PRNG info.

Packed layout: ``len(head)`` and ``len(tail)`` (2 bytes each, little-endian), the protobuf bytes
before and after field 2, the 97 bytes of members and array header, the residues limb by limb in
exact widths, and for a seeded ciphertext the 81 bytes of PRNG info.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from consortium.crypto.params import PARAMS, CkksParams, coeff_primes

__all__ = [
    "PackingError",
    "is_seeded",
    "level_and_scale",
    "pack_ciphertext",
    "pack_seal",
    "slot_count",
    "unpack_ciphertext",
    "unpack_ciphertexts",
]

_SEAL_MAGIC = 0xA15E
_HEADER = struct.Struct("<HBBBBHQ")  # magic, header size, major, minor, compr_mode, reserved, size
_MEMBERS = 73  # parms_id .. correction_factor
_META = _MEMBERS + 24  # members, data array header (16) and its element count (8)
_SCALE = 32 + 1 + 3 * 8  # the scale (a double) after parms_id, is_ntt_form and the three sizes
_SEED_INFO = 16 + 1 + 64  # UniformRandomGeneratorInfo: SEAL header, prng_type, 8 x uint64 seed
_PRNG_TYPES = (1, 2)  # SEAL prng_type: blake2xb, shake256
_COMPR_NONE, _COMPR_ZLIB, _COMPR_ZSTD = 0, 1, 2


class PackingError(ValueError):
    """Bytes that are not a TenSEAL CKKS ciphertext of the expected layout."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(data) or shift > 63:
            raise PackingError("truncated protobuf varint")
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if not byte & 0x80:
            return value, pos


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _split_proto(data: bytes) -> tuple[bytes, bytes, bytes]:
    """(bytes before field 2, field 2's payload, bytes after it)."""
    pos = 0
    while pos < len(data):
        start = pos
        tag, pos = _varint(data, pos)
        wire = tag & 7
        if wire == 2:
            length, pos = _varint(data, pos)
            if tag >> 3 == 2:
                return data[:start], data[pos : pos + length], data[pos + length :]
            pos += length
        elif wire == 0:
            _, pos = _varint(data, pos)
        elif wire == 1:
            pos += 8
        else:
            raise PackingError(f"unexpected protobuf wire type {wire}")
    raise PackingError("no SEAL ciphertext in the TenSEAL bytes")


def _seal_payload(seal: bytes) -> bytes:
    if len(seal) < _HEADER.size:
        raise PackingError("SEAL ciphertext is truncated")
    magic, size, _, _, compr, _, total = _HEADER.unpack_from(seal)
    if magic != _SEAL_MAGIC or size != 16 or total != len(seal):
        raise PackingError("bad SEAL header")
    body = seal[16:]
    if compr == _COMPR_NONE:
        return body
    if compr == _COMPR_ZLIB:
        import zlib

        try:
            return zlib.decompress(body)
        except zlib.error as err:
            raise PackingError(f"bad zlib stream: {err}") from err
    if compr == _COMPR_ZSTD:
        import zstandard

        try:
            return bytes(zstandard.ZstdDecompressor().decompressobj().decompress(body))
        except zstandard.ZstdError as err:
            raise PackingError(f"bad zstd stream: {err}") from err
    raise PackingError(f"unknown SEAL compression mode {compr}")


def _limb_primes(limbs: int, params: CkksParams) -> list[tuple[int, int]]:
    """(prime, bytes per residue) of each limb of a ciphertext with ``limbs`` limbs."""
    data_primes = _data_primes(params)
    if not 1 <= limbs <= len(data_primes):
        raise PackingError(f"ciphertext has {limbs} limbs; this context has {len(data_primes)}")
    return list(data_primes[:limbs])


@functools.lru_cache(maxsize=8)
def _data_primes(params: CkksParams) -> tuple[tuple[int, int], ...]:
    return tuple((p, (p.bit_length() + 7) // 8) for p in coeff_primes(params)[:-1])


# Residues are at most 8 bytes wide; one of 5 to 8 bytes is read and written as a 4-byte low
# part and a 1-, 2- or 4-byte high part (numpy has no 5- or 6-byte integers), which is several
# times faster than copying single bytes into 8-byte words.
_HIGH: dict[int, str] = {1: "u1", 2: "<u2", 4: "<u4"}


def _pair(width: int) -> np.dtype[np.void] | None:
    high = _HIGH.get(width - 4)
    return None if high is None else np.dtype([("lo", "<u4"), ("hi", high)])


def _narrow(words: NDArray[np.uint64], width: int) -> bytes:
    """Each word's ``width`` low bytes, little-endian, back to back (words below 2^(8·width))."""
    pair = _pair(width)
    if pair is None:
        return words.astype("<u8").view(np.uint8).reshape(-1, 8)[:, :width].tobytes()
    out = np.empty(words.size, dtype=pair)
    out["lo"] = words & np.uint64(0xFFFFFFFF)
    out["hi"] = words >> np.uint64(32)
    return out.tobytes()


def _widen(raw: NDArray[np.uint8], width: int) -> NDArray[np.uint64]:
    """The inverse of `_narrow` for a C-contiguous byte array whose last axis holds whole words."""
    pair = _pair(width)
    if pair is None:
        words = np.zeros((raw.size // width, 8), dtype=np.uint8)
        words[:, :width] = raw.reshape(-1, width)
        return words.view("<u8")[:, 0].astype(np.uint64)
    split = raw.reshape(-1).view(pair)
    return split["lo"].astype(np.uint64) | (split["hi"].astype(np.uint64) << np.uint64(32))


def _geometry(meta: bytes) -> tuple[int, int, int, int]:
    """(stored polynomials, polynomials, degree, limbs) from the members and array header.

    A full ciphertext stores all its polynomials; a seeded one (two polynomials) stores only c0,
    and its PRNG info follows the residues.
    """
    if len(meta) != _META:
        raise PackingError("SEAL ciphertext is truncated")
    polys, degree, limbs = struct.unpack_from("<QQQ", meta, 33)
    (count,) = struct.unpack_from("<Q", meta, _MEMBERS + 16)
    if degree * limbs == 0 or count == 0:
        raise PackingError("SEAL ciphertext sizes do not add up")
    if count == polys * degree * limbs:
        return int(polys), int(polys), int(degree), int(limbs)
    if count == degree * limbs and polys == 2:
        return 1, 2, int(degree), int(limbs)
    raise PackingError("SEAL ciphertext sizes do not add up")


def _check_seed_info(info: bytes) -> None:
    if len(info) != _SEED_INFO:
        raise PackingError("seeded ciphertext: PRNG info is truncated or has trailing bytes")
    magic, size, _, _, compr, _, total = _HEADER.unpack_from(info)
    if (magic, size, compr, total) != (_SEAL_MAGIC, 16, _COMPR_NONE, _SEED_INFO):
        raise PackingError("seeded ciphertext: bad PRNG info header")
    if info[16] not in _PRNG_TYPES:
        raise PackingError(f"seeded ciphertext: unknown PRNG type {info[16]}")


def is_seeded(packed: bytes) -> bool:
    """True when ``packed`` holds a seeded ciphertext (c1 stored as its PRNG seed)."""
    if len(packed) < 4:
        raise PackingError("packed ciphertext is truncated")
    head_len, tail_len = struct.unpack_from("<HH", packed)
    pos = 4 + head_len + tail_len
    stored, polys, _, _ = _geometry(packed[pos : pos + _META])
    return stored < polys


def level_and_scale(packed: bytes) -> tuple[int, float]:
    """(limbs, scale) of a packed ciphertext, read from its SEAL members without unpacking it:
    how many primes of the modulus it has left, and what decoding divides its values by."""
    if len(packed) < 4:
        raise PackingError("packed ciphertext is truncated")
    head_len, tail_len = struct.unpack_from("<HH", packed)
    pos = 4 + head_len + tail_len
    meta = packed[pos : pos + _META]
    _, _, _, limbs = _geometry(meta)
    (scale,) = struct.unpack_from("<d", meta, _SCALE)
    return limbs, float(scale)


def slot_count(packed: bytes) -> int:
    """The slots a packed ciphertext's TenSEAL framing says it holds (its size field), which is
    how many slots decryption reads; `pack_seal` writes it, a submitter may write any."""
    if len(packed) < 4:
        raise PackingError("packed ciphertext is truncated")
    (head_len,) = struct.unpack_from("<H", packed)
    head = packed[4 : 4 + head_len]
    if len(head) < 2 or head[0] != 0x0A:
        raise PackingError("no size field in the TenSEAL framing")
    length, pos = _varint(head, 1)
    size, end = _varint(head, pos)
    if end != pos + length or end != len(head):
        raise PackingError("the TenSEAL framing holds other than one size")
    return size


def _pack(head: bytes, seal: bytes, tail: bytes, params: CkksParams) -> bytes:
    raw = _seal_payload(seal)
    stored, polys, degree, limbs = _geometry(raw[:_META])
    body = _META + 8 * stored * degree * limbs
    seeded = stored < polys
    if len(raw) != body + (_SEED_INFO if seeded else 0):
        raise PackingError("SEAL ciphertext sizes do not add up")
    residues = np.frombuffer(raw, dtype="<u8", count=stored * limbs * degree, offset=_META)
    residues = residues.reshape(stored, limbs, degree)
    if len(head) > 0xFFFF or len(tail) > 0xFFFF:
        raise PackingError("TenSEAL framing is too long")
    parts = [struct.pack("<HH", len(head), len(tail)), head, tail, raw[:_META]]
    for j, (prime, width) in enumerate(_limb_primes(limbs, params)):
        limb = residues[:, j, :].ravel()
        if int(limb.max()) >= prime:
            raise PackingError("a residue is not below its prime: not a ciphertext of this context")
        parts.append(_narrow(limb, width))
    if seeded:
        _check_seed_info(raw[body:])
        parts.append(raw[body:])
    return b"".join(parts)


def pack_ciphertext(tenseal_bytes: bytes, params: CkksParams = PARAMS) -> bytes:
    """Repack TenSEAL ``CKKSVector.serialize()`` bytes (one ciphertext) with exact residues."""
    head, seal, tail = _split_proto(tenseal_bytes)
    return _pack(head, seal, tail, params)


def pack_seal(seal_bytes: bytes, size: int, scale: float, params: CkksParams = PARAMS) -> bytes:
    """Pack a SEAL ciphertext as the CKKSVector of ``size`` values at ``scale`` TenSEAL would write.

    The framing is what ``CKKSVector.serialize()`` emits for one ciphertext (field 1: the packed
    size, field 3: the scale), so the unpacked bytes load with ``ts.ckks_vector_from``.
    """
    if not 1 <= size <= params.slots:
        raise PackingError(f"a ciphertext holds 1..{params.slots} slots, not {size}")
    sizes = _encode_varint(size)
    head = b"\x0a" + _encode_varint(len(sizes)) + sizes
    return _pack(head, seal_bytes, b"\x19" + struct.pack("<d", scale), params)


class _Framed(NamedTuple):
    """One packed ciphertext split into its parts (residues still packed)."""

    head: bytes
    tail: bytes
    meta: bytes
    geometry: tuple[int, int, int]  # stored polynomials, degree, limbs
    residues: bytes
    info: bytes  # PRNG info of a seeded ciphertext, else empty


def _frame(packed: bytes, params: CkksParams) -> _Framed:
    if len(packed) < 4:
        raise PackingError("packed ciphertext is truncated")
    head_len, tail_len = struct.unpack_from("<HH", packed)
    pos = 4 + head_len + tail_len
    head, tail = packed[4 : 4 + head_len], packed[4 + head_len : pos]
    meta = packed[pos : pos + _META]
    stored, polys, degree, limbs = _geometry(meta)
    size = stored * degree * sum(w for _, w in _limb_primes(limbs, params))
    residues, rest = packed[pos + _META : pos + _META + size], packed[pos + _META + size :]
    if len(residues) != size:
        raise PackingError("packed ciphertext is truncated")
    if stored < polys:
        _check_seed_info(rest)
    elif rest:
        raise PackingError("packed ciphertext has trailing bytes")
    return _Framed(head, tail, meta, (stored, degree, limbs), residues, rest)


def _unpack_residues(
    group: list[_Framed], geometry: tuple[int, int, int], params: CkksParams
) -> NDArray[np.uint64]:
    """The residues of ciphertexts of one geometry, as (count, stored, limbs, degree) words."""
    stored, degree, limbs = geometry
    body = np.frombuffer(b"".join(f.residues for f in group), dtype=np.uint8)
    body = body.reshape(len(group), -1)
    out = np.empty((len(group), stored, limbs, degree), dtype="<u8")
    offset = 0
    for j, (prime, width) in enumerate(_limb_primes(limbs, params)):
        size = stored * degree * width
        limb = _widen(np.ascontiguousarray(body[:, offset : offset + size]), width)
        limb = limb.reshape(len(group), stored, degree)
        if int(limb.max()) >= prime:
            raise PackingError("packed ciphertext is corrupted: a residue exceeds its prime")
        out[:, :, j, :] = limb
        offset += size
    return out


def _tenseal_bytes(framed: _Framed, residues: bytes) -> bytes:
    raw = framed.meta + residues + framed.info
    major, minor = framed.meta[_MEMBERS + 3], framed.meta[_MEMBERS + 4]
    seal = _HEADER.pack(_SEAL_MAGIC, 16, major, minor, _COMPR_NONE, 0, 16 + len(raw)) + raw
    return framed.head + b"\x12" + _encode_varint(len(seal)) + seal + framed.tail


def unpack_ciphertexts(packed: Sequence[bytes], params: CkksParams = PARAMS) -> list[bytes]:
    """`unpack_ciphertext` of each, the residue arithmetic done once per geometry (numpy)."""
    framed = [_frame(p, params) for p in packed]
    groups: dict[tuple[int, int, int], list[int]] = {}
    for i, f in enumerate(framed):
        groups.setdefault(f.geometry, []).append(i)
    out = [b""] * len(framed)
    for geometry, idx in groups.items():
        residues = _unpack_residues([framed[i] for i in idx], geometry, params)
        for n, i in enumerate(idx):
            out[i] = _tenseal_bytes(framed[i], residues[n].tobytes())
    return out


def unpack_ciphertext(packed: bytes, params: CkksParams = PARAMS) -> bytes:
    """TenSEAL-loadable bytes (SEAL uncompressed) for a `pack_ciphertext` / `pack_seal` output."""
    return unpack_ciphertexts([packed], params)[0]
