"""Runs N worker processes, each with its own Redis connection, and looks after them.

* A child that dies (OOM, crash, SIGKILL) while the supervisor lives has its job handed back at once,
  counted as a loss of that job (MAX_LOST: a poison job), and is replaced. (A whole worker that vanishes
  is found by recovery, and counts toward MAX_VANISHED instead.)
* A job past its time limit plus a grace period (the child's own SIGALRM did not stop it, e.g. stuck
  in C code) gets its child SIGKILLed; the job fails with ``time_limit_exceeded``.
* Each child may allocate WORKER_MEMORY_LIMIT bytes (RLIMIT_DATA): past it, the job fails with
  ``out_of_memory`` and the child is replaced. A child the kernel's OOM killer took (the container's
  ``mem_limit``: the cgroup counts its OOM kills) fails its job with ``out_of_memory`` too, rather than
  handing back a job that would take the next worker down as well.
* SIGTERM/SIGINT: children get SIGTERM and ``shutdown_timeout`` seconds to finish their job; then
  SIGKILL, and whatever they still held goes back to the queue.
* WEBHOOK_DISPATCHERS more children deliver webhooks (``dispatcher``); one that dies is replaced (what it
  held is claimed again when its lease ends).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.process
import os
import resource
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from imgqueue import vips
from imgqueue.job import JobStatus
from imgqueue.logs import setup_logging
from imgqueue.store import FAILURE, UNAVAILABLE, Gone, Outcome, Store

from .dispatcher import Dispatcher
from .settings import WorkerSettings
from .worker import Worker, new_worker_id

log = logging.getLogger(__name__)

HARD_LIMIT_GRACE = 10.0
# Where the kernel counts the OOM kills of this container (cgroup v2, then v1).
OOM_COUNTERS = (Path("/sys/fs/cgroup/memory.events"), Path("/sys/fs/cgroup/memory/memory.oom_control"))
_ctx = multiprocessing.get_context("spawn")


def _dispatcher_main(settings: WorkerSettings) -> None:
    with contextlib.suppress(OSError):  # its name in ps and top (15 characters at most)
        Path("/proc/self/comm").write_text("iq-dispatcher")
    setup_logging(settings.log_level, fmt=settings.log_format)
    dispatcher = Dispatcher(settings)
    dispatcher.install_signal_handlers()
    dispatcher.run()


def _child_main(settings: WorkerSettings, worker_id: str) -> None:
    setup_logging(settings.log_level, fmt=settings.log_format)
    vips.set_threads(settings.threads_per_worker)  # before libvips starts its thread pool
    if settings.worker_memory_limit:
        resource.setrlimit(resource.RLIMIT_DATA, (settings.worker_memory_limit, settings.worker_memory_limit))
    worker = Worker(settings, worker_id)
    worker.install_signal_handlers()
    worker.run()


@dataclass
class Slot:
    index: int
    worker_id: str = ""
    process: multiprocessing.process.BaseProcess | None = None
    restarts: list[float] = field(default_factory=list)


class Supervisor:
    def __init__(self, settings: WorkerSettings, concurrency: int | None = None) -> None:
        self.settings = settings
        self.concurrency = concurrency or settings.concurrency
        self.slots = [Slot(i) for i in range(self.concurrency)]
        self.dispatchers: list[multiprocessing.process.BaseProcess] = []
        self._stop = False
        self._store: Store | None = None
        self._oom_kills = oom_kills()
        os.environ.setdefault("MALLOC_ARENA_MAX", "2")  # children: fewer malloc arenas, less memory held

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store.from_settings(self.settings, self.settings.policy)
        return self._store

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if not self._stop:
            log.info("supervisor signal=%s: stopping %d workers (up to %.0f s to finish their jobs)",
                     signal.Signals(signum).name, self.concurrency, self.settings.shutdown_timeout)
        self._stop = True
        self._forward(signal.SIGTERM)

    def _forward(self, signum: int) -> None:
        """Tell every child at once, not at the next turn of the loop: a child told late may take one more
        job after the stop was asked for."""
        procs = [slot.process for slot in self.slots if slot.process is not None] + self.dispatchers
        for proc in procs:
            if proc.pid is not None and proc.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signum)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        log.info("supervisor starting %d worker processes on queue %s", self.concurrency, self.settings.queue_name)
        for slot in self.slots:
            self._start(slot)
        self.dispatchers = [self._dispatcher(i) for i in range(self.settings.webhook_dispatchers)]
        while not self._stop:
            time.sleep(0.5)
            for slot in self.slots:
                if self._stop:
                    break
                self._check(slot)
            self._check_dispatchers()
        self._shutdown()
        return 0

    def _dispatcher(self, index: int) -> multiprocessing.process.BaseProcess:
        proc = _ctx.Process(target=_dispatcher_main, args=(self.settings,), name=f"imgqueue-dispatcher-{index}",
                            daemon=False)
        proc.start()
        return proc

    def _check_dispatchers(self) -> None:
        for index, proc in enumerate(self.dispatchers):
            if not self._stop and not proc.is_alive():
                log.warning("webhook dispatcher exited with code %s; restarting it", proc.exitcode)
                time.sleep(0.5 if proc.exitcode else 0)
                self.dispatchers[index] = self._dispatcher(index)

    def _start(self, slot: Slot) -> None:
        now = time.monotonic()
        slot.restarts = [t for t in slot.restarts if now - t < 60] + [now]
        if len(slot.restarts) > 5:  # crashing in a loop: slow down instead of spinning
            time.sleep(5)
        slot.worker_id = new_worker_id(slot.index)
        slot.process = _ctx.Process(target=_child_main, args=(self.settings, slot.worker_id),
                                    name=f"imgqueue-worker-{slot.index}", daemon=False)
        slot.process.start()

    def _check(self, slot: Slot) -> None:
        proc = slot.process
        if proc is None:
            return
        if not proc.is_alive():
            log.warning("worker=%s exited with code %s; handing back its job and restarting it",
                        slot.worker_id, proc.exitcode)
            if proc.exitcode == -signal.SIGKILL and self._oom_killed():
                self._fail_current(slot, "out_of_memory", "the worker process was killed for using more memory "
                                   "than its container may (mem_limit)")
            self._release(slot.worker_id, Gone.CRASHED if proc.exitcode != 0 else Gone.RELEASED)
            self._start(slot)
            return
        self._enforce_time_limit(slot)

    def _enforce_time_limit(self, slot: Slot) -> None:
        try:
            state = self.store.workers.state(slot.worker_id)
        except UNAVAILABLE:
            return
        if not state.current_job or not state.job_started:
            return
        # With prefetch, the jobs held were all started at once and run one after the other.
        limit = self.settings.job_time_limit * max(1, state.held) + HARD_LIMIT_GRACE
        if time.time() - state.job_started <= limit:
            return
        current = state.current_job
        log.error("job=%s worker=%s still running after %.0f s: killing the worker process",
                  current, slot.worker_id, limit)
        assert slot.process is not None
        slot.process.kill()
        slot.process.join(5)
        self._fail_current(slot, "time_limit_exceeded", f"the job ran longer than its time limit of "
                           f"{self.settings.job_time_limit:g} s and its worker process was killed")
        self._release(slot.worker_id, Gone.RELEASED)
        self._start(slot)

    def _fail_current(self, slot: Slot, code: str, reason: str) -> None:
        """Fail the job a child that was killed was working on (the others it held go back)."""
        try:
            current = self.store.workers.state(slot.worker_id).current_job
            if current:
                failed = Outcome(current, JobStatus.FAILED, {"error_code": code, "error": reason})
                self.store.runs.record(slot.worker_id, [failed])
                log.error("job=%s worker=%s failed code=%s", current, slot.worker_id, code)
        except UNAVAILABLE as exc:
            log.warning("could not fail the job of worker=%s: %s", slot.worker_id, exc)

    def _oom_killed(self) -> bool:
        """Whether the kernel's OOM killer struck since we last looked."""
        before, self._oom_kills = self._oom_kills, oom_kills()
        return before is not None and self._oom_kills is not None and self._oom_kills > before

    def _release(self, worker_id: str, gone: Gone) -> None:
        try:
            found = self.store.recovery.release(worker_id, gone)
        except FAILURE as exc:
            log.warning("could not hand back the jobs of worker=%s: %s (recovery will)", worker_id, exc)
            return
        if found.requeued or found.failed:
            log.warning("worker=%s released: requeued=%s failed=%s", worker_id,
                        ",".join(found.requeued) or "-", ",".join(found.failed) or "-")

    def _shutdown(self) -> None:
        for dispatcher in self.dispatchers:
            with contextlib.suppress(ProcessLookupError):
                dispatcher.terminate()
        live = [s for s in self.slots if s.process is not None and s.process.is_alive()]
        for slot in live:
            assert slot.process is not None and slot.process.pid is not None
            with contextlib.suppress(ProcessLookupError):
                slot.process.terminate()
        deadline = time.monotonic() + self.settings.shutdown_timeout
        for slot in live:
            assert slot.process is not None
            slot.process.join(max(0.0, deadline - time.monotonic()))
        for slot in self.slots:
            proc = slot.process
            if proc is None:
                continue
            if proc.is_alive():
                log.warning("worker=%s did not stop within %.0f s: killing it", slot.worker_id,
                            self.settings.shutdown_timeout)
                proc.kill()
                proc.join(5)
            # Anything a stopped child still held goes back to the queue (not a loss: it was asked to stop).
            self._release(slot.worker_id, Gone.RELEASED)
        for dispatcher in self.dispatchers:
            dispatcher.join(max(0.0, deadline - time.monotonic()))
            if dispatcher.is_alive():
                dispatcher.kill()
                dispatcher.join(5)
        log.info("supervisor stopped")


def oom_kills() -> int | None:
    """OOM kills the kernel counted in this process's memory cgroup; None where no counter is readable."""
    for path in OOM_COUNTERS:
        try:
            for line in path.read_text().splitlines():
                name, _, value = line.partition(" ")
                if name == "oom_kill":
                    return int(value)
        except (OSError, ValueError):
            continue
    return None
