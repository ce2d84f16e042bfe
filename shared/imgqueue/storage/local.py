"""Objects as files: each top folder of a key (``uploads/``, ``output/``) is a folder of its own. A file is
written to a hidden temp name beside its final one and renamed, so no reader ever sees a partial file; a
temp file a killed writer left behind is removed when ``list`` passes it, once it is old enough."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from ..errors import ObjectMissing
from .base import StoredObject, checked, storage_error

log = logging.getLogger(__name__)

TEMP_MARK = ".tmp-"
STALE_TEMP_AGE = 600.0  # seconds: a write takes milliseconds; a temp file this old belongs to a dead writer
COPY_BLOCK = 1024 * 1024
FILE_MODE = 0o644  # as open() would make it: other readers of a shared volume may read it


class FileReader:
    """An open file that knows its size and modification time (``Reader``)."""

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        stat = os.fstat(fh.fileno())
        self.size, self.modified = stat.st_size, stat.st_mtime

    def read(self, n: int = -1) -> bytes:
        return bytes(self._fh.read(n))

    def fileno(self) -> int:  # gunicorn sends a file with sendfile() when it has one
        return self._fh.fileno()

    def close(self) -> None:
        self._fh.close()


@dataclass(frozen=True)
class LocalStorage:
    roots: Mapping[str, Path]  # top folder of a key -> the folder it lives in

    @classmethod
    def at(cls, upload_dir: Path, output_dir: Path) -> LocalStorage:
        return cls({"uploads": upload_dir, "output": output_dir})

    def path(self, key: str) -> Path:
        top, _, rest = checked(key).partition("/")
        if top not in self.roots or not rest:
            raise ValueError(f"no folder for key {key[:100]!r}")
        return self.roots[top] / rest

    def prepare(self) -> None:
        try:
            for folder in self.roots.values():
                folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise storage_error("cannot create the storage folders", exc) from exc

    def put(self, key: str, data: bytes | IO[bytes]) -> int:
        path = self.path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{TEMP_MARK}", dir=path.parent)
        except OSError as exc:
            raise storage_error(f"cannot write {path.name}", exc) from exc
        try:
            os.fchmod(fd, FILE_MODE)
            with os.fdopen(fd, "wb") as out:
                if isinstance(data, bytes):
                    out.write(data)
                else:
                    shutil.copyfileobj(data, out, COPY_BLOCK)
                size = out.tell()
            os.replace(tmp, path)
            return size
        except OSError as exc:
            _discard(tmp)
            raise storage_error(f"cannot write {path.name}", exc) from exc
        except BaseException:
            _discard(tmp)
            raise

    def get(self, key: str) -> bytes:
        reader = self.open(key)
        try:
            return reader.read()
        finally:
            reader.close()

    def open(self, key: str) -> FileReader:
        path = self.path(key)
        try:
            return FileReader(path.open("rb"))
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectMissing(f"no object {key}") from None
        except OSError as exc:
            raise storage_error(f"cannot read {path.name}", exc) from exc

    def delete(self, key: str) -> None:
        path = self.path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("could not remove %s: %s", key, exc.strerror)

    def stat(self, key: str) -> StoredObject | None:
        try:
            st = self.path(key).stat()
        except OSError:
            return None
        return StoredObject(key, st.st_size, st.st_mtime)

    def list(self, prefix: str) -> Iterator[StoredObject]:
        top, _, rest = prefix.partition("/")
        folder = self.roots.get(top)
        if folder is None or not folder.is_dir():
            return
        now = time.time()
        for entry, st in _files(folder):
            name = entry.relative_to(folder).as_posix()
            if TEMP_MARK in entry.name and entry.name.startswith("."):
                if now - st.st_mtime > STALE_TEMP_AGE:
                    _discard(entry)
                continue
            if name.startswith(rest):
                yield StoredObject(f"{top}/{name}", st.st_size, st.st_mtime)

    def link(self, key: str, ttl: int) -> str | None:
        return None

    def location(self, key: str) -> str:
        return str(self.path(key))

    def free_bytes(self) -> int | None:
        folder = self.roots.get("uploads") or next(iter(self.roots.values()))
        return shutil.disk_usage(folder).free


def _files(folder: Path) -> Iterator[tuple[Path, os.stat_result]]:
    """The regular files under ``folder`` with their stat (those that vanish meanwhile are skipped)."""
    for dirpath, _dirs, names in os.walk(folder):
        for name in names:
            entry = Path(dirpath) / name
            with contextlib.suppress(OSError):
                st = entry.lstat()
                if entry.is_file() and not entry.is_symlink():
                    yield entry, st


def _discard(tmp: str | Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(tmp)
