"""Files in two local folders, named by job id, written atomically (a hidden temp name, then a rename)."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..errors import InputMissing
from .base import Result, Swept, storage_error

log = logging.getLogger(__name__)

_TMP_MARK = ".tmp-"


@dataclass(frozen=True)
class LocalStorage:
    upload_dir: Path
    output_dir: Path
    kind = "local"

    def prepare(self) -> None:
        try:
            self.upload_dir.mkdir(parents=True, exist_ok=True)
            self.output_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise storage_error("cannot create the storage folders", exc) from exc

    def upload_path(self, job_id: str, extension: str) -> Path:
        return self.upload_dir / f"{_safe(job_id)}.{extension}"

    def output_path(self, job_id: str, extension: str) -> Path:
        return self.output_dir / f"{_safe(job_id)}.{extension}"

    def upload_location(self, job_id: str, extension: str) -> str:
        return str(self.upload_path(job_id, extension))

    def output_location(self, job_id: str, extension: str) -> str:
        return str(self.output_path(job_id, extension))

    def save_upload(self, job_id: str, extension: str, stream: IO[bytes]) -> tuple[str, int]:
        """Copy an upload stream to its final name atomically; returns the path and its size."""
        path = self.upload_path(job_id, extension)
        with atomic_write(path) as out:
            shutil.copyfileobj(stream, out, 1024 * 1024)
            size = out.tell()
        return str(path), size

    def writer(self, location: str) -> AbstractContextManager[IO[bytes]]:
        return atomic_write(Path(location))

    def result(self, location: str) -> Result:
        """The output file to send; FileNotFoundError when it is gone."""
        path = Path(location)
        return Result(size=path.stat().st_size, path=path)

    def free_bytes(self) -> int | None:
        return shutil.disk_usage(self.upload_dir).free

    def read(self, path: str | Path) -> bytes:
        try:
            with open(path, "rb") as fh:
                return fh.read()
        except FileNotFoundError:
            raise InputMissing(f"the uploaded file {Path(path).name} is gone") from None
        except OSError as exc:
            raise storage_error(f"cannot read {Path(path).name}", exc) from exc

    def remove(self, path: str | Path) -> None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("could not remove %s: %s", path, exc)

    def sweep_temp_files(self, older_than: float = 3600.0, pid: int | None = None, host: str | None = None) -> int:
        """Delete temp files that a killed process left behind: those of process ``pid`` on ``host``
        (default: this host), known to be dead, or, without ``pid``, those older than ``older_than``
        seconds. Returns how many were removed."""
        removed = 0
        cutoff = time.time() - older_than
        suffix = _tmp_suffix(host or socket.gethostname(), pid) if pid is not None else None
        for folder in (self.upload_dir, self.output_dir):
            if not folder.is_dir():
                continue
            for entry in folder.iterdir():
                if not (entry.name.startswith(".") and _TMP_MARK in entry.name):
                    continue
                try:
                    if (entry.name.endswith(suffix) if suffix else entry.stat().st_mtime < cutoff):
                        entry.unlink()
                        removed += 1
                except OSError:
                    continue
        return removed


    def sweep(self, output_ttl: float, upload_ttl: float, temp_ttl: float) -> Swept:
        """Remove outputs older than ``output_ttl`` seconds, uploads older than ``upload_ttl`` (their job is
        long gone: a crash left them) and temp files older than ``temp_ttl``; count what stays."""
        now = time.time()
        kept: dict[Path, int] = {}
        removed: dict[Path, int] = {}
        temp = 0
        for folder, ttl in ((self.output_dir, output_ttl), (self.upload_dir, upload_ttl)):
            kept[folder] = removed[folder] = 0
            for entry, stat in _files(folder):
                is_temp = entry.name.startswith(".") and _TMP_MARK in entry.name
                if now - stat.st_mtime > (temp_ttl if is_temp else ttl) and _unlink(entry):
                    temp += is_temp
                    removed[folder] += not is_temp
                elif not is_temp:
                    kept[folder] += stat.st_size
        return Swept(removed[self.output_dir], removed[self.upload_dir], temp, kept[self.upload_dir],
                     kept[self.output_dir])


def _files(folder: Path) -> Iterator[tuple[Path, os.stat_result]]:
    """The regular files of ``folder`` with their stat (those that vanish meanwhile are skipped)."""
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        try:
            stat = entry.stat()
        except OSError:
            continue
        if entry.is_file():
            yield entry, stat


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False
    except OSError as exc:
        log.warning("could not remove %s: %s", path.name, exc.strerror)
        return False


@contextmanager
def atomic_write(path: Path) -> Iterator[IO[bytes]]:
    """Write to a hidden temp file beside ``path`` and rename it over ``path`` only on success,
    so no reader ever sees a partial or empty file. A re-run simply replaces the old file."""
    tmp = path.with_name(f".{path.name}{_tmp_suffix(socket.gethostname(), os.getpid())}")
    try:
        with open(tmp, "wb") as out:
            yield out
        os.replace(tmp, path)
    except OSError as exc:
        _discard(tmp)
        raise storage_error(f"cannot write {path.name}", exc) from exc
    except BaseException:
        _discard(tmp)
        raise


def _tmp_suffix(host: str, pid: int) -> str:
    """Host and pid both: workers in several containers share the output volume and their pids repeat."""
    return f"{_TMP_MARK}{host}-{pid}"


def _discard(tmp: Path) -> None:
    with contextlib.suppress(OSError):
        tmp.unlink()


def _safe(job_id: str) -> str:
    if not job_id or not all(c.isalnum() or c in "-_" for c in job_id):
        raise ValueError(f"unsafe job id {job_id!r}")
    return job_id
