"""What every storage backend does, addressed by object key (``uploads/<jobId>.jpg``,
``output/<jobId>.webp``): put an object whole or not at all, get it, stream it, delete it, stat it, list
a prefix with each object's age, and give a link where the backend can sign one."""

from __future__ import annotations

import errno
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Protocol

from ..errors import StorageError, StorageFull

# A key: slash-separated segments of letters, digits, '.', '_' and '-', none starting with a dot.
_KEY = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*")
MAX_KEY = 512
SPOOL_BYTES = 512 * 1024  # a staged object kept in memory up to this size (where it cannot be a file in place)


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    modified: float  # epoch seconds of its last write


class Reader(Protocol):
    """An object opened for reading: a binary stream that knows its size and when it was written."""

    size: int
    modified: float

    def read(self, n: int = -1) -> bytes: ...
    def close(self) -> None: ...


class Staged(Protocol):
    """An object being written as its bytes arrive (an upload), before its key is known: written, read back
    (it seeks), then ``commit``-ted under a key, visible whole or not at all; closed uncommitted, it is gone."""

    def write(self, data: bytes) -> int: ...
    def read(self, n: int = -1) -> bytes: ...
    def seek(self, offset: int, whence: int = 0) -> int: ...
    def tell(self) -> int: ...
    def fileno(self) -> int: ...
    def commit(self, key: str) -> int: ...
    def close(self) -> None: ...


class SpooledStage(tempfile.SpooledTemporaryFile):  # type: ignore[type-arg]
    """A staged object kept in memory (on a temp file past ``SPOOL_BYTES``), put whole on commit: for a
    backend that cannot rename an object into place (an object store)."""

    def __init__(self, put: Callable[[str, IO[bytes]], int]) -> None:
        super().__init__(max_size=SPOOL_BYTES)
        self._put = put

    def commit(self, key: str) -> int:
        self.seek(0)
        return self._put(key, self)


class Storage(Protocol):
    def prepare(self) -> None:
        """Make what the backend needs (the folders, the bucket). StorageError if it cannot now."""

    def put(self, key: str, data: bytes | IO[bytes]) -> int:
        """Store ``data`` (bytes, or a binary stream read to its end) as ``key``, replacing what was
        there: visible whole or not at all. Returns the size stored."""

    def stage(self, folder: str) -> Staged:
        """A new object to write now and commit later under a key in ``folder`` (a key's top folder:
        ``uploads``), so that an upload is written once, where it will stay."""

    def get(self, key: str) -> bytes:
        """The whole object; ObjectMissing when there is none."""

    def open(self, key: str) -> Reader:
        """The object as a stream; ObjectMissing when there is none."""

    def delete(self, key: str) -> None:
        """Remove the object if it is there (a failure is logged, not raised)."""

    def stat(self, key: str) -> StoredObject | None:
        """Size and age, or None when there is no such object."""

    def list(self, prefix: str) -> Iterator[StoredObject]:
        """Every object whose key starts with ``prefix`` (a folder: ``output/``), with its size and age."""

    def link(self, key: str, ttl: int) -> str | None:
        """A URL that serves the object to anyone for ``ttl`` seconds, where the backend signs such links
        for clients (an object store with S3_PUBLIC_ENDPOINT); None where it does not."""

    def location(self, key: str) -> str:
        """Where an operator finds the object (a file's path, ``s3://bucket/key``)."""

    def free_bytes(self) -> int | None:
        """Room left for new objects, or None where the backend has no such figure (an object store)."""


def checked(key: str) -> str:
    """``key`` if it is a safe object key (no absolute path, no ``..``, no hidden name); ValueError if not."""
    if len(key) > MAX_KEY or not _KEY.fullmatch(key):
        raise ValueError(f"unsafe object key {key[:100]!r}")
    return key


def storage_error(what: str, exc: OSError) -> StorageError:
    """The error for a failed file operation: StorageFull when the disk is full; never a full path."""
    full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
    return (StorageFull if full else StorageError)(f"{what}: {exc.strerror or type(exc).__name__}")
