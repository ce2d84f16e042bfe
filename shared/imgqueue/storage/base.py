"""What every storage backend shares: the interface, what a sweep found, how a result is sent, errors."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from ..errors import StorageError, StorageFull


@dataclass(frozen=True)
class Swept:
    """What a sweep removed, and the bytes it found stored afterwards."""

    outputs: int
    uploads: int
    temp: int
    upload_bytes: int
    output_bytes: int

    @property
    def removed(self) -> int:
        return self.outputs + self.uploads + self.temp


@dataclass(frozen=True)
class Result:
    """An output as the API sends it: a local ``path``, or ``chunks`` of ``size`` bytes, or a ``url`` the
    client may be redirected to (a presigned link to the object store)."""

    size: int
    path: Path | None = None
    chunks: Iterator[bytes] | None = None
    url: str | None = None


class Storage(Protocol):
    kind: str

    def prepare(self) -> None: ...
    def upload_location(self, job_id: str, extension: str) -> str: ...
    def output_location(self, job_id: str, extension: str) -> str: ...
    def save_upload(self, job_id: str, extension: str, stream: IO[bytes]) -> tuple[str, int]: ...
    def read(self, location: str) -> bytes: ...
    def writer(self, location: str) -> AbstractContextManager[IO[bytes]]: ...
    def result(self, location: str) -> Result: ...
    def remove(self, location: str) -> None: ...
    def sweep(self, output_ttl: float, upload_ttl: float, temp_ttl: float) -> Swept: ...
    def sweep_temp_files(self, older_than: float = 3600.0, pid: int | None = None, host: str | None = None) -> int: ...
    def free_bytes(self) -> int | None: ...


def storage_error(what: str, exc: OSError) -> StorageError:
    """The error for a failed file operation: StorageFull when the disk is full; never a full path."""
    full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
    return (StorageFull if full else StorageError)(f"{what}: {exc.strerror or type(exc).__name__}")
