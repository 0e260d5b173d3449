"""S3BlobStore against an in-process S3 endpoint (moto's ThreadedMotoServer on 127.0.0.1)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator

import pytest
from moto.server import ThreadedMotoServer

from consortium.blobs import BlobCorruptedError, BlobNotFoundError, open_blob_store
from consortium.blobs.s3 import S3BlobStore


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def store(endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path) -> S3BlobStore:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("CONSORTIUM_S3_ENDPOINT_URL", endpoint)
    s = open_blob_store(f"s3://blobs-{uuid.uuid4().hex[:12]}/consortium/a", tmp_path)
    assert isinstance(s, S3BlobStore)
    s.client.create_bucket(Bucket=s.bucket)
    return s


def test_put_get_has_over_s3(store: S3BlobStore) -> None:
    digest = store.put(b"encrypted update")
    assert digest == hashlib.sha256(b"encrypted update").hexdigest()
    assert store.get(digest) == b"encrypted update" and store.has(digest)
    assert store.locate(digest) == f"s3://{store.bucket}/consortium/a/{digest[:2]}/{digest}"
    absent = hashlib.sha256(b"absent").hexdigest()
    assert not store.has(absent)
    with pytest.raises(BlobNotFoundError, match=absent):
        store.get(absent)


def test_corrupted_object_is_refused_and_moved_aside(store: S3BlobStore) -> None:
    digest = store.put(b"good")
    store.client.put_object(Bucket=store.bucket, Key=store.key(digest), Body=b"bad")
    with pytest.raises(BlobCorruptedError, match=digest) as err:
        store.get(digest)
    aside = err.value.kept_at.removeprefix(f"s3://{store.bucket}/")
    kept = store.client.get_object(Bucket=store.bucket, Key=aside)["Body"].read()
    assert kept == b"bad" and aside.startswith("consortium/a/quarantine/")
    assert not store.has(digest)
