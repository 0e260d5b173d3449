"""Test doubles for what a verifier opens: a small model and a vault that counts decryptions."""

from __future__ import annotations

from collections import Counter, OrderedDict

import numpy as np

from consortium.federation.vault import PlainVault

# A two-layer model small enough to read in a failure message (4 hidden units, 3 inputs).
BASE = OrderedDict(
    [
        ("w0", np.full((4, 3), 0.1)),
        ("b0", np.zeros(4)),
        ("w1", np.ones((1, 4))),
        ("b1", np.zeros(1)),
    ]
)


class CountingVault(PlainVault):
    """A plaintext vault that counts how often each blob is decrypted."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[bytes] = Counter()

    def decrypt(self, blob: bytes) -> OrderedDict[str, np.ndarray]:
        self.calls[blob] += 1
        return super().decrypt(blob)
