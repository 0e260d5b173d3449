"""Encrypted model updates: CKKS-encrypt a dict of tensors, sum them with public weights, decrypt.

Layout. Tensors are taken in name order; each one is flattened (row-major) and cut into chunks of
2·(N/2) = 4096 values, one ciphertext per chunk. Chunking is per tensor, so one tensor can be
swapped for the same tensor of another blob (`replace_tensor`): the SML's unmapped first layer
replaces the mapped one before aggregation (docs/decisions/0001-protocol.md, "The Secure Mapping
Layer").

Complex packing (v3). A CKKS ciphertext has N/2 *complex* slots. A chunk of n values puts its first
h = ⌈n/2⌉ values in the real parts of slots 0..h−1 and the other n − h in their imaginary parts,
so one ciphertext carries 4096 values instead of 2048: half the ciphertexts, hence half the
bytes, encryptions, decryptions and homomorphic products per parameter. The homomorphic work is
unchanged in kind: a public weight is a real scalar, and w·(a + ib) = w·a + i·w·b, so real and
imaginary parts are weighted and summed independently. Precision is the same per value (SEAL's
real decoding is the complex one with the imaginary part dropped; the encoding and encryption
noise of each slot is complex anyway), and so is the range: the coefficients of an encoding are
bounded by the scale times the largest |slot| (a complex slot of two values ≤ `MAX_ABS_VALUE` has
modulus ≤ √2·4, and a weighted sum of such stays below 2^7; `consortium.crypto.params`).
docs/decisions/0005-encryption.md, "Complex packing", has the measurements.

Blob format (``consortium/he-update/v3``; its SHA-256 is the digest on the ledger)::

    b"CSHEUPD1"                       8 bytes, magic
    header length                     4 bytes, big-endian unsigned
    header                            canonical JSON (`UpdateHeader`)
    ciphertexts                       one per chunk, back to back, in header order (tensors by
                                      name, chunks in order); their lengths are in the header.
                                      Each is a TenSEAL CKKSVector serialization (its size field:
                                      the slots used) with its residues stored in exactly 6 / 5
                                      bytes (`consortium.crypto.packing`). A fresh update is
                                      encrypted with the secret key and stored seeded (c1 as its
                                      PRNG seed, `consortium.crypto.seeded`): 11 B/param; a
                                      weighted sum is full size: 12 B/param (one prime left).

Earlier formats are read, summed and replaced as before, so a ledger written with them still
recomputes to the same bytes: ``v2`` (real packing, 2048 values per ciphertext, seeded) and ``v1``
(real packing, full-size ciphertexts). A blob derived from v1 blobs only stays v1, from v1 and v2
blobs v2; v3 blobs combine only with v3 blobs (another packing).

The header is canonical JSON so that the same update always has the same bytes. ``kind`` is
``update`` for a fresh encryption (two data primes: one multiplication left) and ``sum`` for a
weighted sum (one prime left: it can be decrypted or added to, not weighted again).

Weighted sums. ``weighted_sum`` computes sum_k (w_k / 1e6) * Enc(u_k) with the integer weights from
the ledger, using only the public context: for v3, the k plaintext-scalar products of a chunk are
added at scale 2^80 and rescaled once (`_sum_tensor_one_rescale`); v1 and v2 sums are computed as
they were (TenSEAL: product, rescale, addition). Products, additions, the rescale and SEAL's
serialization are deterministic, so anyone holding the inputs recomputes the same bytes
(tests/crypto/test_update.py checks it).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, ValidationError

from consortium.canonical import canonical_json, sha256_hex
from consortium.crypto.context import CkksContext
from consortium.crypto.lastlevel import LastLevelDecryptor
from consortium.crypto.packing import (
    PackingError,
    level_and_scale,
    pack_ciphertext,
    pack_seal,
    slot_count,
    unpack_ciphertexts,
)
from consortium.crypto.params import (
    MAX_ABS_VALUE,
    MAX_WEIGHT_SUM_PPM,
    coeff_primes,
    exact_weight_scalar,
)
from consortium.crypto.seeded import PublicKeyEncryptor, ScratchFile, SeededEncryptor

__all__ = [
    "FORMAT",
    "FORMAT_V1",
    "FORMAT_V2",
    "EncryptedUpdate",
    "TensorEntry",
    "UpdateFormatError",
    "UpdateHeader",
    "check_submission",
    "decrypt_update",
    "encrypt_update",
    "open_submission",
    "replace_tensor",
    "weighted_sum",
]

FORMAT: Literal["consortium/he-update/v3"] = "consortium/he-update/v3"
FORMAT_V2: Literal["consortium/he-update/v2"] = "consortium/he-update/v2"
FORMAT_V1: Literal["consortium/he-update/v1"] = "consortium/he-update/v1"
Format = Literal["consortium/he-update/v1", "consortium/he-update/v2", "consortium/he-update/v3"]
MAGIC = b"CSHEUPD1"
_DTYPES: dict[str, Literal["float32", "float64"]] = {"float32": "float32", "float64": "float64"}


class UpdateFormatError(ValueError):
    """Bytes that are not a well-formed encrypted update, or an update that cannot be used so."""


class TensorEntry(BaseModel):
    """One tensor of an encrypted update: its name, shape, dtype and ciphertext sizes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    shape: tuple[int, ...]
    dtype: Literal["float32", "float64"]
    chunk_bytes: tuple[int, ...]


class UpdateHeader(BaseModel):
    """The canonical-JSON header of an encrypted-update blob."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Format = FORMAT
    kind: Literal["update", "sum"]
    context_digest: str
    slots: int
    tensors: tuple[TensorEntry, ...]


@dataclass(frozen=True)
class EncryptedUpdate:
    """An encrypted update in memory: the header and, per tensor, its serialized ciphertexts."""

    header: UpdateHeader
    chunks: Mapping[str, tuple[bytes, ...]]

    def to_bytes(self) -> bytes:
        """The blob bytes (deterministic)."""
        head = canonical_json(self.header)
        body = b"".join(c for t in self.header.tensors for c in self.chunks[t.name])
        return MAGIC + struct.pack(">I", len(head)) + head + body

    @property
    def digest(self) -> str:
        """SHA-256 of `to_bytes` (the digest the blob store and the ledger use)."""
        return sha256_hex(self.to_bytes())

    def entry(self, name: str) -> TensorEntry:
        """The header entry of tensor ``name``."""
        for t in self.header.tensors:
            if t.name == name:
                return t
        raise UpdateFormatError(f"the update has no tensor named {name!r}")

    @classmethod
    def from_bytes(cls, data: bytes) -> EncryptedUpdate:
        """Parse blob bytes, checking magic, header and ciphertext lengths."""
        if data[:8] != MAGIC or len(data) < 12:
            raise UpdateFormatError("not an encrypted update (bad magic); was it another blob?")
        (size,) = struct.unpack(">I", data[8:12])
        try:
            header = UpdateHeader.model_validate_json(data[12 : 12 + size])
        except ValidationError as err:
            raise UpdateFormatError(f"bad encrypted-update header: {err}") from err
        _check_layout(header)
        chunks: dict[str, tuple[bytes, ...]] = {}
        pos = 12 + size
        for t in header.tensors:
            parts = []
            for n in t.chunk_bytes:
                parts.append(data[pos : pos + n])
                pos += n
            chunks[t.name] = tuple(parts)
        if pos != len(data):
            raise UpdateFormatError("encrypted update is truncated or has trailing bytes")
        return cls(header, chunks)


def _check_layout(header: UpdateHeader) -> None:
    names = [t.name for t in header.tensors]
    if names != sorted(set(names)):
        raise UpdateFormatError("tensor names must be unique and sorted")
    per_chunk = _values_per_chunk(header.format, header.slots)
    for t in header.tensors:
        if len(t.chunk_bytes) != math.ceil(math.prod(t.shape) / per_chunk):
            raise UpdateFormatError(f"tensor {t.name!r}: chunk count does not match its shape")


def _complex_packed(fmt: str) -> bool:
    return fmt == FORMAT


def _values_per_chunk(fmt: str, slots: int) -> int:
    """Values one ciphertext carries: two per slot with complex packing (v3), else one."""
    return 2 * slots if _complex_packed(fmt) else slots


def _derived_format(*headers: UpdateHeader) -> Format:
    """The format of a blob made from these: v3 from v3 only; v1 from v1 only, else v2.

    Keeping the older formats is what lets a ledger written with them recompute to the same
    bytes; v3 and the older (real-packed) formats cannot be combined.
    """
    packings = {_complex_packed(h.format) for h in headers}
    if len(packings) > 1:
        raise UpdateFormatError(
            "these blobs pack values differently (consortium/he-update/v3 packs two per slot, "
            "v1 and v2 one): they cannot be combined; re-encrypt the older update"
        )
    if packings == {True}:
        return FORMAT
    return FORMAT_V1 if all(h.format == FORMAT_V1 for h in headers) else FORMAT_V2


def _as_update(item: EncryptedUpdate | bytes) -> EncryptedUpdate:
    return item if isinstance(item, EncryptedUpdate) else EncryptedUpdate.from_bytes(item)


def _flat(name: str, array: Any) -> tuple[NDArray[np.float64], Literal["float32", "float64"]]:
    arr = np.asarray(array)
    dtype = _DTYPES.get(str(arr.dtype), "float64")
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise UpdateFormatError(f"tensor {name!r} is not a real-valued array ({arr.dtype})")
    flat = arr.astype(np.float64).ravel()
    if not np.all(np.isfinite(flat)):
        raise UpdateFormatError(f"tensor {name!r} contains NaN or infinity")
    if flat.size and float(np.abs(flat).max()) > MAX_ABS_VALUE:
        raise UpdateFormatError(
            f"tensor {name!r} has entries beyond ±{MAX_ABS_VALUE}; CKKS here is sized for model "
            "deltas (clip or rescale the update)"
        )
    return flat, dtype


@contextmanager
def _chunk_encryptor(ctx: CkksContext) -> Iterator[Callable[[NDArray[Any]], bytes]]:
    """slots -> one packed ciphertext: seeded secret-key encryption if ``ctx`` holds the key."""
    with (SeededEncryptor if ctx.can_decrypt else PublicKeyEncryptor)(ctx) as encryptor:
        yield encryptor.encrypt


def _to_slots(values: NDArray[np.float64]) -> NDArray[np.complex128]:
    """v3 packing of one chunk: the first ⌈n/2⌉ values as real parts, the rest as imaginary."""
    half = (values.size + 1) // 2
    slots = np.zeros(half, dtype=np.complex128)
    slots.real = values[:half]
    slots.imag[: values.size - half] = values[half:]
    return slots


def _from_slots(slots: NDArray[np.complex128], count: int) -> NDArray[np.float64]:
    """The ``count`` values of a v3 chunk (the inverse of `_to_slots`)."""
    return np.concatenate([slots.real, slots.imag])[:count]


def encrypt_update(
    tensors: Mapping[str, Any], ctx: CkksContext, *, fmt: Format = FORMAT
) -> EncryptedUpdate:
    """Encrypt ``{name: array}`` (any float arrays) under ``ctx``.

    With a secret context (members: the only ones who encrypt updates) every chunk is encrypted
    with the secret key and stored seeded (`consortium.crypto.seeded`: half the bytes, and no
    public-key product). A public context can only use the public key (full-size ciphertexts);
    nothing in the protocol does so, it is kept for tools and tests. ``fmt`` writes an older
    real-packed format (`FORMAT_V2`, or `FORMAT_V1` with a public context): only to test that
    blobs from earlier ledgers are still read and recomputed.
    """
    if fmt == FORMAT_V1 and ctx.can_decrypt:
        raise ValueError("consortium/he-update/v1 blobs were encrypted with the public key")
    slots = ctx.params.slots
    per_chunk = _values_per_chunk(fmt, slots)
    entries: list[TensorEntry] = []
    chunks: dict[str, tuple[bytes, ...]] = {}
    with _chunk_encryptor(ctx) as encrypt:
        for name in sorted(tensors):
            flat, dtype = _flat(name, tensors[name])
            pieces = [flat[i : i + per_chunk] for i in range(0, flat.size, per_chunk)]
            if _complex_packed(fmt):
                parts = tuple(encrypt(_to_slots(piece)) for piece in pieces)
            else:
                parts = tuple(encrypt(piece) for piece in pieces)
            shape = tuple(int(d) for d in np.shape(tensors[name]))
            entries.append(
                TensorEntry(
                    name=name, shape=shape, dtype=dtype, chunk_bytes=tuple(len(p) for p in parts)
                )
            )
            chunks[name] = parts
    header = UpdateHeader(
        format=fmt, kind="update", context_digest=ctx.digest, slots=slots, tensors=tuple(entries)
    )
    return EncryptedUpdate(header, chunks)


def decrypt_update(
    update: EncryptedUpdate | bytes, ctx: CkksContext, *, dtype: str | None = None
) -> dict[str, NDArray[Any]]:
    """Decrypt to ``{name: array}`` with the original shapes (needs the secret key).

    Arrays get the dtype recorded at encryption unless ``dtype`` (e.g. ``"float64"``) is given.
    """
    upd = _as_update(update)
    ctx.check(upd.header.context_digest, "this update")
    if not ctx.can_decrypt:
        raise PermissionError("this context holds no secret key: it cannot decrypt updates")
    decryptor = LastLevelDecryptor(ctx)
    per_chunk = _values_per_chunk(upd.header.format, upd.header.slots)
    out: dict[str, NDArray[Any]] = {}
    for t in upd.header.tensors:
        vectors = _load_all(ctx, upd.chunks[t.name])
        if _complex_packed(upd.header.format):
            size = math.prod(t.shape)
            values = [
                _from_slots(decryptor.decrypt_complex(v), min(per_chunk, size - i * per_chunk))
                for i, v in enumerate(vectors)
            ]
        else:
            values = [decryptor.decrypt(v) for v in vectors]
        flat = np.concatenate(values or [np.zeros(0)])
        out[t.name] = flat.reshape(t.shape).astype(dtype or t.dtype)
    return out


def check_submission(update: EncryptedUpdate | bytes, ctx: CkksContext) -> None:
    """UpdateFormatError unless ``update`` is laid out as `encrypt_update` makes it under ``ctx``
    in the current format: a ``consortium/he-update/v3`` ``update`` whose ciphertexts all have
    every data prime and the context's scale, which `weighted_sum` sums with any other such
    update.

    A member writes its own ciphertexts, and one that decrypts as it should may still not sum:
    an older format packs values differently, a ``sum`` has no prime left for the weight's
    product, and SEAL adds no two ciphertexts of different scales. A scale is also what decoding
    divides by, so one near 0 decrypts to NaN. Each ciphertext must also say it holds the slots its
    share of the tensor takes (``⌈values/2⌉``, the TenSEAL size field): decryption reads that
    many slots, so a larger count shows a member other numbers (real parts where the imaginary
    ones should be) than a sum read with another update's count adds up. Verifiers check this
    before decrypting a submitted update (`consortium.federation.he.HEVault.open_update`); the
    aggregator, which sums what they accepted, stopped on each of the others.
    """
    upd = _as_update(update)
    if upd.header.format != FORMAT or upd.header.kind != "update":
        raise UpdateFormatError(
            f"a submitted update must be a {FORMAT} update, not a {upd.header.format} "
            f"{upd.header.kind}"
        )
    limbs, scale = len(coeff_primes(ctx.params)) - 1, 2.0**ctx.params.scale_bits
    per_chunk = _values_per_chunk(FORMAT, upd.header.slots)
    for t in upd.header.tensors:
        for i, chunk in enumerate(upd.chunks[t.name]):
            try:
                level, slots = level_and_scale(chunk), slot_count(chunk)
            except PackingError as err:
                raise UpdateFormatError(f"bad ciphertext in the update: {err}") from err
            if level != (limbs, scale):
                raise UpdateFormatError(
                    f"tensor {t.name!r}: a ciphertext with {level[0]} primes at scale {level[1]!r}"
                    f", where a fresh update has {limbs} at {scale!r}"
                )
            values = min(per_chunk, math.prod(t.shape) - i * per_chunk)
            if slots != (values + 1) // 2:
                raise UpdateFormatError(
                    f"tensor {t.name!r}: ciphertext {i} says it holds {slots} slots, where its "
                    f"{values} values take {(values + 1) // 2}"
                )


UNUSED_SLOT_TOLERANCE = 2.0**-20
"""How far from 0 a slot no value occupies may decrypt in a submitted update (`open_submission`):
an honest one holds an encoded 0 plus noise ~1e-9."""


def open_submission(
    update: EncryptedUpdate | bytes, ctx: CkksContext, *, dtype: str | None = None
) -> dict[str, NDArray[Any]]:
    """`decrypt_update` of an update a member submitted, refused (`UpdateFormatError`) unless it
    decrypts as a weighted sum will add it.

    It must pass `check_submission`; each ciphertext is then decrypted with both data primes,
    not at the last level (`LastLevelDecryptor.decrypt_every_slot`: a submitter can choose the
    q1 residues apart from the q0 ones, and the sum's rescale adds what they hold), and every
    slot past the chunk's values must decrypt to 0 (within `UNUSED_SLOT_TOLERANCE`): nothing
    reads them, but a sum adds them, and large ones overflow its modulus, which garbles every
    slot. What opens is then what the aggregate sums; the values themselves are bounded by the
    caller (`consortium.federation.ledgerview` checks ±`MAX_ABS_VALUE`).
    """
    upd = _as_update(update)
    check_submission(upd, ctx)
    ctx.check(upd.header.context_digest, "this update")
    decryptor = LastLevelDecryptor(ctx)
    per_chunk = _values_per_chunk(upd.header.format, upd.header.slots)
    out: dict[str, NDArray[Any]] = {}
    for t in upd.header.tensors:
        size, values = math.prod(t.shape), []
        for i, vector in enumerate(_load_all(ctx, upd.chunks[t.name])):
            slots = decryptor.decrypt_every_slot(vector)
            n = min(per_chunk, size - i * per_chunk)
            half = (n + 1) // 2
            unused = np.concatenate([slots.real[half:], slots.imag[n - half :]])
            if unused.size and not float(np.abs(unused).max()) <= UNUSED_SLOT_TOLERANCE:
                raise UpdateFormatError(
                    f"tensor {t.name!r}: ciphertext {i} holds more than its {n} values (slots "
                    "past them, or residues modulo one prime that disagree with the other)"
                )
            values.append(np.concatenate([slots.real[:half], slots.imag[: n - half]]))
        flat = np.concatenate(values or [np.zeros(0)])
        out[t.name] = flat.reshape(t.shape).astype(dtype or t.dtype)
    return out


def replace_tensor(
    update: EncryptedUpdate | bytes, name: str, source: EncryptedUpdate | bytes
) -> EncryptedUpdate:
    """``update`` with tensor ``name`` taken from ``source`` (same shape, context and kind)."""
    upd, src = _as_update(update), _as_update(source)
    old, new = upd.entry(name), src.entry(name)
    if src.header.context_digest != upd.header.context_digest:
        raise UpdateFormatError(f"tensor {name!r} comes from a blob under another context")
    if (old.shape, src.header.kind) != (new.shape, upd.header.kind):
        raise UpdateFormatError(
            f"tensor {name!r}: replacement has shape {new.shape} ({src.header.kind}), "
            f"expected {old.shape} ({upd.header.kind})"
        )
    tensors = tuple(new if t.name == name else t for t in upd.header.tensors)
    fmt = _derived_format(upd.header, src.header)
    header = upd.header.model_copy(update={"tensors": tensors, "format": fmt})
    return EncryptedUpdate(header, {**upd.chunks, name: src.chunks[name]})


def _check_weights(weights_ppm: Sequence[int], count: int) -> None:
    if count == 0 or len(weights_ppm) != count:
        raise ValueError(f"need one weight per update: {count} updates, {len(weights_ppm)} weights")
    if any(isinstance(w, bool) or not isinstance(w, int) or w <= 0 for w in weights_ppm):
        raise ValueError("weights must be positive integers (parts per million)")
    if sum(weights_ppm) > MAX_WEIGHT_SUM_PPM:
        raise ValueError(f"weights sum to more than {MAX_WEIGHT_SUM_PPM} ppm (the CKKS range)")


def _check_same_layout(updates: Sequence[EncryptedUpdate], ctx: CkksContext) -> Format:
    """Refuse updates that cannot be summed together; return the format of their sum."""
    first = updates[0].header
    fmt = _derived_format(*(u.header for u in updates))  # refuses mixed packings
    for i, upd in enumerate(updates):
        ctx.check(upd.header.context_digest, f"update #{i}")
        if upd.header.kind != "update":
            raise UpdateFormatError(f"update #{i} is already a weighted sum; it has no level left")
        layout = [(t.name, t.shape, len(t.chunk_bytes)) for t in upd.header.tensors]
        if layout != [(t.name, t.shape, len(t.chunk_bytes)) for t in first.tensors]:
            raise UpdateFormatError(f"update #{i} has other tensors or shapes than update #0")
    return fmt


_BATCH = 64
"""Chunks unpacked together (vectorised), bounding the unpacked bytes held at once (~8 MB)."""


def _load_all(ctx: CkksContext, packed: Sequence[bytes]) -> Iterator[Any]:
    """TenSEAL CKKSVectors of packed chunks, in order, unpacked a batch at a time."""
    import tenseal as ts

    for start in range(0, len(packed), _BATCH):
        try:
            raws = unpack_ciphertexts(packed[start : start + _BATCH], ctx.params)
        except PackingError as err:
            raise UpdateFormatError(f"bad ciphertext in the update: {err}") from err
        for raw in raws:
            yield ts.ckks_vector_from(ctx.context, raw)


def _sum_tensor(
    ctx: CkksContext, parts: Sequence[Sequence[bytes]], scalars: Sequence[float]
) -> tuple[bytes, ...]:
    """Chunk by chunk, sum_k scalars[k] * parts[k][i] (TenSEAL: product, rescale, addition).

    How v1 and v2 sums were computed, kept so that their ledgers recompute to the same bytes.
    """
    out = []
    for vectors in zip(*(_load_all(ctx, p) for p in parts), strict=True):
        acc = vectors[0] * scalars[0]
        for vector, scalar in zip(vectors[1:], scalars[1:], strict=True):
            acc += vector * scalar
        out.append(pack_ciphertext(acc.serialize(), ctx.params))
    return tuple(out)


def _sum_tensor_one_rescale(
    ctx: CkksContext, parts: Sequence[Sequence[bytes]], scalars: Sequence[float]
) -> tuple[bytes, ...]:
    """Chunk by chunk, sum_k scalars[k] * parts[k][i] with one rescale per chunk (v3).

    The products stay at scale 2^80 until their sum is rescaled once: the rescale (an inverse
    and a forward NTT per polynomial) is paid once per chunk instead of once per update, and the
    sum carries one rounding instead of k. The range is the same as with a rescale per product
    (|sum| < 2^7 at scale 2^80 below q0·q1 ≈ 2^88). Like TenSEAL, the result is labelled with
    the scale 2^40, which `exact_weight_scalar` accounts for.
    """
    from tenseal import sealapi

    seal = ctx.context.seal_context().data
    encoder, evaluator = sealapi.CKKSEncoder(seal), sealapi.Evaluator(seal)
    scale = 2.0**ctx.params.scale_bits
    plains = []
    for scalar in scalars:
        plain = sealapi.Plaintext()
        encoder.encode(scalar, seal.first_parms_id(), scale, plain)
        plains.append(plain)
    acc, term = sealapi.Ciphertext(), sealapi.Ciphertext()
    out = []
    scratch = ScratchFile()
    try:
        for vectors in zip(*(_load_all(ctx, p) for p in parts), strict=True):
            cts = [v.ciphertext()[0] for v in vectors]
            evaluator.multiply_plain(cts[0], plains[0], acc)
            for ct, plain in zip(cts[1:], plains[1:], strict=True):
                evaluator.multiply_plain(ct, plain, term)
                evaluator.add_inplace(acc, term)
            evaluator.rescale_to_next_inplace(acc)
            acc.scale = scale
            out.append(pack_seal(scratch.save(acc), vectors[0].size(), scale, ctx.params))
    finally:
        scratch.close()
    return tuple(out)


def weighted_sum(
    updates: Sequence[EncryptedUpdate | bytes], weights_ppm: Sequence[int], ctx: CkksContext
) -> EncryptedUpdate:
    """sum_k (weights_ppm[k] / 1e6) * updates[k], on ciphertexts, with the public context only.

    The result is a ``sum`` update with the same tensors; it decrypts to the plaintext weighted
    sum within ~1e-8 per entry and its bytes are the same whoever computes it.
    """
    ups = [_as_update(u) for u in updates]
    _check_weights(weights_ppm, len(ups))
    fmt = _check_same_layout(ups, ctx)
    scalars = [exact_weight_scalar(w, ctx.params) for w in weights_ppm]
    entries: list[TensorEntry] = []
    chunks: dict[str, tuple[bytes, ...]] = {}
    sum_tensor = _sum_tensor_one_rescale if _complex_packed(fmt) else _sum_tensor
    for t in ups[0].header.tensors:
        summed = sum_tensor(ctx, [u.chunks[t.name] for u in ups], scalars)
        chunks[t.name] = summed
        entries.append(t.model_copy(update={"chunk_bytes": tuple(len(c) for c in summed)}))
    header = ups[0].header.model_copy(
        update={"kind": "sum", "tensors": tuple(entries), "format": fmt}
    )
    return EncryptedUpdate(header, chunks)
