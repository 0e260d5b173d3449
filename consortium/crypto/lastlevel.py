"""Decryption at the last modulus level: the same values as TenSEAL's ``decrypt``, ~2x cheaper.

A fresh update ciphertext has two data primes (q0: 48 bits, q1: 40 bits). Decrypting it as
TenSEAL does computes c0 + c1·s modulo q0·q1 and decodes through a two-prime CRT composition per
coefficient, which is most of the cost. SEAL's ``mod_switch_to_inplace`` to the last level first
drops the q1 residues (CKKS modulus switching without rescaling: the ciphertext then encrypts the
same plaintext modulo q0 alone, at the same scale; SEAL, native/src/seal/evaluator.h,
``mod_switch_to_next``), and decryption is then one dyadic product and a one-prime decode.

It is exact, not an approximation: c0 + c1·s = m + e holds modulo q0·q1, hence modulo q0. The
coefficients of a CKKS encoding are bounded by the scale times the largest slot modulus
(|m_i| <= 2^40·max|z| < 2^43 for a complex slot of two values <= `MAX_ABS_VALUE`,
`consortium.crypto.params`) plus a noise
of a few bits, far below q0/2 = 2^47, so m + e is the same integer modulo q0 as modulo q0·q1 and
both decodes see the same integers (exact in a double, < 2^53). `tests/crypto/test_update.py`
checks the values are identical to TenSEAL's own ``decrypt`` bit for bit, for fresh updates and
for weighted sums (already at the last level: nothing to drop).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from consortium.crypto.context import CkksContext

__all__ = ["LastLevelDecryptor"]


class LastLevelDecryptor:
    """Decrypts one-ciphertext TenSEAL ``CKKSVector``s with the secret key of ``ctx``."""

    def __init__(self, ctx: CkksContext) -> None:
        from tenseal import sealapi

        if not ctx.can_decrypt:
            raise PermissionError("this context holds no secret key: it cannot decrypt updates")
        seal = ctx.context.seal_context().data
        self._last = seal.last_parms_id()
        self._evaluator = sealapi.Evaluator(seal)
        self._decryptor = sealapi.Decryptor(seal, ctx.context.secret_key().data)
        self._encoder = sealapi.CKKSEncoder(seal)
        self._plain = sealapi.Plaintext()

    def decrypt(self, vector: Any) -> NDArray[np.float64]:
        """The ``vector.size()`` values of a TenSEAL ``CKKSVector`` holding one ciphertext."""
        self._decrypt_plain(vector)
        values = np.array(self._encoder.decode_double(self._plain), dtype=np.float64)
        return values[: vector.size()]

    def decrypt_complex(self, vector: Any) -> NDArray[np.complex128]:
        """The first ``vector.size()`` complex slots (for `consortium.crypto.update`'s v3 packing).

        The real parts are bit for bit what `decrypt` returns: SEAL's real decoding is the
        complex decoding with the imaginary parts dropped.
        """
        self._decrypt_plain(vector)
        values = np.array(self._encoder.decode_complex(self._plain), dtype=np.complex128)
        return values[: vector.size()]

    def decrypt_every_slot(self, vector: Any) -> NDArray[np.complex128]:
        """All N/2 complex slots of ``vector``, decrypted with every prime it has (no shortcut).

        For a ciphertext a member *submitted* (`consortium.crypto.update.open_submission`): the
        shortcut above is exact only when |m + e| < q0/2, which holds for what `encrypt_update`
        makes but not for a ciphertext written to decrypt modulo q0 to one update (its q1
        residues chosen apart) and to sum as another. Decrypting modulo q0·q1 and reading every
        slot shows what a weighted sum adds.
        """
        (ct,) = vector.ciphertext()
        self._decryptor.decrypt(ct, self._plain)
        return np.array(self._encoder.decode_complex(self._plain), dtype=np.complex128)

    def _decrypt_plain(self, vector: Any) -> None:
        (ct,) = vector.ciphertext()  # a copy: the caller's vector is left as it was
        if ct.coeff_modulus_size() > 1:
            self._evaluator.mod_switch_to_inplace(ct, self._last)
        self._decryptor.decrypt(ct, self._plain)
