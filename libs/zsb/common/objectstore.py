"""Object store: a local directory by default, MinIO (private buckets) in production.

URLs: `file:///abs/path` or `minio://ACCESS:SECRET@host:port` (add `?secure=true` for TLS).
Keys are '/'-separated names made by the services, never raw user file names.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlparse

from minio import Minio
from minio.error import S3Error

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


class ObjectNotFound(Exception):
    """No object under that key."""


_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


def check_bucket(bucket: str) -> str:
    """S3's bucket naming rules (lower case, digits, hyphens), the same for both adapters."""
    if not _BUCKET.match(bucket):
        raise ValueError(f"invalid bucket name: {bucket!r}")
    return bucket


def check_key(key: str) -> str:
    """Reject keys that could escape the bucket or directory ('..', absolute, odd characters)."""
    if len(key) > 512 or not _KEY.match(key) or ".." in key.split("/"):
        raise ValueError(f"invalid object key: {key!r}")
    return key


class ObjectStore(Protocol):
    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None: ...

    def get(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str = "") -> list[str]: ...


class LocalDirStore:
    """Files in a directory per bucket, written atomically, readable only by the owner."""

    def __init__(self, root: Path, bucket: str) -> None:
        self.root = (root / check_bucket(bucket)).resolve()
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise ObjectNotFound(key) from exc

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> list[str]:
        keys = (p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file())
        return sorted(k for k in keys if k.startswith(prefix) and not k.rsplit("/", 1)[-1].startswith(".tmp-"))


class MinioStore:
    """A private MinIO bucket: created without any public policy; objects served only via the gateway."""

    def __init__(self, client: Minio, bucket: str) -> None:
        self.client = client
        self.bucket = check_bucket(bucket)
        if not client.bucket_exists(self.bucket):
            try:
                client.make_bucket(self.bucket)
            except S3Error as exc:  # another replica created it first
                if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self.client.put_object(self.bucket, check_key(key), io.BytesIO(data), len(data), content_type=content_type)

    def get(self, key: str) -> bytes:
        try:
            resp = self.client.get_object(self.bucket, check_key(key))
        except S3Error as exc:
            if exc.code == "NoSuchKey":
                raise ObjectNotFound(key) from exc
            raise
        try:
            return resp.read()
        finally:
            resp.close()
            resp.release_conn()

    def delete(self, key: str) -> None:
        self.client.remove_object(self.bucket, check_key(key))

    def exists(self, key: str) -> bool:
        try:
            self.client.stat_object(self.bucket, check_key(key))
            return True
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject"):
                return False
            raise

    def list(self, prefix: str = "") -> list[str]:
        return sorted(o.object_name for o in self.client.list_objects(self.bucket, prefix=prefix, recursive=True))


def open_object_store(url: str, bucket: str) -> ObjectStore:
    """Open the bucket named by `bucket` in the store the URL names."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalDirStore(Path(unquote(parsed.path)), bucket)
    if parsed.scheme == "minio":
        secure = parse_qs(parsed.query).get("secure", ["false"])[0].lower() == "true"
        client = Minio(
            f"{parsed.hostname}:{parsed.port or (443 if secure else 9000)}",
            access_key=unquote(parsed.username or ""),
            secret_key=unquote(parsed.password or ""),
            secure=secure,
        )
        return MinioStore(client, bucket)
    raise ValueError(f"unsupported object store URL scheme: {parsed.scheme!r}")
