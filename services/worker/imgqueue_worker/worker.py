"""One worker process: takes jobs one at a time, resizes them, records the outcome.

A background thread (``Housekeeper``) keeps the heartbeat fresh, runs recovery and sweeps old files.
SIGTERM or SIGINT: stop taking jobs, finish the current one, hand back anything held, exit. A job that
needs more memory than WORKER_MEMORY_LIMIT fails with ``out_of_memory`` and the process exits after it,
so that a fresh one (started by the supervisor) takes the next job.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import socket
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any, TypeVar

from imgqueue.errors import (
    ImageError,
    InputMissing,
    InvalidSpec,
    JobTimeLimitExceeded,
    ObjectMissing,
    StorageError,
    TransientError,
)
from imgqueue.job import Job, JobStatus
from imgqueue.logs import TRACE
from imgqueue.storage import open_storage
from imgqueue.store import FULL, UNAVAILABLE, Applied, Gone, Outcome, Store

from . import making
from .housekeeping import Housekeeper
from .settings import WorkerSettings

log = logging.getLogger(__name__)
T = TypeVar("T")

# How long to keep retrying Redis when recording an outcome before giving up (the job is then
# recovered by another worker once our heartbeat expires).
REDIS_PATIENCE = 300.0


def new_worker_id(slot: int = 0) -> str:
    return f"{socket.gethostname()}.{os.getpid()}.{slot}.{random.randrange(16**6):06x}"


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024
    return f"{n:.1f}GB"


class Cancelled(Exception):
    """The job was cancelled while it ran (or is no longer this worker's): stop, write nothing more."""


class _StopWaiting(BaseException):
    """Raised by the stop signal's handler while the worker only waits for work: no need to wait out the
    wait (up to a second). Whatever the interrupted claim took is in this worker's processing list, which
    the stop hands back to the queue; redis-py drops a connection whose reply a BaseException cut off."""


class Worker:
    def __init__(self, settings: WorkerSettings, worker_id: str | None = None) -> None:
        self.settings = settings
        self.id = worker_id or new_worker_id()
        self.storage = open_storage(settings)
        self.limits = settings.limits
        self.stopping = threading.Event()
        self.stop_signalled = False
        self.waiting = False  # in a claim: a stop signal may end the wait at once
        self.exhausted = False  # a job ran out of memory: this process stops after recording it
        self._store: Store | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store.from_settings(self.settings, self.settings.policy)
        return self._store

    # --- life cycle --------------------------------------------------------------------------------

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self._on_stop_signal)
        signal.signal(signal.SIGINT, self._on_stop_signal)
        signal.signal(signal.SIGALRM, self._on_time_limit)

    def _on_stop_signal(self, signum: int, frame: FrameType | None) -> None:
        """Once only: a second signal (a process group's SIGTERM, then the supervisor's) can interrupt this very
        handler inside ``Event.set``, whose lock is not reentrant; it must not try to take it again."""
        if self.stop_signalled:
            return
        self.stop_signalled = True
        log.info("worker=%s signal=%s stopping after the current job", self.id, signal.Signals(signum).name)
        self.stopping.set()
        if self.waiting:
            raise _StopWaiting

    def _on_time_limit(self, signum: int, frame: FrameType | None) -> None:
        raise JobTimeLimitExceeded(f"the job ran longer than its time limit of {self.settings.job_time_limit:g} s")

    def run(self) -> None:
        self._prepare_storage()
        self._with_redis(lambda: self.store.workers.register(self.id, self._info(), self.settings.heartbeat_ttl))
        log.info("worker=%s pid=%d queue=%s started", self.id, os.getpid(), self.settings.queue_name)
        beat = Housekeeper(self.id, self.settings, self.storage, self.stopping)
        beat.start()
        jobs: list[Job] = []
        prefetch = self.settings.worker_prefetch
        queue_empty = False  # the last record took nothing: the queue was empty a moment ago
        try:
            while not self.stopping.is_set():
                if not jobs:
                    jobs = self._waiting_claim(prefetch, look_first=not queue_empty)
                    queue_empty = False
                    continue
                jobs = self.process_batch(jobs, take=prefetch)
                queue_empty = not jobs
        except _StopWaiting:
            pass  # the stop came as the wait for work ended
        finally:
            self.stopping.set()
            beat.join(timeout=self.settings.heartbeat_interval + 1)
            try:  # anything still held goes back to the queue, not counted as a loss
                self.store.recovery.release(self.id, Gone.RELEASED)
            except UNAVAILABLE as exc:
                log.warning("worker=%s could not unregister: %s", self.id, exc)
            log.info("worker=%s stopped", self.id)

    def _claim(self, prefetch: int, look_first: bool) -> list[Job]:
        return self._with_redis(lambda: self.store.runs.claim(self.id, 1.0, prefetch, look_first))

    def _waiting_claim(self, prefetch: int, look_first: bool) -> list[Job]:
        """A claim a stop signal may cut short (then nothing: the loop ends, the stop hands back the rest)."""
        self.waiting = True
        try:
            if self.stopping.is_set():
                return []
            return self._claim(prefetch, look_first)
        except _StopWaiting:
            return []
        finally:
            self.waiting = False

    def _info(self) -> dict[str, Any]:
        return {"host": socket.gethostname(), "pid": os.getpid(), "started_at": repr(time.time()),
                "current_job": "", "job_started": "", "jobs_done": 0, "jobs_failed": 0}

    # --- one job -----------------------------------------------------------------------------------

    def process_batch(self, jobs: list[Job], take: int) -> list[Job]:
        """Run the jobs held, record their outcomes and take up to ``take`` more, in one round trip.

        When asked to stop, the jobs not yet started stay in our processing list: ``unregister`` hands
        them back to the queue."""
        outcomes, logs = [], []
        for job in jobs:
            started = time.perf_counter()
            trace = TRACE.set(job.trace_id)  # every line logged about the job carries its trace id
            try:
                status, fields, retry_at = self._run(job)
            finally:
                TRACE.reset(trace)
            ms = (time.perf_counter() - started) * 1000
            fields["duration_ms"] = round(ms, 1)
            outcomes.append(Outcome(job.id, status, fields, retry_at))
            logs.append((job, ms))
            if self.stopping.is_set():
                break
        take = 0 if self.stopping.is_set() else take
        finished = self._with_redis(lambda: self.store.runs.record(self.id, outcomes, take))
        for (job, ms), result, applied in zip(logs, outcomes, finished.applied, strict=True):
            if result.status is JobStatus.DONE and applied is Applied.YES:
                self.storage.delete(job.input_key)  # a failed job keeps its upload: it may be retried
            elif result.status is JobStatus.DONE and applied is Applied.CANCELLED:
                for key in job.output_keys:  # cancelled while it ran: what it made is discarded
                    self.storage.delete(key)
            trace = TRACE.set(job.trace_id)
            self._log_outcome(job, result.status, result.fields, ms, applied)
            TRACE.reset(trace)
        for key in finished.removed_inputs:  # the uploads of failed jobs the retention removed
            self.storage.delete(key)
        return finished.next_jobs

    def _run(self, job: Job) -> tuple[JobStatus, dict[str, Any], float]:
        """Resize; map every failure onto an outcome. Never raises for a bad job."""
        signal.setitimer(signal.ITIMER_REAL, self.settings.job_time_limit)
        try:
            fields = making.make(job, self._input(job), self.storage, self.limits, self.settings.imaging_engine,
                                 lambda done, total: self._checkpoint(job, done, total))
            return JobStatus.DONE, fields, 0.0
        except Cancelled:
            return JobStatus.CANCELLED, {}, 0.0
        except (ImageError, InvalidSpec, InputMissing, JobTimeLimitExceeded) as exc:
            return JobStatus.FAILED, _error_fields(exc), 0.0
        except TransientError as exc:
            if job.retries < self.settings.max_retries:
                return JobStatus.RETRYING, _error_fields(exc), time.time() + self.settings.retry_delay(job.retries)
            fields = _error_fields(exc)
            fields["error"] = f"{fields['error']} (gave up after {job.retries} retries)"
            return JobStatus.FAILED, fields, 0.0
        except MemoryError:
            self.exhausted = True
            self.stopping.set()  # a fresh process takes the next job: this one's heap may be in pieces
            return JobStatus.FAILED, {"error_code": "out_of_memory", "error": "the image needed more memory "
                                      f"than a worker process may use ({_human(self.settings.worker_memory_limit)})"
                                      }, 0.0
        except Exception as exc:  # a bug of ours: fail this job readably, keep the worker alive
            log.exception("job=%s worker=%s unexpected error", job.id, self.id)
            return JobStatus.FAILED, {"error_code": "internal_error", "error": f"{type(exc).__name__}: {exc}"}, 0.0
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)

    def _checkpoint(self, job: Job, done: int, total: int) -> None:
        """Report progress (outputs written of all); raise Cancelled if the job was cancelled meanwhile."""
        if not self._with_redis(lambda: self.store.runs.checkpoint(self.id, job.id, done, total)):
            raise Cancelled(job.id)

    def _input(self, job: Job) -> bytes:
        try:
            return self.storage.get(job.input_key)
        except ObjectMissing:
            raise InputMissing(f"the uploaded file {job.input_key.rsplit('/', 1)[-1]} is gone") from None

    def _log_outcome(self, job: Job, outcome: JobStatus, fields: dict[str, Any], ms: float,
                     applied: Applied) -> None:
        stale = {Applied.YES: "", Applied.REFUSED: " stale=true", Applied.CANCELLED: " cancelled=true"}[applied]
        src = f"{job.input_width}x{job.input_height}/{job.input_format or '?'}/{_human(job.input_bytes)}"
        if outcome is JobStatus.CANCELLED:
            log.info("job=%s status=cancelled ms=%.0f input=%s stopped=checkpoint worker=%s", job.id, ms, src, self.id)
        elif outcome is JobStatus.DONE:
            dst = f"{fields['output_width']}x{fields['output_height']}/{fields['output_format']}/" \
                  f"{_human(fields['output_bytes'])}"
            log.info("job=%s status=done ms=%.0f input=%s output=%s engine=%s attempt=%d worker=%s%s",
                     job.id, ms, src, dst, fields["engine"], job.attempts, self.id, stale)
        else:
            log.warning("job=%s status=%s ms=%.0f input=%s code=%s error=%r attempt=%d worker=%s%s",
                        job.id, outcome.value, ms, src, fields.get("error_code"), fields.get("error"),
                        job.attempts, self.id, stale)

    def _with_redis(self, call: Callable[[], T]) -> T:
        """Run a Redis call, retrying while Redis is unreachable or full, for up to REDIS_PATIENCE seconds
        (a job a worker cannot report is recovered by another one once its heartbeat expires)."""
        return self._patiently(call, (*UNAVAILABLE, FULL), "redis")

    def _prepare_storage(self) -> None:
        """The folders, or the bucket. A store that is down now is not a reason to wait: each job then
        fails to read or write with a StorageError, which is retried with backoff like any other."""
        try:
            self.storage.prepare()
        except StorageError as exc:
            log.warning("worker=%s storage not ready (%s); jobs will retry until it is", self.id, exc)

    def _patiently(self, call: Callable[[], T], errors: tuple[type[BaseException], ...], what: str) -> T:
        deadline = time.monotonic() + REDIS_PATIENCE
        delay = 0.1
        while True:
            try:
                return call()
            except errors as exc:
                if time.monotonic() + delay > deadline:
                    raise
                log.warning("worker=%s %s unavailable (%s); retrying in %.1f s", self.id, what, exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0) * random.uniform(0.8, 1.2)


def _error_fields(exc: Exception) -> dict[str, Any]:
    return {"error_code": getattr(exc, "code", "error"), "error": str(exc) or type(exc).__name__}
