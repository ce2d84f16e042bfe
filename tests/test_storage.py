"""Local files by object key: nobody sees a partial or empty file, a re-run replaces its output, a
killed writer's leftovers are swept, keys cannot leave their folders."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest

from imgqueue.errors import ObjectMissing, StorageError
from imgqueue.storage import LocalStorage, sweep
from imgqueue.storage.local import STALE_TEMP_AGE, TEMP_MARK


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    local = LocalStorage.at(tmp_path / "up", tmp_path / "out")
    local.prepare()
    return local


class Breaking(io.BytesIO):
    """A stream that gives some bytes, then fails (an encoder crashed, a client went away)."""

    calls = 0

    def read(self, n: int | None = -1) -> bytes:
        self.calls += 1
        if self.calls > 1:
            raise RuntimeError("encoder crashed")
        return super().read(n)


def test_a_put_publishes_only_complete_files(storage: LocalStorage) -> None:
    target = storage.path("output/out.jpg")

    class Watching(io.BytesIO):
        def read(self, n: int | None = -1) -> bytes:
            assert not target.exists(), "the final name must not exist before the write completes"
            return super().read(n)

    assert storage.put("output/out.jpg", Watching(b"partial")) == 7
    assert target.read_bytes() == b"partial"
    storage.put("output/out.jpg", b"second run")  # a re-run overwrites its own output
    assert target.read_bytes() == b"second run"
    assert [p.name for p in target.parent.iterdir()] == ["out.jpg"]


def test_failed_write_leaves_nothing_behind(storage: LocalStorage) -> None:
    with pytest.raises(RuntimeError):
        storage.put("output/out.jpg", Breaking(b"half"))
    assert list(storage.roots["output"].iterdir()) == []


def test_unwritable_folder_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    broken = LocalStorage.at(tmp_path / "file" / "up", tmp_path / "file" / "out")
    with pytest.raises(StorageError):
        broken.put("output/out.jpg", b"x")


def test_the_sweep_removes_a_killed_writers_leftovers_once_they_are_stale(storage: LocalStorage) -> None:
    folder = storage.roots["output"]
    stale, fresh = folder / f".a.jpg{TEMP_MARK}dead", folder / f".b.jpg{TEMP_MARK}writing"
    for p in (stale, fresh):
        p.write_bytes(b"x")
    past = time.time() - STALE_TEMP_AGE - 60
    os.utime(stale, (past, past))
    storage.put("output/kept.jpg", b"kept")
    swept = sweep(storage, {"output/": 3600})
    assert not stale.exists() and fresh.exists(), "a write in progress is left alone"
    assert [o.key for o in storage.list("output/")] == ["output/kept.jpg"], "temp files are not objects"
    assert swept.kept_bytes["output/"] == 4 and swept.total_removed == 0


def test_a_staged_upload_is_written_in_place_and_committed_whole(storage: LocalStorage) -> None:
    folder = storage.roots["uploads"]
    staged = storage.stage("uploads")
    staged.write(b"first half, ")
    staged.write(b"second half")
    assert storage.stat("uploads/u1.jpg") is None and [o.key for o in storage.list("uploads/")] == [], \
        "nothing is visible before the commit"
    staged.seek(0)
    assert staged.read(5) == b"first"
    inode = os.stat(staged.fileno()).st_ino
    assert staged.commit("uploads/u1.jpg") == 23
    staged.close()
    assert storage.get("uploads/u1.jpg") == b"first half, second half"
    assert (folder / "u1.jpg").stat().st_ino == inode, "renamed into place, not copied"
    assert sorted(p.name for p in folder.iterdir()) == ["u1.jpg"]
    with pytest.raises(ValueError):
        storage.stage("uploads").commit("output/u1.jpg")  # only within the folder it was staged in


def test_a_staged_upload_never_committed_is_removed_when_closed(storage: LocalStorage) -> None:
    staged = storage.stage("uploads")
    staged.write(b"a refused upload")
    staged.close()
    staged.close()
    assert list(storage.roots["uploads"].iterdir()) == []


def test_an_upload_staged_by_a_killed_api_goes_with_the_stale_temp_files(storage: LocalStorage) -> None:
    abandoned, writing = storage.stage("uploads"), storage.stage("uploads")
    for staged in (abandoned, writing):
        staged.write(b"half an upload")
        staged.flush()
    past = time.time() - STALE_TEMP_AGE - 60
    os.utime(abandoned.tmp, (past, past))
    assert list(storage.list("uploads/")) == [], "a staged file is no object"
    sweep(storage, {"uploads/": 3600})
    assert not os.path.exists(abandoned.tmp) and os.path.exists(writing.tmp)
    writing.close()


def test_missing_objects_and_unsafe_keys_are_refused(storage: LocalStorage) -> None:
    with pytest.raises(ObjectMissing):
        storage.get("uploads/nope.jpg")
    assert storage.stat("uploads/nope.jpg") is None
    for key in ("../../etc/passwd", "/etc/passwd", "uploads/../../x", "uploads/.hidden", "elsewhere/x.jpg", ""):
        with pytest.raises(ValueError):
            storage.put(key, b"x")
