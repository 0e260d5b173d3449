"""Content-addressed blob storage for encrypted updates, wrapped keys and model versions.

`open_blob_store(url, base_dir)` picks the backend from a URL:

- ``file://blobs`` (the default) or a plain path: a directory, relative to the consortium folder
  ``base_dir`` unless absolute (``file:///srv/blobs``);
- ``s3://bucket/prefix``: an S3-compatible object store; the endpoint comes from the
  ``endpoint_url`` argument (node config), else ``CONSORTIUM_S3_ENDPOINT_URL``, else boto3's own
  defaults (``AWS_ENDPOINT_URL``, then AWS itself).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

from consortium.blobs.base import (
    BlobCorruptedError,
    BlobError,
    BlobNotFoundError,
    BlobStore,
    check_digest,
)
from consortium.blobs.local import LocalBlobStore

__all__ = [
    "DEFAULT_BLOB_URL",
    "BlobCorruptedError",
    "BlobError",
    "BlobNotFoundError",
    "BlobStore",
    "LocalBlobStore",
    "check_blob_url",
    "check_digest",
    "open_blob_store",
]

DEFAULT_BLOB_URL = "file://blobs"


def check_blob_url(url: str) -> None:
    """Raise ValueError, saying what to write, unless ``url`` names a store `open_blob_store` opens
    (read with consortium.toml, so that a typo is refused before any command uses it)."""
    parsed = urlparse(url)
    if parsed.scheme in ("", "file"):
        if not ((parsed.netloc + parsed.path) if parsed.scheme == "file" else url):
            raise ValueError(f"blob store URL {url!r} names no directory; try {DEFAULT_BLOB_URL}")
    elif parsed.scheme == "s3":
        if not parsed.netloc:
            raise ValueError(f"blob store URL {url!r} names no bucket; use s3://bucket/prefix")
    else:
        raise ValueError(
            f"blob store URL {url!r}: unknown scheme {parsed.scheme!r}; use file://DIR or "
            "s3://BUCKET/PREFIX"
        )


def open_blob_store(
    url: str, base_dir: str | os.PathLike[str], *, endpoint_url: str | None = None
) -> BlobStore:
    """Open the blob store named by ``url`` (see the module docstring)."""
    check_blob_url(url)
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        from consortium.blobs.s3 import S3BlobStore

        endpoint = endpoint_url or os.environ.get("CONSORTIUM_S3_ENDPOINT_URL") or None
        return S3BlobStore(parsed.netloc, parsed.path, endpoint_url=endpoint)
    path = Path((parsed.netloc + parsed.path) if parsed.scheme == "file" else url)
    return LocalBlobStore(path if path.is_absolute() else Path(base_dir) / path)
