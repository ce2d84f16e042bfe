"""Worker processes for real: killed mid-job, stopped with SIGTERM, timed out, retried.

A slow job is made with a FIFO as its input: the worker blocks reading it until the test writes the
image, so "in the middle of a job" is exact rather than a race against the clock.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from helpers import enqueue, image_bytes, local_path, wait_for, wait_status
from imgqueue import keys
from imgqueue.job import Job, JobStatus
from imgqueue.store import Store
from imgqueue_dev.settings import StackSettings
from imgqueue_dev.stack import LocalStack


def fifo(folder: Path, name: str = "slow.jpg") -> Path:
    path = folder / name
    os.mkfifo(path)
    return path


def feed(path: Path, data: bytes) -> threading.Thread:
    """Write ``data`` into the FIFO once a reader opens it (in a thread, with a deadline)."""

    def write() -> None:
        fd = os.open(path, os.O_WRONLY)  # blocks until the worker opens it for reading
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    t = threading.Thread(target=write, daemon=True)
    t.start()
    return t


def supervisor_pid(worker_id: str) -> int:
    return int(worker_id.split(".")[-3])  # host.supervisor_pid.slot.random


def no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if ".tmp-" in p.name]


def test_sigkilled_worker_loses_nothing(settings: StackSettings, store: Store, local: LocalStack,
                                        make_job: Callable[..., Job], tmp_path: Path) -> None:
    a, b = local.start_workers(), local.start_workers()
    slow = enqueue(store, make_job(input_path=fifo(settings.upload_dir)))
    others = [enqueue(store, make_job(image_bytes(800, 600))) for _ in range(5)]
    first = wait_status(store, slow.id, {JobStatus.PROCESSING})
    victim = a if supervisor_pid(first.worker) == a.pid else b
    victim.signal(signal.SIGKILL)  # supervisor and its child, as when a container is killed
    # A live worker notices the dead heartbeat and takes the job over (bounded by TTL + interval).
    taken_at = time.monotonic()
    second = wait_for(lambda: (j := store.jobs.get(slow.id)).status is JobStatus.PROCESSING
                      and j.worker != first.worker and j, 15, "another worker to take the job over")
    assert time.monotonic() - taken_at < settings.recovery_bound + 3
    feed(local_path(settings, slow.input_key), image_bytes(900, 700)).join(20)
    done = wait_status(store, slow.id, {JobStatus.DONE, JobStatus.FAILED})
    assert done.status is JobStatus.DONE, done.error
    assert done.worker == second.worker != first.worker  # type: ignore[attr-defined]
    assert done.attempts == 2 and done.vanished == 1 and done.lost == 0, "a whole worker killed: not a poison sign"
    with Image.open(local_path(settings, done.output_key)) as out:
        out.load()  # the whole file decodes
        assert out.size == (120, 80)
    for job in others:
        assert wait_status(store, job.id, {JobStatus.DONE}).status is JobStatus.DONE
    assert no_temp_files(settings.output_dir)


def test_killed_child_is_replaced_and_its_job_handed_back_at_once(
        settings: StackSettings, store: Store, local: LocalStack, make_job: Callable[..., Job], tmp_path: Path) -> None:
    # A long heartbeat TTL: only the supervisor noticing its child's death can explain a quick handover.
    local.start_workers(concurrency=1, heartbeat_ttl=60.0, heartbeat_interval=1.0)
    slow = enqueue(store, make_job(input_path=fifo(settings.upload_dir)))
    first = wait_status(store, slow.id, {JobStatus.PROCESSING})
    child_pid = int(store.redis.hget(store.keys.worker(first.worker), "pid"))  # type: ignore[arg-type]
    os.kill(child_pid, signal.SIGKILL)
    wait_for(lambda: (j := store.jobs.get(slow.id)).status is JobStatus.PROCESSING and j.worker != first.worker,
             15, "the replacement child to take the job")
    feed(local_path(settings, slow.input_key), image_bytes()).join(20)
    done = wait_status(store, slow.id, {JobStatus.DONE})
    assert done.lost == 1 and done.attempts == 2


def test_poison_job_fails_after_n_worker_deaths(settings: StackSettings, store: Store, local: LocalStack,
                                                make_job: Callable[..., Job], tmp_path: Path) -> None:
    """An input that kills the worker process running it (as a decoder's crash or an OOM kill would), its
    supervisor alive: after MAX_LOST deaths the job fails, and the worker carries on."""
    local.settings = settings.with_overrides(max_lost=2)
    local.start_workers(concurrency=1, heartbeat_ttl=60.0, heartbeat_interval=1.0)
    job = enqueue(store, make_job(input_path=fifo(settings.upload_dir)))
    previous = ""
    for _ in range(2):
        current = wait_for(lambda prev=previous: (j := store.jobs.get(job.id)).status is JobStatus.PROCESSING
                           and j.worker != prev and j, 20, "a worker process to take the job")
        previous = current.worker  # type: ignore[attr-defined]
        os.kill(int(store.redis.hget(store.keys.worker(previous), "pid")), signal.SIGKILL)  # type: ignore[arg-type]
    final = wait_status(store, job.id, {JobStatus.FAILED})
    assert final.error_code == "worker_lost" and final.lost == 2 and "poison" in final.error
    after = enqueue(store, make_job(image_bytes()))
    assert wait_status(store, after.id, {JobStatus.DONE}).status is JobStatus.DONE


def test_sigterm_finishes_the_current_job_and_takes_no_more(
        settings: StackSettings, store: Store, local: LocalStack, make_job: Callable[..., Job], tmp_path: Path) -> None:
    proc = local.start_workers()
    slow = enqueue(store, make_job(input_path=fifo(settings.upload_dir)))
    wait_status(store, slow.id, {JobStatus.PROCESSING})
    waiting = enqueue(store, make_job(image_bytes()))
    os.kill(proc.pid, signal.SIGTERM)  # the supervisor only, as `docker stop` does
    # The child knows before its job ends (exactly, rather than after a sleep that a loaded machine outlasts).
    wait_for(lambda: "stopping after the current job" in local.worker_logs(), 10, "the child to hear of the stop")
    feed(local_path(settings, slow.input_key), image_bytes()).join(20)
    assert proc.popen.wait(20) == 0  # type: ignore[union-attr]
    assert store.jobs.get(slow.id).status is JobStatus.DONE
    assert store.jobs.status(waiting.id) is JobStatus.QUEUED and store.jobs.depth() == 1
    assert store.workers.all() == []  # unregistered on the way out


def test_time_limit_fails_a_runaway_job_and_the_worker_carries_on(
        settings: StackSettings, store: Store, local: LocalStack, make_job: Callable[..., Job], tmp_path: Path) -> None:
    local.start_workers(job_time_limit=1.0)
    stuck = enqueue(store, make_job(input_path=fifo(settings.upload_dir)))  # nobody ever writes to it
    after = enqueue(store, make_job(image_bytes()))
    failed = wait_status(store, stuck.id, {JobStatus.FAILED, JobStatus.DONE})
    assert failed.status is JobStatus.FAILED and failed.error_code == "time_limit_exceeded"
    assert "time limit" in failed.error
    assert wait_status(store, after.id, {JobStatus.DONE}).status is JobStatus.DONE


def test_transient_storage_error_is_retried_then_succeeds(
        settings: StackSettings, store: Store, local: LocalStack, make_job: Callable[..., Job], tmp_path: Path) -> None:
    path = settings.upload_dir / "later.jpg"
    path.mkdir()  # reading a directory fails with an OSError: a storage error, worth retrying
    job = enqueue(store, make_job(input_path=path))
    local.start_workers(retry_backoff_base=1.0, retry_backoff_max=1.0)
    wait_for(lambda: store.jobs.get(job.id).retries >= 1, 15, "a retry")
    path.rmdir()
    path.write_bytes(image_bytes())
    done = wait_status(store, job.id, {JobStatus.DONE, JobStatus.FAILED})
    assert done.status is JobStatus.DONE and done.retries >= 1


def test_transient_errors_give_up_after_max_retries(
        settings: StackSettings, store: Store, local: LocalStack, make_job: Callable[..., Job], tmp_path: Path) -> None:
    path = settings.upload_dir / "never.jpg"
    path.mkdir()
    job = enqueue(store, make_job(input_path=path))
    local.start_workers(max_retries=2)
    failed = wait_status(store, job.id, {JobStatus.FAILED})
    assert failed.error_code == "storage_error" and "gave up after 2 retries" in failed.error
    assert failed.retries == 2 and failed.attempts == 3


def test_worker_registry_and_healthcheck(settings: StackSettings, store: Store, local: LocalStack,
                                         make_job: Callable[..., Job]) -> None:
    from imgqueue_worker.__main__ import healthcheck

    assert healthcheck(settings) == 1
    local.start_workers(concurrency=2)
    live = wait_for(lambda: len([w for w in store.workers.all() if w["alive"]]) == 2 and store.workers.all(), 15,
                    "two registered workers")
    assert {"host", "pid", "current_job", "last_heartbeat", "jobs_done"} <= set(live[0])  # type: ignore[index]
    job = enqueue(store, make_job(image_bytes()))
    wait_status(store, job.id, {JobStatus.DONE})
    assert sum(int(w["jobs_done"]) for w in store.workers.all()) == 1
    assert healthcheck(settings) == 0


def test_input_removed_after_done_output_written_atomically(
        settings: StackSettings, store: Store, local: LocalStack, make_job: Callable[..., Job]) -> None:
    local.start_workers()
    job = enqueue(store, make_job(image_bytes(1000, 800)))
    done = wait_status(store, job.id, {JobStatus.DONE})
    assert not local_path(settings, job.input_key).exists()
    assert local_path(settings, done.output_key).stat().st_size == done.output_bytes > 0
    assert no_temp_files(settings.output_dir)


def test_prefetching_worker_processes_every_job(
        settings: StackSettings, store: Store, local: LocalStack, make_job: Callable[..., Job]) -> None:
    jobs = [enqueue(store, make_job(image_bytes(300 + i, 200))) for i in range(20)]
    local.start_workers(worker_prefetch=4)
    for job in jobs:
        done = wait_status(store, job.id, {JobStatus.DONE, JobStatus.FAILED})
        assert done.status is JobStatus.DONE and done.output_width == 120
    assert store.redis.llen(store.keys.processing(done.worker)) == 0


def test_a_job_queued_by_the_previous_version_is_read_and_done(
        settings: StackSettings, store: Store, local: LocalStack) -> None:
    """0.1 wrote where a job's files were (``input_path``, ``output_path``) rather than their keys: such a
    record, still queued during an upgrade, is read and run, its output where 0.1 would have put it."""
    settings.upload_dir.mkdir(parents=True, exist_ok=True)
    job_id = "0" * 31 + "1"
    upload = settings.upload_dir / f"{job_id}.jpg"
    upload.write_bytes(image_bytes(640, 480))
    old_record = {"id": job_id, "status": "queued", "spec": '{"width":100,"height":60,"fit":"cover"}',
                  "input_path": str(upload), "output_path": str(settings.output_dir / f"{job_id}.jpg"),
                  "created_at": "1.0"}
    store.redis.hset(keys.job_hash(job_id), mapping=old_record)
    store.redis.set(keys.job_status(job_id), "queued")
    store.redis.lpush(store.keys.queue, job_id)
    local.start_workers()
    done = wait_status(store, job_id, {JobStatus.DONE, JobStatus.FAILED})
    assert done.status is JobStatus.DONE, done.error
    assert (done.input_key, done.output_key) == (f"uploads/{job_id}.jpg", f"output/{job_id}.jpg")
    with Image.open(settings.output_dir / f"{job_id}.jpg") as out:
        assert out.size == (100, 60)
    assert not upload.exists()
    live = store.redis.hgetall(store.keys.count)
    assert all(int(v) >= 0 for v in live.values()), f"a job no one counted leaves no debt: {live}"


def test_a_sigterm_to_the_whole_process_group_stops_every_worker_quickly(store: Store, local: LocalStack) -> None:
    """An init system, or `kill -TERM -<pgid>`, signals every process at once: a worker process hears the
    signal twice (from the group, then from its supervisor) and must not deadlock on the second."""
    for _ in range(2):
        proc = local.start_workers(concurrency=2)
        local.wait_workers(2)
        time.sleep(0.3)  # idle in their blocking fetch, where the two signals land
        proc.signal(signal.SIGTERM)  # the process group: supervisor and children alike
        assert proc.popen.wait(12) == 0  # type: ignore[union-attr]
        assert store.workers.all() == [], "every worker process unregistered on its way out"
        local.workers.remove(proc)


def test_a_worker_stopped_while_jobs_trickle_in_leaves_each_done_or_queued(store: Store, local: LocalStack,
                                                                         make_job: Callable[..., Job]) -> None:
    """A stop signal ends a worker's wait for work at once, wherever in its claim it lands: whatever that
    claim took goes back to the queue, so every job ends done or queued, none held by a stopped worker."""
    ids: list[str] = []
    for _ in range(3):
        proc = local.start_workers(concurrency=2)
        local.wait_workers(2)
        trickling = threading.Event()

        def trickle(until: threading.Event) -> None:
            while not until.wait(0.01):
                ids.append(enqueue(store, make_job(image_bytes(24, 16))).id)

        feeder = threading.Thread(target=trickle, args=(trickling,), daemon=True)
        feeder.start()
        time.sleep(0.5)
        proc.signal(signal.SIGTERM)
        assert proc.popen.wait(30) == 0  # type: ignore[union-attr]
        trickling.set()
        feeder.join(5)
        local.workers.remove(proc)
        assert store.workers.all() == [], "every worker process unregistered on its way out"
        statuses = {job.status for job in store.jobs.get_many(ids)}
        assert statuses <= {JobStatus.DONE, JobStatus.QUEUED}, statuses
    local.start_workers(1)
    wait_for(lambda: all(j.status is JobStatus.DONE for j in store.jobs.get_many(ids)), 60, "every job done")


def test_a_second_stop_signal_never_waits_on_a_lock(settings: StackSettings) -> None:
    """The second signal can land inside the first one's handler, in ``Event.set``, which holds the event's
    (non-reentrant) lock: the handler must return without taking it, or the process hangs until killed."""
    from imgqueue_worker import Worker

    worker = Worker(settings)
    worker._on_stop_signal(signal.SIGTERM, None)
    with worker.stopping._cond:  # type: ignore[attr-defined]  # as if the first handler were interrupted there
        second = threading.Thread(target=worker._on_stop_signal, args=(signal.SIGTERM, None), daemon=True)
        second.start()
        second.join(2)
        assert not second.is_alive(), "the second signal's handler waited on the lock its interrupted first held"
