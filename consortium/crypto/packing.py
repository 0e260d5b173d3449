"""Exact bit-packing of TenSEAL CKKS ciphertexts: 15 % smaller than SEAL's own zstd framing.

A CKKS ciphertext is two polynomials whose coefficients, limb j, are integers below the prime q_j
(48 or 40 bits here), but SEAL stores each in a 64-bit word and then zstd-compresses them; random
residues do not compress much (~105.4 kB for 2048 values, 51.7 B/param). Storing each residue in
``ceil(q_j.bit_length() / 8)`` bytes (exactly 6 and 5 bytes here, as the primes were chosen with
whole-byte sizes) gives 2 * (6 + 5) * 4096 = 90,112 bytes of payload: the information-theoretic
size of the ciphertext up to < 1 bit per residue.

Packing is lossless and deterministic: `unpack_ciphertext(pack_ciphertext(b))` is a serialization
that TenSEAL loads to the same ciphertext (SEAL stored uncompressed), and packing the TenSEAL bytes
of the same ciphertext always gives the same packed bytes, which keeps weighted sums recomputable
byte for byte. It depends on the serialization of TenSEAL 0.3.18 / SEAL 4.x (pinned in
pyproject.toml); any unexpected layout raises `PackingError` instead of guessing.

TenSEAL's CKKSVector bytes are a protobuf: field 1 (the vector size), field 2 (the SEAL ciphertext),
field 3 (the scale). The SEAL ciphertext is a 16-byte SEAL header, then (compressed) its members:
parms_id (32 bytes), is_ntt_form (1), size, poly_modulus_degree, coeff_modulus_size (8 each),
scale (8), correction_factor (8), then a data array with its own 16-byte header, a count (8) and
the residues (count x 8 bytes, polynomial-major, then limb, then coefficient).
"""

from __future__ import annotations

import struct

import numpy as np
from numpy.typing import NDArray

from consortium.crypto.params import PARAMS, CkksParams, coeff_primes

__all__ = ["PackingError", "pack_ciphertext", "unpack_ciphertext"]

_SEAL_MAGIC = 0xA15E
_HEADER = struct.Struct("<HBBBBHQ")  # magic, header size, major, minor, compr_mode, reserved, size
_MEMBERS = 73  # parms_id .. correction_factor
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
    data_primes = coeff_primes(params)[:-1]
    if not 1 <= limbs <= len(data_primes):
        raise PackingError(f"ciphertext has {limbs} limbs; this context has {len(data_primes)}")
    return [(p, (p.bit_length() + 7) // 8) for p in data_primes[:limbs]]


def _geometry(raw: bytes) -> tuple[int, int, int]:
    if len(raw) < _MEMBERS + 24:
        raise PackingError("SEAL ciphertext is truncated")
    polys, degree, limbs = struct.unpack_from("<QQQ", raw, 33)
    (count,) = struct.unpack_from("<Q", raw, _MEMBERS + 16)
    if count != polys * degree * limbs or len(raw) != _MEMBERS + 24 + 8 * count:
        raise PackingError("SEAL ciphertext sizes do not add up")
    return int(polys), int(degree), int(limbs)


def _pack_limb(values: NDArray[np.uint64], width: int) -> bytes:
    return bytes(values.astype("<u8").view(np.uint8).reshape(-1, 8)[:, :width].tobytes())


def _unpack_limb(data: bytes, count: int, width: int) -> NDArray[np.uint64]:
    if len(data) != count * width:
        raise PackingError("packed ciphertext is truncated")
    words = np.zeros((count, 8), dtype=np.uint8)
    words[:, :width] = np.frombuffer(data, dtype=np.uint8).reshape(count, width)
    return words.view("<u8").ravel()


def pack_ciphertext(tenseal_bytes: bytes, params: CkksParams = PARAMS) -> bytes:
    """Repack TenSEAL ``CKKSVector.serialize()`` bytes with exactly-sized residues."""
    head, seal, tail = _split_proto(tenseal_bytes)
    raw = _seal_payload(seal)
    polys, degree, limbs = _geometry(raw)
    residues = np.frombuffer(raw, dtype="<u8", offset=_MEMBERS + 24).reshape(polys, limbs, degree)
    parts = [struct.pack("<HH", len(head), len(tail)), head, tail, raw[: _MEMBERS + 24]]
    for j, (prime, width) in enumerate(_limb_primes(limbs, params)):
        limb = residues[:, j, :].ravel()
        if int(limb.max()) >= prime:
            raise PackingError("a residue is not below its prime: not a ciphertext of this context")
        parts.append(_pack_limb(limb, width))
    return b"".join(parts)


def unpack_ciphertext(packed: bytes, params: CkksParams = PARAMS) -> bytes:
    """TenSEAL-loadable bytes (SEAL uncompressed) for a `pack_ciphertext` output."""
    if len(packed) < 4:
        raise PackingError("packed ciphertext is truncated")
    head_len, tail_len = struct.unpack_from("<HH", packed)
    pos = 4 + head_len + tail_len
    head, tail = packed[4 : 4 + head_len], packed[4 + head_len : pos]
    meta = packed[pos : pos + _MEMBERS + 24]
    pos += _MEMBERS + 24
    polys, degree, limbs = _geometry(meta + bytes(8 * _count(meta)))
    residues = np.empty((polys, limbs, degree), dtype="<u8")
    for j, (prime, width) in enumerate(_limb_primes(limbs, params)):
        size = polys * degree * width
        limb = _unpack_limb(packed[pos : pos + size], polys * degree, width)
        if int(limb.max()) >= prime:
            raise PackingError("packed ciphertext is corrupted: a residue exceeds its prime")
        residues[:, j, :] = limb.reshape(polys, degree)
        pos += size
    if pos != len(packed):
        raise PackingError("packed ciphertext has trailing bytes")
    raw = meta + residues.tobytes()
    major, minor = meta[_MEMBERS + 3], meta[_MEMBERS + 4]
    seal = _HEADER.pack(_SEAL_MAGIC, 16, major, minor, _COMPR_NONE, 0, 16 + len(raw)) + raw
    return head + b"\x12" + _encode_varint(len(seal)) + seal + tail


def _count(meta: bytes) -> int:
    if len(meta) != _MEMBERS + 24:
        raise PackingError("packed ciphertext is truncated")
    return int(struct.unpack_from("<Q", meta, _MEMBERS + 16)[0])
