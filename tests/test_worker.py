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

from helpers import image_bytes, wait_for, wait_status
from imgqueue.config import Settings
from imgqueue.job import Job, JobStatus
from imgqueue.queue import Queue
from imgqueue_dev.stack import LocalStack


def fifo(tmp_path: Path, name: str = "slow.jpg") -> Path:
    path = tmp_path / name
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


def test_sigkilled_worker_loses_nothing(settings: Settings, queue: Queue, local: LocalStack,
                                        make_job: Callable[..., Job], tmp_path: Path) -> None:
    a, b = local.start_workers(), local.start_workers()
    slow = queue.enqueue(make_job(input_path=fifo(tmp_path)))
    others = [queue.enqueue(make_job(image_bytes(800, 600))) for _ in range(5)]
    first = wait_status(queue, slow.id, {JobStatus.PROCESSING})
    victim = a if supervisor_pid(first.worker) == a.pid else b
    victim.signal(signal.SIGKILL)  # supervisor and its child, as when a container is killed
    # A live worker notices the dead heartbeat and takes the job over (bounded by TTL + interval).
    taken_at = time.monotonic()
    second = wait_for(lambda: (j := queue.get(slow.id)).status is JobStatus.PROCESSING
                      and j.worker != first.worker and j, 15, "another worker to take the job over")
    assert time.monotonic() - taken_at < settings.recovery_bound + 3
    feed(Path(slow.input_path), image_bytes(900, 700)).join(20)
    done = wait_status(queue, slow.id, {JobStatus.DONE, JobStatus.FAILED})
    assert done.status is JobStatus.DONE, done.error
    assert done.worker == second.worker != first.worker  # type: ignore[attr-defined]
    assert done.attempts == 2 and done.lost == 1
    with Image.open(done.output_path) as out:
        out.load()  # the whole file decodes
        assert out.size == (120, 80)
    for job in others:
        assert wait_status(queue, job.id, {JobStatus.DONE}).status is JobStatus.DONE
    assert no_temp_files(settings.output_dir)


def test_killed_child_is_replaced_and_its_job_handed_back_at_once(
        settings: Settings, queue: Queue, local: LocalStack, make_job: Callable[..., Job], tmp_path: Path) -> None:
    # A long heartbeat TTL: only the supervisor noticing its child's death can explain a quick handover.
    local.start_workers(concurrency=1, heartbeat_ttl=60.0, heartbeat_interval=1.0)
    slow = queue.enqueue(make_job(input_path=fifo(tmp_path)))
    first = wait_status(queue, slow.id, {JobStatus.PROCESSING})
    child_pid = int(queue.redis.hget(queue.keys.worker(first.worker), "pid"))  # type: ignore[arg-type]
    os.kill(child_pid, signal.SIGKILL)
    wait_for(lambda: (j := queue.get(slow.id)).status is JobStatus.PROCESSING and j.worker != first.worker,
             15, "the replacement child to take the job")
    feed(Path(slow.input_path), image_bytes()).join(20)
    done = wait_status(queue, slow.id, {JobStatus.DONE})
    assert done.lost == 1 and done.attempts == 2


def test_poison_job_fails_after_n_worker_deaths(settings: Settings, queue: Queue, local: LocalStack,
                                                make_job: Callable[..., Job], tmp_path: Path) -> None:
    settings = settings.with_overrides(max_lost=2)
    local.settings = settings
    job = queue.enqueue(make_job(input_path=fifo(tmp_path)))
    previous = ""
    for _ in range(2):
        proc = local.start_workers()
        current = wait_for(lambda prev=previous: (j := queue.get(job.id)).status is JobStatus.PROCESSING
                           and j.worker != prev and j, 20, "a new worker to take the job")
        previous = current.worker  # type: ignore[attr-defined]
        proc.signal(signal.SIGKILL)
        proc.popen.wait(10)  # type: ignore[union-attr]
    local.start_workers()  # a live worker runs recovery
    final = wait_status(queue, job.id, {JobStatus.FAILED})
    assert final.error_code == "worker_lost" and final.lost == 2


def test_sigterm_finishes_the_current_job_and_takes_no_more(
        settings: Settings, queue: Queue, local: LocalStack, make_job: Callable[..., Job], tmp_path: Path) -> None:
    proc = local.start_workers()
    slow = queue.enqueue(make_job(input_path=fifo(tmp_path)))
    wait_status(queue, slow.id, {JobStatus.PROCESSING})
    waiting = queue.enqueue(make_job(image_bytes()))
    os.kill(proc.pid, signal.SIGTERM)  # the supervisor only, as `docker stop` does
    # The child knows before its job ends (exactly, rather than after a sleep that a loaded machine outlasts).
    wait_for(lambda: "stopping after the current job" in local.worker_logs(), 10, "the child to hear of the stop")
    feed(Path(slow.input_path), image_bytes()).join(20)
    assert proc.popen.wait(20) == 0  # type: ignore[union-attr]
    assert queue.get(slow.id).status is JobStatus.DONE
    assert queue.status(waiting.id) is JobStatus.QUEUED and queue.depth() == 1
    assert queue.workers() == []  # unregistered on the way out


def test_time_limit_fails_a_runaway_job_and_the_worker_carries_on(
        settings: Settings, queue: Queue, local: LocalStack, make_job: Callable[..., Job], tmp_path: Path) -> None:
    local.start_workers(job_time_limit=1.0)
    stuck = queue.enqueue(make_job(input_path=fifo(tmp_path)))  # nobody ever writes to it
    after = queue.enqueue(make_job(image_bytes()))
    failed = wait_status(queue, stuck.id, {JobStatus.FAILED, JobStatus.DONE})
    assert failed.status is JobStatus.FAILED and failed.error_code == "time_limit_exceeded"
    assert "time limit" in failed.error
    assert wait_status(queue, after.id, {JobStatus.DONE}).status is JobStatus.DONE


def test_transient_storage_error_is_retried_then_succeeds(
        settings: Settings, queue: Queue, local: LocalStack, make_job: Callable[..., Job], tmp_path: Path) -> None:
    path = tmp_path / "later.jpg"
    path.mkdir()  # reading a directory fails with an OSError: a storage error, worth retrying
    job = queue.enqueue(make_job(input_path=path))
    local.start_workers(retry_backoff_base=1.0, retry_backoff_max=1.0)
    wait_for(lambda: queue.get(job.id).retries >= 1, 15, "a retry")
    path.rmdir()
    path.write_bytes(image_bytes())
    done = wait_status(queue, job.id, {JobStatus.DONE, JobStatus.FAILED})
    assert done.status is JobStatus.DONE and done.retries >= 1


def test_transient_errors_give_up_after_max_retries(
        settings: Settings, queue: Queue, local: LocalStack, make_job: Callable[..., Job], tmp_path: Path) -> None:
    path = tmp_path / "never.jpg"
    path.mkdir()
    job = queue.enqueue(make_job(input_path=path))
    local.start_workers(max_retries=2)
    failed = wait_status(queue, job.id, {JobStatus.FAILED})
    assert failed.error_code == "storage_error" and "gave up after 2 retries" in failed.error
    assert failed.retries == 2 and failed.attempts == 3


def test_worker_registry_and_healthcheck(settings: Settings, queue: Queue, local: LocalStack,
                                         make_job: Callable[..., Job]) -> None:
    from imgqueue_worker.__main__ import healthcheck

    assert healthcheck(settings) == 1
    local.start_workers(concurrency=2)
    live = wait_for(lambda: len([w for w in queue.workers() if w["alive"]]) == 2 and queue.workers(), 15,
                    "two registered workers")
    assert {"host", "pid", "current_job", "last_heartbeat", "jobs_done"} <= set(live[0])  # type: ignore[index]
    job = queue.enqueue(make_job(image_bytes()))
    wait_status(queue, job.id, {JobStatus.DONE})
    assert sum(int(w["jobs_done"]) for w in queue.workers()) == 1
    assert healthcheck(settings) == 0


def test_input_removed_after_done_output_written_atomically(
        settings: Settings, queue: Queue, local: LocalStack, make_job: Callable[..., Job]) -> None:
    local.start_workers()
    job = queue.enqueue(make_job(image_bytes(1000, 800)))
    done = wait_status(queue, job.id, {JobStatus.DONE})
    assert not Path(job.input_path).exists()
    assert Path(done.output_path).stat().st_size == done.output_bytes > 0
    assert no_temp_files(settings.output_dir)


def test_prefetching_worker_processes_every_job(
        settings: Settings, queue: Queue, local: LocalStack, make_job: Callable[..., Job]) -> None:
    jobs = [queue.enqueue(make_job(image_bytes(300 + i, 200))) for i in range(20)]
    local.start_workers(worker_prefetch=4)
    for job in jobs:
        done = wait_status(queue, job.id, {JobStatus.DONE, JobStatus.FAILED})
        assert done.status is JobStatus.DONE and done.output_width == 120
    assert queue.redis.llen(queue.keys.processing(done.worker)) == 0
