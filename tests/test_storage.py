"""Atomic outputs: nobody sees a partial or empty file, a re-run replaces its output, leftovers are swept."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from imgqueue.errors import InputMissing, StorageError
from imgqueue.storage import LocalStorage as Storage
from imgqueue.storage import atomic_write


def test_atomic_write_publishes_only_complete_files(tmp_path: Path) -> None:
    target = tmp_path / "out.jpg"
    with atomic_write(target) as fh:
        fh.write(b"partial")
        assert not target.exists(), "the final name must not exist before the write completes"
    assert target.read_bytes() == b"partial"
    with atomic_write(target) as fh:  # a re-run overwrites its own output
        fh.write(b"second run")
    assert target.read_bytes() == b"second run"
    assert [p.name for p in tmp_path.iterdir()] == ["out.jpg"]


def test_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    target = tmp_path / "out.jpg"
    with pytest.raises(RuntimeError), atomic_write(target) as fh:
        fh.write(b"half")
        raise RuntimeError("encoder crashed")
    assert list(tmp_path.iterdir()) == []


def test_unwritable_folder_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError), atomic_write(tmp_path / "missing" / "out.jpg") as fh:
        fh.write(b"x")


def test_sweep_removes_dead_processes_temp_files(tmp_path: Path) -> None:
    storage = Storage(tmp_path / "up", tmp_path / "out")
    storage.prepare()
    host = socket.gethostname()
    dead = storage.output_dir / f".a.jpg.tmp-{host}-4242"
    other_host = storage.output_dir / ".a2.jpg.tmp-elsewhere-4242"
    live = storage.output_dir / f".b.jpg.tmp-{host}-{os.getpid()}"
    old = storage.upload_dir / ".c.png.tmp-17"
    keep = storage.output_dir / "d.jpg"
    for p in (dead, other_host, live, old, keep):
        p.write_bytes(b"x")
    past = time.time() - 7200
    os.utime(old, (past, past))
    assert storage.sweep_temp_files(pid=4242) == 1 and not dead.exists() and live.exists()
    assert other_host.exists(), "same pid on another host (container) is another process"
    assert storage.sweep_temp_files(pid=4242, host="elsewhere") == 1 and not other_host.exists()
    assert storage.sweep_temp_files(older_than=3600) == 1 and not old.exists() and live.exists()
    assert keep.exists()


def test_missing_input_is_permanent_and_unsafe_ids_are_refused(tmp_path: Path) -> None:
    storage = Storage(tmp_path / "up", tmp_path / "out")
    with pytest.raises(InputMissing):
        storage.read(tmp_path / "nope.jpg")
    with pytest.raises(ValueError):
        storage.output_path("../../etc/passwd", "jpg")
