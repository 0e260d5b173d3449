"""`LocalBlobStore`: blobs in a directory, safe for several processes at once.

Layout: ``<root>/<d[:2]>/<d[2:4]>/<d>`` (two fan-out levels keep directories small), temporary
files in ``<root>/tmp/``, corrupted copies in ``<root>/quarantine/<d>.<ms>``.

Writes go to a unique temporary file in the same file system, are flushed and fsync'ed, then
``os.replace``d onto the final name, which POSIX makes atomic: a reader sees the whole blob or
none. Two processes storing the same digest race harmlessly: both write identical bytes and the
last rename wins.

The folder may be shared (an NFS mount other members write), so nothing in it is followed: a
link (or FIFO, device...) at a blob's name is not read but moved to quarantine like a corrupted
copy, and a fan-out or temporary folder that resolves outside the store is refused.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
import time
from pathlib import Path

from consortium.blobs.base import (
    BlobCorruptedError,
    BlobError,
    BlobNotFoundError,
    BlobStore,
    check_digest,
)
from consortium.durable import replace_durably

__all__ = ["LocalBlobStore"]


class LocalBlobStore(BlobStore):
    """A content-addressed blob directory."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalBlobStore({str(self.root)!r})"

    def path(self, digest: str) -> Path:
        """The file that holds (or would hold) blob ``digest``."""
        d = check_digest(digest)
        return self.root / d[:2] / d[2:4] / d

    def locate(self, digest: str) -> str:
        """The blob's file path."""
        return str(self.path(digest))

    def _inside(self, folder: Path) -> Path:
        """``folder`` (under the root), refused if it resolves elsewhere (a planted link)."""
        if folder.resolve() != self.root.resolve() / folder.relative_to(self.root):
            raise BlobError(f"{folder} leads outside the blob store {self.root} (a link?)")
        return folder

    def _exists(self, digest: str) -> bool:
        try:
            return stat.S_ISREG(os.lstat(self.path(digest)).st_mode)
        except FileNotFoundError:
            return False

    def _read(self, digest: str) -> bytes:
        path = self._inside(self.path(digest).parent) / digest
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            raise BlobNotFoundError(f"blob {digest} is not in {self.root}") from None
        except OSError as err:
            if err.errno != errno.ELOOP:  # ELOOP: a link at the blob's name
                raise
        else:
            with os.fdopen(fd, "rb") as fh:
                if stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                    return fh.read()
        raise BlobCorruptedError(digest, "nothing (not a regular file)", self._quarantine(digest))

    def _write(self, digest: str, data: bytes) -> None:
        final = self.path(digest)
        final.parent.mkdir(parents=True, exist_ok=True)
        self._inside(final.parent)
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        self._inside(tmp_dir)
        fd, tmp = tempfile.mkstemp(prefix=digest[:16] + ".", dir=tmp_dir)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            replace_durably(tmp, final)  # a ledger transaction may name it next
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _quarantine(self, digest: str) -> str:
        aside = self.root / "quarantine" / f"{digest}.{time.time_ns() // 1_000_000}"
        aside.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(self.path(digest), aside)
        except FileNotFoundError:  # another reader moved it aside first
            return str(aside.parent)
        return str(aside)
