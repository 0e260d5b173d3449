"""LocalBlobStore: content addressing, corruption handling, concurrent writers, the URL factory."""

from __future__ import annotations

import hashlib
import multiprocessing as mp
from pathlib import Path

import pytest

from consortium.blobs import (
    BlobCorruptedError,
    BlobNotFoundError,
    LocalBlobStore,
    open_blob_store,
)


def test_put_returns_the_sha256_and_get_returns_the_bytes(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    digest = store.put(b"ciphertext")
    assert digest == hashlib.sha256(b"ciphertext").hexdigest()
    assert store.get(digest) == b"ciphertext" and store.has(digest)
    assert store.put(b"ciphertext") == digest  # idempotent
    assert Path(store.locate(digest)).read_bytes() == b"ciphertext"
    assert Path(store.locate(digest)).parent.parent.parent == tmp_path  # two fan-out levels


def test_missing_and_malformed_digests(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    absent = hashlib.sha256(b"nothing").hexdigest()
    assert not store.has(absent)
    with pytest.raises(BlobNotFoundError, match=absent):
        store.get(absent)
    with pytest.raises(ValueError, match="not a blob digest"):
        store.get("../../etc/passwd")
    with pytest.raises(ValueError, match="not a blob digest"):
        store.has(absent.upper())


def test_corrupted_blob_is_refused_and_kept_aside(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    digest = store.put(b"good bytes")
    Path(store.locate(digest)).write_bytes(b"evil bytes")
    with pytest.raises(BlobCorruptedError, match=digest) as err:
        store.get(digest)
    kept = Path(err.value.kept_at)
    assert kept.read_bytes() == b"evil bytes"  # kept for inspection, not deleted
    assert err.value.actual == hashlib.sha256(b"evil bytes").hexdigest()
    assert not store.has(digest)
    assert store.put(b"good bytes") == digest  # the good copy can be restored
    assert store.get(digest) == b"good bytes"


def _writer(root: str, worker: int) -> list[str]:
    store = LocalBlobStore(root)
    shared = [store.put(b"shared blob %d" % i * 5000) for i in range(20)]
    own = [store.put(b"worker %d blob %d" % (worker, i)) for i in range(20)]
    return shared + own


def test_concurrent_processes_write_safely(tmp_path: Path) -> None:
    with mp.get_context("fork").Pool(4) as pool:
        results = pool.starmap(_writer, [(str(tmp_path), w) for w in range(4)])
    store = LocalBlobStore(tmp_path)
    digests = {d for r in results for d in r}
    assert len(digests) == 20 + 4 * 20
    for d in digests:
        assert hashlib.sha256(store.get(d)).hexdigest() == d
    assert list((tmp_path / "tmp").iterdir()) == []  # no temporary file left behind


def test_open_blob_store_urls(tmp_path: Path) -> None:
    rel = open_blob_store("file://blobs", tmp_path)
    assert isinstance(rel, LocalBlobStore) and rel.root == tmp_path / "blobs"
    assert open_blob_store("shared/blobs", tmp_path).root == tmp_path / "shared" / "blobs"
    absolute = open_blob_store(f"file://{tmp_path}/abs", "/elsewhere")
    assert absolute.root == tmp_path / "abs"
    with pytest.raises(ValueError, match="unknown scheme 'ftp'"):
        open_blob_store("ftp://host/x", tmp_path)
    with pytest.raises(ValueError, match="names no bucket"):
        open_blob_store("s3:///prefix", tmp_path)
