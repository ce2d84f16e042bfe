"""Objects in an S3-compatible store, through the minio client, under ``<prefix>`` in one bucket.

Why minio: a small, pure-Python client made for S3-compatible stores (AWS S3, MinIO, R2, Ceph, rclone), with
streaming uploads and presigned URLs; it signs every request itself (SigV4), so nothing here does. boto3
would do too, at about fifty times the size, and its presigned GET was refused by rclone's server here.

A reader never sees a partial object: a PUT makes an object visible whole or not at all. Every failure of
the store (unreachable, timeouts, 5xx) is a StorageError, which the API answers with 503 and a worker
retries with backoff; a missing object is ObjectMissing.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import IO, Any
from urllib.parse import urlsplit

import urllib3
from minio import Minio
from minio.error import InvalidResponseError, MinioException, S3Error

from ..config import Settings
from ..errors import ConfigError, ObjectMissing, StorageError
from .base import SpooledStage, StoredObject, checked

log = logging.getLogger(__name__)
PART = 16 * 1024 * 1024  # multipart part size for uploads of unknown length
MISSING = frozenset({"NoSuchKey", "NoSuchObject"})


def _client(endpoint: str, settings: Settings) -> Minio:
    url = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
    http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=5, read=60), maxsize=16,
                               retries=urllib3.Retry(total=2, backoff_factor=0.2, status_forcelist=[502, 503, 504]))
    return Minio(url.netloc, access_key=settings.aws_access_key_id or None,
                 secret_key=settings.aws_secret_access_key or None, region=settings.aws_region or None,
                 secure=url.scheme == "https", http_client=http)


@contextmanager
def _store_errors(key: str) -> Iterator[None]:
    """Whatever the store or the network says, as our errors (never with credentials or a full URL)."""
    name = key.rsplit("/", 1)[-1]
    try:
        yield
    except S3Error as exc:
        if exc.code in MISSING:
            raise ObjectMissing(f"no object {key}") from None
        raise StorageError(f"{name}: the object store answered {exc.code}") from None
    except InvalidResponseError as exc:  # an answer without an S3 error document (some stores' 404s)
        if getattr(exc, "_code", None) == 404:
            raise ObjectMissing(f"no object {key}") from None
        raise StorageError(f"{name}: the object store answered HTTP {getattr(exc, '_code', '?')}") from None
    except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise StorageError(f"{name}: the object store is unavailable ({type(exc).__name__})") from None


class ObjectReader:
    """An object as it streams from the store (``Reader``)."""

    def __init__(self, resp: Any, size: int, modified: float) -> None:
        self._resp, self.size, self.modified = resp, size, modified

    def read(self, n: int = -1) -> bytes:
        return bytes(self._resp.read(None if n < 0 else n))

    def close(self) -> None:
        self._resp.close()
        self._resp.release_conn()


@dataclass(frozen=True)
class S3Storage:
    bucket: str
    prefix: str  # "" or ends with "/"
    client: Minio
    public: Minio | None = None  # signs presigned result links for clients, when the store is public

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Storage:
        url = urlsplit(settings.storage_url)
        if not url.netloc:
            raise ConfigError(f"STORAGE_URL={settings.storage_url!r}: s3:// needs a bucket")
        prefix = url.path.strip("/")
        endpoint = settings.aws_endpoint_url or f"https://s3.{settings.aws_region or 'us-east-1'}.amazonaws.com"
        public = _client(settings.s3_public_endpoint, settings) if settings.s3_public_endpoint else None
        return cls(url.netloc, f"{prefix}/" if prefix else "", _client(endpoint, settings), public)

    def name(self, key: str) -> str:
        """The object's name in the bucket."""
        return self.prefix + checked(key)

    def prepare(self) -> None:
        """The bucket exists (it is made when the store allows it: a local store, a first run)."""
        with _store_errors(self.bucket):
            if not self.client.bucket_exists(self.bucket):
                self.client.make_bucket(self.bucket)

    def put(self, key: str, data: bytes | IO[bytes]) -> int:
        name = self.name(key)
        stream: IO[bytes] = io.BytesIO(data) if isinstance(data, bytes) else data
        start = stream.tell()
        size = stream.seek(0, io.SEEK_END) - start
        stream.seek(start)
        with _store_errors(key):
            self.client.put_object(self.bucket, name, stream, size, part_size=PART)  # type: ignore[arg-type]
        return size

    def stage(self, folder: str) -> SpooledStage:
        return SpooledStage(self.put)

    def get(self, key: str) -> bytes:
        reader = self.open(key)
        try:
            with _store_errors(key):
                return reader.read()
        finally:
            reader.close()

    def open(self, key: str) -> ObjectReader:
        name = self.name(key)
        with _store_errors(key):
            resp = self.client.get_object(self.bucket, name)
        size = int(resp.headers.get("content-length") or 0)
        modified = _http_time(resp.headers.get("last-modified"))
        return ObjectReader(resp, size, modified)

    def delete(self, key: str) -> None:
        try:
            with _store_errors(key):
                self.client.remove_object(self.bucket, self.name(key))
        except (StorageError, ObjectMissing) as exc:
            log.warning("could not remove %s: %s", key, exc)

    def stat(self, key: str) -> StoredObject | None:
        try:
            with _store_errors(key):
                found = self.client.stat_object(self.bucket, self.name(key))
        except ObjectMissing:
            return None
        modified = found.last_modified.timestamp() if found.last_modified else 0.0
        return StoredObject(key, int(found.size or 0), modified)

    def list(self, prefix: str) -> Iterator[StoredObject]:
        with _store_errors(prefix):
            for obj in self.client.list_objects(self.bucket, prefix=self.prefix + prefix, recursive=True):
                if obj.object_name:
                    modified = obj.last_modified.timestamp() if obj.last_modified else 0.0
                    yield StoredObject(obj.object_name.removeprefix(self.prefix), int(obj.size or 0), modified)

    def link(self, key: str, ttl: int) -> str | None:
        if self.public is None:
            return None
        with _store_errors(key):
            return str(self.public.presigned_get_object(self.bucket, self.name(key), expires=timedelta(seconds=ttl)))

    def location(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.name(key)}"

    def free_bytes(self) -> int | None:
        return None  # the store's own business


def _http_time(value: str | None) -> float:
    try:
        return parsedate_to_datetime(value).timestamp() if value else 0.0
    except (TypeError, ValueError):
        return 0.0
