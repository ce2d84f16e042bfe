"""A worker process's background thread: its heartbeat, and its turn at the fleet's chores.

* The heartbeat, every HEARTBEAT_INTERVAL, by every process: it keeps this process alive in the registry.
* Recovery, every RECOVERY_INTERVAL, by one process of the fleet (a claimed chore): jobs whose time has
  come (a delay, a retry's backoff) go to their queue (workers also do so as they take jobs), and the jobs
  of workers whose heartbeat expired go back to the head of theirs.
  One process a turn, so the fleet's cost grows with the number of workers, not with its square.
* The sweep, every SWEEP_INTERVAL, by one process of the fleet: outputs past OUTPUT_TTL, uploads a crash
  left behind (older than JOB_TTL: their job is gone); then the bytes-stored counters are set to what it
  counted, correcting any drift.
* A sample of the counters for the dashboard's charts, every HISTORY_INTERVAL, by one process of the fleet.

It also notices that the supervisor is gone, and stops the process."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

from imgqueue.errors import StorageError
from imgqueue.storage import Storage, sweep
from imgqueue.store import FULL, UNAVAILABLE, Store

from .settings import WorkerSettings

log = logging.getLogger(__name__)
RECOVERY, SWEEP = "recover", "sweep"
# Failures that pass: the next turn of the loop tries again.
PASSING: tuple[type[Exception], ...] = (*UNAVAILABLE, FULL, StorageError)


class Housekeeper(threading.Thread):
    def __init__(self, worker_id: str, settings: WorkerSettings, storage: Storage, stopping: threading.Event) -> None:
        super().__init__(name="housekeeping", daemon=True)
        self.worker_id, self.settings, self.storage, self.stopping = worker_id, settings, storage, stopping
        self.parent_pid = os.getppid()

    def run(self) -> None:
        store = Store.from_settings(self.settings, self.settings.policy)
        s = self.settings
        chores: list[tuple[Callable[[Store], None], float]] = [
            (self.beat, s.heartbeat_interval), (self.recover, s.recovery_interval), (self.sweep, s.sweep_interval),
            (self.sample, s.history_interval)]
        due = [0.0, 0.0, time.monotonic() + min(60.0, s.sweep_interval), 0.0]
        tick = min(s.heartbeat_interval, s.recovery_interval)
        first = True
        while not self.stopping.wait(0 if first else tick):
            first = False
            if os.getppid() != self.parent_pid:
                log.warning("worker=%s parent process is gone; stopping after the current job", self.worker_id)
                self.stopping.set()
                break
            try:
                for i, (chore, every) in enumerate(chores):  # the heartbeat first: it keeps us alive
                    if time.monotonic() >= due[i]:
                        chore(store)
                        due[i] = time.monotonic() + every
            except PASSING as exc:
                log.warning("worker=%s housekeeping failed: %s", self.worker_id, exc)
                due[1] = min(due[1], time.monotonic() + 1.0)

    def beat(self, store: Store) -> None:
        store.workers.heartbeat(self.worker_id, self.settings.heartbeat_ttl)

    def recover(self, store: Store) -> None:
        if not store.chores.claim(RECOVERY, self.settings.recovery_interval * 0.9):
            return  # another process of the fleet has this turn
        found = store.recovery.run()
        for dead in found.dead:
            log.warning("worker=%s found dead worker=%s requeued=%s failed=%s", self.worker_id, dead.id,
                        ",".join(found.requeued) or "-", ",".join(found.failed) or "-")
        if found.promoted:
            log.info("worker=%s moved %d due jobs to their queue", self.worker_id, found.promoted)

    def sample(self, store: Store) -> None:
        store.sample_history()  # unless another process of the fleet took this interval's

    def sweep(self, store: Store) -> None:
        if not store.chores.claim(SWEEP, self.settings.sweep_interval * 0.9):
            return  # another process swept moments ago
        s = self.settings
        result = sweep(self.storage, {"output/": s.output_ttl, "uploads/": s.upload_ttl},
                       lambda keys: store.jobs.wanted(keys, time.time()))
        store.counters.set_stored_bytes(result.kept_bytes["uploads/"], result.kept_bytes["output/"])
        if result.total_removed:
            log.info("worker=%s sweep removed outputs=%d uploads=%d stored_upload_bytes=%d stored_output_bytes=%d",
                     self.worker_id, result.removed["output/"], result.removed["uploads/"],
                     result.kept_bytes["uploads/"], result.kept_bytes["output/"])
