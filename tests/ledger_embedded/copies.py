"""Copying a ledger file as an administrator restoring a backup would (WAL folded in first)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path


def flush(path: Path) -> None:
    """Fold the write-ahead log into the ledger file, so that a copy of the file is the ledger."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def restore(copy: Path, path: Path) -> None:
    """Replace the ledger file at ``path`` by ``copy`` (dropping its WAL and shared memory)."""
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.copy(copy, path)
