"""`put` does not trust whatever already sits under a digest: a corrupted or planted copy is
moved aside and replaced by the bytes being stored (before, `put` returned the digest and left the
bad copy, so the writer recorded on the ledger a blob nobody could read)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from consortium.blobs import LocalBlobStore


def test_put_replaces_a_bad_copy_already_under_the_digest(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    data = b"the aggregate anyone can recompute"
    digest = hashlib.sha256(data).hexdigest()
    planted = Path(store.locate(digest))
    planted.parent.mkdir(parents=True)
    planted.write_bytes(b"garbage planted or rotted before the writer came")

    assert store.put(data) == digest
    assert store.get(digest) == data
    assert [p.read_bytes() for p in (tmp_path / "quarantine").iterdir()] == [
        b"garbage planted or rotted before the writer came"
    ]  # kept for inspection, as `get` keeps it


def test_put_of_a_good_copy_writes_nothing(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    digest = store.put(b"x")
    mtime = Path(store.locate(digest)).stat().st_mtime_ns
    assert store.put(b"x") == digest
    assert Path(store.locate(digest)).stat().st_mtime_ns == mtime
    assert not (tmp_path / "quarantine").exists()
