"""Objects as files: each top folder of a key (``uploads/``, ``output/``) is a folder of its own. A file is
written to a hidden temp name beside its final one and renamed, so no reader ever sees a partial file; a
temp file a killed writer left behind is removed when ``list`` passes it, once it is old enough."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

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


class StagedFile(io.BufferedRandom):
    """An object being written under a hidden temp name in its key's folder (``Staged``): ``commit`` renames
    it to the key's name, in one step; closed uncommitted (a refused upload, a broken connection), it is
    removed. One that a killed process left behind goes as any stale temp file does."""

    def __init__(self, storage: LocalStorage, top: str) -> None:
        folder = storage.roots[top]
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, self.tmp = tempfile.mkstemp(prefix=f".staged{TEMP_MARK}", dir=folder)
            os.fchmod(fd, FILE_MODE)
        except OSError as exc:
            raise storage_error("cannot write an upload", exc) from exc
        super().__init__(io.FileIO(fd, "r+"), buffer_size=COPY_BLOCK)
        self.storage, self.top, self.committed = storage, top, False

    def write(self, data: Any) -> int:
        with _writing():
            return super().write(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        with _writing():  # a seek writes out what is buffered
            return super().seek(offset, whence)

    def commit(self, key: str) -> int:
        """Make the bytes written the object ``key`` (in the folder it was staged in); its size."""
        if key.partition("/")[0] != self.top:
            raise ValueError(f"a file staged in {self.top}/ cannot become {key[:100]!r}")
        path = self.storage.path(key)
        try:
            self.flush()
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.tmp, path)
        except OSError as exc:
            raise storage_error(f"cannot write {path.name}", exc) from exc
        self.committed = True
        return os.fstat(self.fileno()).st_size

    def close(self) -> None:
        if self.committed:
            super().close()
            return
        _discard(self.tmp)
        with contextlib.suppress(OSError):  # what is still buffered goes nowhere (a full disk refuses it again)
            super().close()


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

    def stage(self, folder: str) -> StagedFile:
        if folder not in self.roots:
            raise ValueError(f"no folder {folder[:100]!r}")
        return StagedFile(self, folder)

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


@contextlib.contextmanager
def _writing() -> Iterator[None]:
    """A staged file's write errors as storage errors (a full disk: StorageFull)."""
    try:
        yield
    except OSError as exc:
        raise storage_error("cannot write an upload", exc) from exc


def _discard(tmp: str | Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(tmp)
