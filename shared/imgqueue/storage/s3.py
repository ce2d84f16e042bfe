"""Uploads and outputs as objects in an S3-compatible store, through the minio client.

Why minio: a small, pure-Python client made for S3-compatible stores (AWS S3, MinIO, R2, Ceph, rclone), with
streaming uploads and presigned URLs; it signs every request itself (SigV4), so nothing here does. boto3
would do too, at about fifty times the size, and its presigned GET was refused by rclone's server here.

A reader never sees a partial object: an output is encoded in memory and sent in one PUT, which the store
makes visible whole or not at all. Every failure of the store (unreachable, timeouts, 5xx) is a
StorageError, which the API answers with 503 and a worker retries with backoff; a missing upload is
InputMissing (permanent).
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import urlsplit

import urllib3
from minio import Minio
from minio.error import InvalidResponseError, MinioException, S3Error

from ..config import Settings
from ..errors import ConfigError, InputMissing, StorageError
from .base import Result, Swept

log = logging.getLogger(__name__)
PART = 16 * 1024 * 1024  # multipart part size for uploads of unknown length
CHUNK = 256 * 1024
MISSING = frozenset({"NoSuchKey", "NoSuchObject"})


def _client(endpoint: str, settings: Settings) -> Minio:
    url = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
    http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=5, read=60), maxsize=16,
                               retries=urllib3.Retry(total=2, backoff_factor=0.2, status_forcelist=[502, 503, 504]))
    return Minio(url.netloc, access_key=settings.aws_access_key_id or None,
                 secret_key=settings.aws_secret_access_key or None, region=settings.aws_region or None,
                 secure=url.scheme == "https", http_client=http)


@contextmanager
def _store_errors(what: str) -> Iterator[None]:
    """Whatever the store or the network says, as our errors (never with credentials or a full URL)."""
    try:
        yield
    except S3Error as exc:
        if exc.code in MISSING:
            raise FileNotFoundError(what) from None
        raise StorageError(f"{what}: the object store answered {exc.code}") from None
    except InvalidResponseError as exc:  # an answer without an S3 error document (some stores' 404s)
        if getattr(exc, "_code", None) == 404:
            raise FileNotFoundError(what) from None
        raise StorageError(f"{what}: the object store answered HTTP {getattr(exc, '_code', '?')}") from None
    except FileNotFoundError:
        raise
    except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise StorageError(f"{what}: the object store is unavailable ({type(exc).__name__})") from None


@dataclass(frozen=True)
class S3Storage:
    bucket: str
    prefix: str  # "" or ends with "/"
    client: Minio
    public: Minio | None = None  # signs presigned result links for clients, when the store is public
    kind = "s3"

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Storage:
        url = urlsplit(settings.storage_url)
        if not url.netloc:
            raise ConfigError(f"STORAGE_URL={settings.storage_url!r}: s3:// needs a bucket")
        prefix = url.path.strip("/")
        endpoint = settings.aws_endpoint_url or f"https://s3.{settings.aws_region or 'us-east-1'}.amazonaws.com"
        public = _client(settings.s3_public_endpoint, settings) if settings.s3_public_endpoint else None
        return cls(url.netloc, f"{prefix}/" if prefix else "", _client(endpoint, settings), public)

    def _key(self, folder: str, job_id: str, extension: str) -> str:
        if not job_id or not all(c.isalnum() or c in "-_" for c in job_id):
            raise ValueError(f"unsafe job id {job_id!r}")
        return f"{self.prefix}{folder}/{job_id}.{extension}"

    def _split(self, location: str) -> str:
        url = urlsplit(location)
        if url.scheme != "s3" or url.netloc != self.bucket:
            raise ValueError(f"not a location in bucket {self.bucket}: {location!r}")
        return url.path.lstrip("/")

    def _location(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def prepare(self) -> None:
        """The bucket exists (it is made when the store allows it: a local store, a first run)."""
        with _store_errors(f"bucket {self.bucket}"):
            if not self.client.bucket_exists(self.bucket):
                self.client.make_bucket(self.bucket)

    def upload_location(self, job_id: str, extension: str) -> str:
        return self._location(self._key("uploads", job_id, extension))

    def output_location(self, job_id: str, extension: str) -> str:
        return self._location(self._key("output", job_id, extension))

    def save_upload(self, job_id: str, extension: str, stream: IO[bytes]) -> tuple[str, int]:
        key = self._key("uploads", job_id, extension)
        start = stream.tell()
        size = stream.seek(0, io.SEEK_END) - start
        stream.seek(start)
        with _store_errors(f"cannot store upload {job_id}"):
            self.client.put_object(self.bucket, key, stream, size, part_size=PART)  # type: ignore[arg-type]
        return self._location(key), size

    def read(self, location: str) -> bytes:
        key = self._split(location)
        try:
            with _store_errors(f"cannot read {key.rsplit('/', 1)[-1]}"):
                resp = self.client.get_object(self.bucket, key)
                try:
                    return bytes(resp.read())
                finally:
                    resp.close()
                    resp.release_conn()
        except FileNotFoundError:
            raise InputMissing(f"the uploaded file {key.rsplit('/', 1)[-1]} is gone") from None

    @contextmanager
    def writer(self, location: str) -> Iterator[IO[bytes]]:
        """A buffer that becomes the object, whole, when the block ends without an error."""
        key = self._split(location)
        buffer = io.BytesIO()
        yield buffer
        size = buffer.tell()
        buffer.seek(0)
        with _store_errors(f"cannot write {key.rsplit('/', 1)[-1]}"):
            self.client.put_object(self.bucket, key, buffer, size)

    def result(self, location: str) -> Result:
        """A presigned link when the store is public, else the object's bytes as it streams from the store;
        FileNotFoundError when it is gone."""
        key = self._split(location)
        with _store_errors(f"cannot read {key.rsplit('/', 1)[-1]}"):
            size = int(self.client.stat_object(self.bucket, key).size or 0)
            if self.public is not None:
                return Result(size=size, url=self.public.presigned_get_object(self.bucket, key))
            resp = self.client.get_object(self.bucket, key)
        return Result(size=size, chunks=_chunks(resp))

    def remove(self, location: str) -> None:
        try:
            with _store_errors("cannot remove an object"):
                self.client.remove_object(self.bucket, self._split(location))
        except (StorageError, FileNotFoundError) as exc:
            log.warning("could not remove %s: %s", location, exc)

    def sweep(self, output_ttl: float, upload_ttl: float, temp_ttl: float) -> Swept:
        """Remove outputs older than ``output_ttl`` and uploads older than ``upload_ttl``; count the rest.
        (A PUT leaves no temp object behind: ``temp_ttl`` has nothing to do here.)"""
        now = time.time()
        removed, kept = {"output": 0, "uploads": 0}, {"output": 0, "uploads": 0}
        for folder, ttl in (("output", output_ttl), ("uploads", upload_ttl)):
            with _store_errors(f"cannot list {folder}"):
                for obj in self.client.list_objects(self.bucket, prefix=f"{self.prefix}{folder}/", recursive=True):
                    age = now - obj.last_modified.timestamp() if obj.last_modified else 0.0
                    if age > ttl and obj.object_name:
                        self.client.remove_object(self.bucket, obj.object_name)
                        removed[folder] += 1
                    else:
                        kept[folder] += int(obj.size or 0)
        return Swept(removed["output"], removed["uploads"], 0, kept["uploads"], kept["output"])

    def sweep_temp_files(self, older_than: float = 3600.0, pid: int | None = None, host: str | None = None) -> int:
        return 0

    def free_bytes(self) -> int | None:
        return None  # the store's own business


def _chunks(resp: Any) -> Iterator[bytes]:
    try:
        yield from resp.stream(CHUNK)
    finally:
        resp.close()
        resp.release_conn()
