"""Secret-key (symmetric) CKKS encryption of updates, written in SEAL's seeded form.

**Why secret-key encryption.** Only members that hold the secret key ever encrypt an update
(hospitals); the aggregator only adds ciphertexts and multiplies them by public scalars, which
needs no key. So members encrypt with the secret key s, as SEAL allows ("both BFV and CKKS can
operate also in a symmetric-key mode ... it is possible to produce ciphertexts that are partly
seeded, hence significantly smaller. Such ciphertexts must be expanded before being used in
computations; this is automatically done by deserialization": SEAL, native/examples/
7_serialization.cpp; ``Encryptor::encrypt_symmetric`` in native/src/seal/encryptor.h: "Half of the
ciphertext data is pseudo-randomly generated from a seed to reduce the object size").

**Security.** A secret-key encryption of m is (c0, c1) = (m − (a·s + e), a) with a uniform in
R_q and e from SEAL's error distribution (SEAL, native/src/seal/util/rlwe.cpp,
``encrypt_zero_symmetric``): (a, a·s + e) is literally a ring-LWE sample for the secret s, and
telling it from uniform is the decision RLWE problem (Lyubashevsky, Peikert, Regev, "On Ideal
Lattices and Learning with Errors over Rings", EUROCRYPT 2010) that the HomomorphicEncryption.org
Security Standard (2018, Table 1) sizes our parameters for (ternary s, σ = 3.2;
`consortium.crypto.params`). Public-key encryption rests on the same problem used twice (the
public key is an RLWE sample for s; u·pk + e is another, for a fresh ternary u), so secret-key
encryption is at least as secure at the same parameters; its noise is also smaller (e alone, no
u·e_pk term). The seed: c1 = a is public anyway; SEAL stores the 512-bit seed of the PRNG
(Blake2xb) that a was drawn from instead of a, and every loader expands it to the same a.
Deriving the public uniform polynomial from a seed is standard in RLWE schemes (NewHope: Alkim,
Ducas, Pöppelmann, Schwabe, USENIX Security 2016; CRYSTALS-Kyber) and secure with the PRNG
modelled as a random oracle. The error e comes from the other, private PRNG that drew the seed
(``bootstrap_prng`` in ``encrypt_zero_symmetric``) and is never stored.

**What does not change.** The context is the same (secret key + public key in each member's
bundle; public key only in the aggregator's context, whose digest names the key pair), key
wrapping is unchanged, and the aggregator's weighted sum is a full-size ciphertext as before.
A seeded ciphertext is a valid ciphertext under the same key once loaded: SEAL expands the seed in
``Ciphertext::load``. The passive key-recovery attack on CKKS decryptions (Li & Micciancio,
EUROCRYPT 2021) concerns decryptions, not how a ciphertext was encrypted: docs/decisions/
0005-encryption.md, "Limits", still applies.

**Why through SEAL, not TenSEAL.** TenSEAL 0.3.18's symmetric contexts call the overload of
``encrypt_symmetric`` that fills a ``Ciphertext`` (the seed is expanded at once, so nothing is
saved on size), cannot be made public (``make_context_public`` refuses) and drop the public key
that names the consortium's key pair. TenSEAL ships SEAL's Python API (``tenseal.sealapi``), whose
``Encryptor.encrypt_symmetric(plain)`` returns SEAL's ``Serializable<Ciphertext>``; its only output
is ``save(path)``, so each ciphertext is written to an in-memory file (``memfd``) and read back.
`PublicKeyEncryptor` is the same interface with the public key (full-size ciphertexts), for tools
and tests; both encode real or complex slots (`consortium.crypto.update` packs two values per
slot).
"""

from __future__ import annotations

import os
import tempfile
from types import TracebackType
from typing import Any, Self

import numpy as np
from numpy.typing import NDArray

from consortium.crypto.context import CkksContext
from consortium.crypto.packing import pack_seal

__all__ = ["PublicKeyEncryptor", "ScratchFile", "SeededEncryptor"]


class ScratchFile:
    """A file SEAL can ``save`` to by path: an anonymous in-memory file where Linux has one."""

    def __init__(self) -> None:
        self._temp: str | None = None
        self._fd = os.memfd_create("consortium-ckks") if hasattr(os, "memfd_create") else -1
        self.path = f"/proc/self/fd/{self._fd}"
        if self._fd < 0 or not os.path.exists(self.path):
            if self._fd >= 0:
                os.close(self._fd)
            self._fd, self._temp = tempfile.mkstemp(prefix="consortium-ckks-")
            self.path = self._temp

    def save(self, obj: Any) -> bytes:
        """What ``obj.save(path)`` writes (SEAL truncates the file first)."""
        obj.save(self.path)
        return os.pread(self._fd, os.fstat(self._fd).st_size, 0)

    def close(self) -> None:
        """Release the file (and remove it if it had a name)."""
        os.close(self._fd)
        if self._temp is not None:
            os.unlink(self._temp)


class _ChunkEncryptor:
    """Encodes chunks of at most N/2 real or complex slots and packs their ciphertexts.

    Use as a context manager (it holds a scratch file). The ciphertexts are at the first data
    level with the consortium scale 2^40, like TenSEAL's own ``ckks_vector``, and are framed as
    TenSEAL ``CKKSVector`` bytes (size field: the slots used), so every other operation reads them
    through TenSEAL.
    """

    def __init__(self, ctx: CkksContext) -> None:
        from tenseal import sealapi

        self._seal = ctx.context.seal_context().data
        self._params = ctx.params
        self._scale = 2.0**ctx.params.scale_bits
        self._encoder = sealapi.CKKSEncoder(self._seal)
        self._plain = sealapi.Plaintext()
        self._scratch = ScratchFile()

    def _serialized(self, plain: Any) -> bytes:
        """SEAL's serialization of an encryption of ``plain``."""
        raise NotImplementedError

    def encrypt(self, values: NDArray[np.float64] | NDArray[np.complex128]) -> bytes:
        """One packed ciphertext of ``values`` (1 to N/2 finite real or complex slots)."""
        self._encoder.encode(values.tolist(), self._scale, self._plain)
        return pack_seal(self._serialized(self._plain), int(values.size), self._scale, self._params)

    def close(self) -> None:
        """Release the scratch file."""
        self._scratch.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class SeededEncryptor(_ChunkEncryptor):
    """Encrypts with the secret key; the packed bytes are seeded (c1 stored as its seed)."""

    def __init__(self, ctx: CkksContext) -> None:
        from tenseal import sealapi

        if not ctx.can_decrypt:
            raise PermissionError("secret-key encryption needs the secret key")
        super().__init__(ctx)
        self._encryptor = sealapi.Encryptor(self._seal, ctx.context.secret_key().data)

    def _serialized(self, plain: Any) -> bytes:
        return self._scratch.save(self._encryptor.encrypt_symmetric(plain))


class PublicKeyEncryptor(_ChunkEncryptor):
    """Encrypts with the public key: full-size ciphertexts, and anyone can do it.

    Nothing in the protocol encrypts with the public key (members hold the secret key); tools and
    tests use it, e.g. to show that the aggregator's context encrypts but cannot decrypt.
    """

    def __init__(self, ctx: CkksContext) -> None:
        from tenseal import sealapi

        super().__init__(ctx)
        self._encryptor = sealapi.Encryptor(self._seal, ctx.context.public_key().data)
        self._cipher = sealapi.Ciphertext()

    def _serialized(self, plain: Any) -> bytes:
        self._encryptor.encrypt(plain, self._cipher)
        return self._scratch.save(self._cipher)
