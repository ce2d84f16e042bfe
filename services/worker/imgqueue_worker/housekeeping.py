"""A worker process's background thread: the heartbeat, recovery (dead workers' jobs, due retries), the
periodic sweep of files, and noticing that the supervisor is gone.

The sweep (every SWEEP_INTERVAL, by one worker at a time) removes outputs past OUTPUT_TTL, uploads a crash
left behind (older than JOB_TTL: their job is gone), and temp files of processes that died on other
hosts; it then sets the bytes-stored counters to what it counted, correcting any drift."""

from __future__ import annotations

import logging
import os
import threading
import time

from imgqueue.config import Settings
from imgqueue.errors import StorageError
from imgqueue.queue import FULL, UNAVAILABLE, Queue
from imgqueue.storage import Storage

log = logging.getLogger(__name__)
SWEEP_CHORE = "sweep"
# Failures that pass: the next turn of the loop tries again.
PASSING: tuple[type[Exception], ...] = (*UNAVAILABLE, FULL, StorageError)


class Housekeeper(threading.Thread):
    def __init__(self, worker_id: str, settings: Settings, storage: Storage, stopping: threading.Event) -> None:
        super().__init__(name="housekeeping", daemon=True)
        self.worker_id, self.settings, self.storage, self.stopping = worker_id, settings, storage, stopping
        self.parent_pid = os.getppid()

    def run(self) -> None:
        queue = Queue.from_settings(self.settings)
        s = self.settings
        due = {"beat": 0.0, "recover": 0.0, "sweep": time.monotonic() + min(60.0, s.sweep_interval)}
        every = {"beat": s.heartbeat_interval, "recover": s.recovery_interval, "sweep": s.sweep_interval}
        tick = min(s.heartbeat_interval, s.recovery_interval)
        first = True
        while not self.stopping.wait(0 if first else tick):
            first = False
            if os.getppid() != self.parent_pid:
                log.warning("worker=%s parent process is gone; stopping after the current job", self.worker_id)
                self.stopping.set()
                break
            try:
                for chore in ("beat", "recover", "sweep"):  # the heartbeat first: it keeps us alive
                    if time.monotonic() >= due[chore]:
                        getattr(self, chore)(queue)
                        due[chore] = time.monotonic() + every[chore]
            except PASSING as exc:
                log.warning("worker=%s housekeeping failed: %s", self.worker_id, exc)
                due["recover"] = min(due["recover"], time.monotonic() + 1.0)

    def beat(self, queue: Queue) -> None:
        queue.heartbeat(self.worker_id)

    def recover(self, queue: Queue) -> None:
        found = queue.recover()
        for dead in found.dead:
            log.warning("worker=%s found dead worker=%s requeued=%s failed=%s", self.worker_id, dead.id,
                        ",".join(found.requeued) or "-", ",".join(found.failed) or "-")
            if dead.pid is not None and dead.host:  # its half-written output, if any
                self.storage.sweep_temp_files(pid=dead.pid, host=dead.host)
        for job in queue.get_many(found.failed):
            self.storage.remove(job.input_path)
        if found.promoted:
            log.info("worker=%s moved %d retries back to the queue", self.worker_id, found.promoted)

    def sweep(self, queue: Queue) -> None:
        if not queue.claim_chore(SWEEP_CHORE, self.settings.sweep_interval * 0.9):
            return  # another worker swept moments ago
        s = self.settings
        result = self.storage.sweep(output_ttl=s.output_ttl, upload_ttl=s.job_ttl, temp_ttl=s.temp_file_max_age)
        queue.set_stored_bytes(result.upload_bytes, result.output_bytes)
        if result.removed:
            log.info("worker=%s sweep removed=%d outputs=%d uploads=%d temp=%d stored_upload_bytes=%d "
                     "stored_output_bytes=%d", self.worker_id, result.removed, result.outputs, result.uploads,
                     result.temp, result.upload_bytes, result.output_bytes)
