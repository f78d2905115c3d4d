"""Where photo files live: the local disk by default, behind one small interface."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol


class PhotoStore(Protocol):
    """Store and fetch photo bytes by a server-made key."""

    def put(self, key: str, data: bytes) -> None:
        """Store the bytes durably under the key."""

    def get(self, key: str) -> bytes:
        """Return the bytes stored under the key."""

    def delete(self, key: str) -> None:
        """Remove the bytes stored under the key; a missing key is not an error."""


_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,79}(\.[a-z0-9]{1,5})?")


def check_key(key: str) -> None:
    """Refuse anything that is not a plain server-made name, whatever the backend."""
    if not _KEY.fullmatch(key):
        raise ValueError("bad storage key")


class LocalStore:
    """Files under a directory outside any static folder, written atomically."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        """Map a key to a path under the root, two hex characters deep."""
        check_key(key)
        return self.root / key[:2] / key

    def put(self, key: str, data: bytes) -> None:
        """Write to a temp file, fsync and rename, so a crash never leaves half a photo."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        """Read the stored bytes."""
        return self._path(key).read_bytes()

    def delete(self, key: str) -> None:
        """Remove the file, if it is there."""
        self._path(key).unlink(missing_ok=True)


class S3Store:
    """Photos in S3-compatible object storage, shared by every app host.

    Failures surface as OSError, as with the local disk, so callers handle one kind: a failed
    upload is recorded on the case, a missing object answers 404.
    """

    def __init__(self, bucket: str, *, endpoint_url: str | None = None,
                 region: str = "us-east-1", prefix: str = "photos/") -> None:
        import boto3  # only hosts configured for S3 need it
        from botocore.exceptions import BotoCoreError, ClientError

        self.bucket = bucket
        self.prefix = prefix
        self.client = boto3.client("s3", endpoint_url=endpoint_url or None, region_name=region)
        self.errors = (BotoCoreError, ClientError)

    def put(self, key: str, data: bytes) -> None:
        """Upload the bytes; S3 makes the object visible only once it is complete."""
        check_key(key)
        try:
            self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data,
                                   ContentType="image/jpeg")
        except self.errors as exc:
            raise OSError(f"object storage refused {key}: {exc}") from exc

    def get(self, key: str) -> bytes:
        """Download the bytes stored under the key."""
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"]
            data: bytes = body.read()
        except self.errors as exc:
            raise OSError(f"object storage has no {key}: {exc}") from exc
        return data

    def delete(self, key: str) -> None:
        """Delete the object (S3 answers a missing key with success too)."""
        check_key(key)
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.prefix + key)
        except self.errors as exc:
            raise OSError(f"object storage kept {key}: {exc}") from exc


def store_from_config(config: Mapping[str, Any]) -> PhotoStore:
    """Build the store the configuration names: local (default) or s3."""
    kind = str(config.get("STORAGE", "local")).lower()
    if kind == "s3":
        bucket = config.get("S3_BUCKET")
        if not bucket:
            raise ValueError("KUAISU_STORAGE=s3 needs KUAISU_S3_BUCKET")
        return S3Store(str(bucket), endpoint_url=config.get("S3_ENDPOINT_URL"),
                       region=str(config.get("S3_REGION", "us-east-1")))
    if kind != "local":
        raise ValueError(f"unknown KUAISU_STORAGE {kind!r}: use local or s3")
    return LocalStore(config["UPLOAD_DIR"])
