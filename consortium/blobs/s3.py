"""`S3BlobStore`: blobs in an S3-compatible object store (AWS S3, MinIO, Ceph RGW, ...).

Keys: ``<prefix>/<d[:2]>/<d>``; corrupted copies are moved to ``<prefix>/quarantine/<d>.<ms>``.
An S3 PUT is atomic per object (readers never see a partial object), and since a blob's key is
its content digest, concurrent writers of the same key write the same bytes. The client
(boto3, the optional extra ``s3``) is imported only when a store is opened; credentials come from
the usual AWS sources (environment, profile), never from consortium files.
"""

from __future__ import annotations

import time
from typing import Any

from consortium.blobs.base import BlobNotFoundError, BlobStore, check_digest

__all__ = ["S3BlobStore"]


def _missing(err: Exception) -> bool:
    code = str(getattr(err, "response", {}).get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


class S3BlobStore(BlobStore):
    """A content-addressed blob store on an S3 bucket (``s3://bucket/prefix``)."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        client: Any = None,
    ) -> None:
        if client is None:
            try:
                import boto3
            except ImportError as err:
                raise ImportError(
                    "S3 blob stores need boto3: pip install 'consortium[s3]'"
                ) from err
            client = boto3.client("s3", endpoint_url=endpoint_url)
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def __repr__(self) -> str:
        return f"S3BlobStore({self.bucket!r}, {self.prefix!r})"

    def key(self, digest: str) -> str:
        """The object key of blob ``digest``."""
        d = check_digest(digest)
        return "/".join(p for p in (self.prefix, d[:2], d) if p)

    def locate(self, digest: str) -> str:
        """The blob's ``s3://`` URL."""
        return f"s3://{self.bucket}/{self.key(digest)}"

    def _exists(self, digest: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key(digest))
        except Exception as err:
            if _missing(err):
                return False
            raise
        return True

    def _read(self, digest: str) -> bytes:
        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=self.key(digest))
        except Exception as err:
            if _missing(err):
                raise BlobNotFoundError(f"blob {digest} is not in {self.locate(digest)}") from None
            raise
        return bytes(obj["Body"].read())

    def _write(self, digest: str, data: bytes) -> None:
        self.client.put_object(
            Bucket=self.bucket,
            Key=self.key(digest),
            Body=data,
            ContentType="application/octet-stream",
        )

    def _quarantine(self, digest: str) -> str:
        aside = "/".join(
            p for p in (self.prefix, "quarantine", f"{digest}.{time.time_ns() // 1_000_000}") if p
        )
        source = {"Bucket": self.bucket, "Key": self.key(digest)}
        self.client.copy_object(Bucket=self.bucket, Key=aside, CopySource=source)
        self.client.delete_object(Bucket=self.bucket, Key=self.key(digest))
        return f"s3://{self.bucket}/{aside}"
