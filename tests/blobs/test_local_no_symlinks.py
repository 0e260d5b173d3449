"""The folder store never follows a link planted in a shared blob folder (e.g. an NFS mount other
members can write): a link at a blob's name is not read (no hash of the link's target in an
error, no hang on a FIFO or /dev/zero), and a linked fan-out folder cannot carry writes out of
the store."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from consortium.blobs import BlobError, LocalBlobStore


def _blob_path(store: LocalBlobStore, data: bytes) -> tuple[str, Path]:
    digest = hashlib.sha256(data).hexdigest()
    path = Path(store.locate(digest))
    path.parent.mkdir(parents=True, exist_ok=True)
    return digest, path


def test_a_link_at_a_blob_name_is_neither_followed_nor_trusted(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    secret = tmp_path / "private_key.pem"
    secret.write_bytes(b"-----BEGIN PRIVATE KEY-----\n")
    digest, path = _blob_path(store, b"blob")
    path.symlink_to(secret)
    assert not store.has(digest)
    with pytest.raises(BlobError) as err:
        store.get(digest)
    assert hashlib.sha256(secret.read_bytes()).hexdigest() not in str(err.value)
    assert store.put(b"blob") == digest and store.get(digest) == b"blob"
    assert not path.is_symlink() and secret.read_bytes() == b"-----BEGIN PRIVATE KEY-----\n"


def test_a_fifo_at_a_blob_name_does_not_hang_the_reader(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    digest, path = _blob_path(store, b"blob")
    os.mkfifo(path)
    outcome: list[BaseException | bytes] = []

    def read() -> None:
        try:
            outcome.append(store.get(digest))
        except BaseException as exc:
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(5)
    hung = reader.is_alive()
    if hung:  # unblock the stuck reader so the test process can exit
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(5)
    assert not hung, "get() blocked on a FIFO planted at a blob's name"
    assert isinstance(outcome[0], BlobError)


def test_a_linked_fanout_folder_cannot_carry_writes_out_of_the_store(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    outside = tmp_path / "outside"
    outside.mkdir()
    data = b"blob"
    digest = hashlib.sha256(data).hexdigest()
    (store.root / digest[:2]).mkdir(parents=True)
    (store.root / digest[:2] / digest[2:4]).symlink_to(outside)
    with pytest.raises(BlobError, match="outside"):
        store.put(data)
    assert list(outside.iterdir()) == []
