"""One process at a time: an exclusive advisory ``flock`` on a file that names its holder's pid.

Used where a second process would spoil the first one's work: two ingests into one ``--out``
(one clears the other's quarantine), two nodes of one member (both train on its patients and
spend its ε). The kernel drops the lock when its holder exits, ``kill -9`` included, so a
restarted process never finds a stale lock; the pid in the file is only for the message.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["LockHeld", "pid_lock"]


class LockHeld(Exception):
    """Another process holds the lock; ``pid`` is the one it wrote (None if not written yet)."""

    def __init__(self, path: Path, pid: int | None) -> None:
        super().__init__(f"{path} is held" + (f" by pid {pid}" if pid else ""))
        self.path, self.pid = path, pid

    @property
    def by(self) -> str:
        """`` (pid N)`` for a message, or nothing when the holder has not written its pid yet."""
        return f" (pid {self.pid})" if self.pid else ""


@contextmanager
def pid_lock(path: Path) -> Iterator[None]:
    """Hold ``path`` (created 0600) exclusively, with this process's pid written in it, for the
    ``with`` block. Raises `LockHeld` when another process holds it, and ``OSError`` when the
    file cannot be created or locked; both before the block runs."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            raise LockHeld(path, int(holder) if holder.isdigit() else None) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the lock
