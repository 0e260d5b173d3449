"""Files replaced whole and kept across a power cut: write, fsync, rename, fsync the folder.

A rename is atomic on POSIX, so a reader (or a process restarted after ``kill -9``) sees the old
file or the new one, never a torn one. Atomic is not durable: after a power cut the rename itself
may be lost unless the folder holding the name is synced too (fsync(2): syncing a file "does not
necessarily ensure that the entry in the directory containing the file has also reached disk").
Records that must outlive the machine, such as the ε an accountant reserved before training or a
blob a ledger transaction names, go through here.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["create_durably", "replace_durably", "sync_folder", "write_durably", "write_privately"]


def sync_folder(folder: Path | str) -> None:
    """fsync a folder, so that the names created or renamed in it are on disk."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_durably(tmp: Path | str, path: Path | str) -> None:
    """Rename ``tmp`` (written and fsync'ed by the caller) over ``path``, then sync the folder."""
    os.replace(tmp, path)
    sync_folder(Path(path).parent)


def write_durably(path: Path | str, data: bytes, *, tmp: Path | str | None = None) -> None:
    """Replace ``path`` with ``data`` whole: written and synced under ``tmp`` (default: a hidden
    name beside it, per process), renamed, and the folder synced."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tmp) if tmp is not None else path.with_name(f".{path.name}.{os.getpid()}.tmp")
    _write_synced(tmp, data, os.O_TRUNC, 0o666)
    replace_durably(tmp, path)


def write_privately(path: Path | str, data: bytes) -> None:
    """Replace ``path`` with ``data`` whole, readable and writable by its owner only (0600).

    For plaintext that only some may read (a decrypted model): the temporary file comes from
    `tempfile.mkstemp`, created exclusively with mode 0600 whatever the umask, under a fresh name
    (never an earlier file another user may hold open, never a name shared with another writer of
    ``path`` in this process, such as the portal's threads), so the bytes are never in a file
    others can read. It is synced, renamed over ``path`` (whose earlier mode goes with it) and the
    folder synced; on an error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        _write_fd(fd, data)
        replace_durably(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def create_durably(path: Path | str, data: bytes, *, mode: int = 0o600) -> None:
    """Create ``path`` holding ``data`` whole or not at all, never replacing it: written with
    ``mode`` and synced under a temporary name (created exclusively, no symlink followed), then
    linked to ``path``, which raises `FileExistsError` if it exists; the folder is synced. For
    secrets: a stop midway leaves no truncated key that a retry would refuse to replace."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        _write_synced(tmp, data, os.O_EXCL | os.O_NOFOLLOW, mode)
        os.link(tmp, path)  # atomic, and refuses an existing file as O_EXCL does
        sync_folder(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def _write_synced(tmp: Path, data: bytes, flags: int, mode: int) -> None:
    """Write ``data`` to ``tmp`` (opened with ``flags`` and ``mode``) and fsync it."""
    _write_fd(os.open(tmp, os.O_WRONLY | os.O_CREAT | flags, mode), data)


def _write_fd(fd: int, data: bytes) -> None:
    """Write ``data`` to the open file ``fd``, fsync it and close it."""
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
