"""`BlobStore`: content-addressed storage, the one interface for local folders and object stores.

A blob's name is the lower-case hex SHA-256 of its bytes: the same digest the ledger records. The
template methods `put` and `get` are written once here; backends only move bytes (`_read`, `_write`,
`_exists`, `_quarantine`). `get` always re-hashes what it read: a blob whose bytes do not match
its digest (disk corruption, a tampering operator) is refused with `BlobCorruptedError`, and the
bad copy is moved aside for inspection, never deleted, so that a later `put` of the right bytes
can restore the blob. `put` likewise verifies a copy already stored before trusting it.
"""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod

__all__ = ["BlobCorruptedError", "BlobError", "BlobNotFoundError", "BlobStore", "check_digest"]

_DIGEST = re.compile(r"[0-9a-f]{64}")


class BlobError(Exception):
    """Base class of blob-store errors."""


class BlobNotFoundError(BlobError, KeyError):
    """No blob with this digest in the store."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "blob not found"


class BlobCorruptedError(BlobError):
    """The stored bytes do not hash to their digest; the copy was moved aside to ``kept_at``."""

    def __init__(self, digest: str, actual: str, kept_at: str) -> None:
        super().__init__(
            f"blob {digest} is corrupted: its bytes hash to {actual}; the bad copy is kept at "
            f"{kept_at} for inspection; fetch the blob again from a member that has it"
        )
        self.digest = digest
        self.actual = actual
        self.kept_at = kept_at


def check_digest(digest: str) -> str:
    """Return ``digest`` if it is 64 lower-case hex characters, else raise ValueError."""
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise ValueError(f"{digest!r} is not a blob digest (64 lower-case hex characters)")
    return digest


class BlobStore(ABC):
    """Content-addressed blob storage: ``put(bytes) -> digest``, ``get(digest) -> bytes``."""

    def put(self, data: bytes) -> str:
        """Store ``data`` (idempotent) and return its SHA-256 hex digest.

        A copy already under the digest is verified, not trusted: a bad one (corrupted, or
        planted by whoever else can write the store) is moved aside as `get` does and replaced.
        """
        digest = hashlib.sha256(data).hexdigest()
        if self._exists(digest):
            try:
                self.get(digest)
                return digest
            except (BlobCorruptedError, BlobNotFoundError):
                pass  # moved aside (or gone meanwhile): write the right bytes
        self._write(digest, bytes(data))
        return digest

    def get(self, digest: str) -> bytes:
        """The bytes of blob ``digest``, verified against the digest."""
        data = self._read(check_digest(digest))
        actual = hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise BlobCorruptedError(digest, actual, self._quarantine(digest))
        return data

    def has(self, digest: str) -> bool:
        """True when a blob with this digest is stored (its bytes are not verified)."""
        return self._exists(check_digest(digest))

    @abstractmethod
    def locate(self, digest: str) -> str:
        """Where blob ``digest`` lives (a file path or an object URL), for people and logs."""

    @abstractmethod
    def _exists(self, digest: str) -> bool: ...

    @abstractmethod
    def _read(self, digest: str) -> bytes:
        """Raw stored bytes; raise `BlobNotFoundError` when absent."""

    @abstractmethod
    def _write(self, digest: str, data: bytes) -> None:
        """Store bytes atomically: readers see all of them or none."""

    @abstractmethod
    def _quarantine(self, digest: str) -> str:
        """Move the stored copy aside (never delete it) and return where it now is."""
