"""A plaintext vault that counts its decryptions: what a verifier opens, and how often."""

from __future__ import annotations

from collections import Counter, OrderedDict

import numpy as np

from consortium.federation.vault import PlainVault


class CountingVault(PlainVault):
    """A plaintext vault that counts how often each blob is decrypted."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[bytes] = Counter()

    def decrypt(self, blob: bytes) -> OrderedDict[str, np.ndarray]:
        self.calls[blob] += 1
        return super().decrypt(blob)
