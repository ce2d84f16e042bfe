"""The workers' own settings: processes, heartbeats, retries, time and memory limits, the imaging engine.
Read once at start, frozen, failing fast; the API never reads them."""

from __future__ import annotations

import random
from dataclasses import dataclass

from imgqueue.config import Settings, check, setting, usable_cpus

WORKERS, JOBS = "Workers", "Jobs"
IMAGING_ENGINES = ("auto", "vips", "pillow")  # vips: as auto, but the worker refuses to start without pyvips


@dataclass(frozen=True)
class WorkerSettings(Settings):
    worker_concurrency: int = setting(0, "worker processes per `imgqueue-worker` (0: one per CPU the container "
                                      "may use)", WORKERS, zero_ok=True)
    vips_threads: int = setting(0, "libvips threads per worker process (0: the CPUs shared out among the worker "
                                "processes, at least 1)", WORKERS, zero_ok=True)
    worker_prefetch: int = setting(1, "jobs a worker process takes at once; more saves round trips on very short "
                                   "jobs but lets one process hold jobs others could run (as Celery's prefetch)",
                                   WORKERS)
    heartbeat_interval: float = setting(5.0, "seconds between a worker's heartbeats", WORKERS)
    heartbeat_ttl: float = setting(15.0, "a worker silent this many seconds is dead; its jobs go back to the queue",
                                   WORKERS)
    recovery_interval: float = setting(5.0, "seconds between looks for dead workers (one worker process of the "
                                       "fleet looks, in turn)", WORKERS)
    shutdown_timeout: float = setting(30.0, "seconds a stopping worker may take to finish its current job",
                                      WORKERS)
    worker_memory_limit: int = setting(1024 ** 3, "bytes of memory one worker process may allocate; a job that "
                                       "needs more fails with `out_of_memory` and the process is replaced (0: no "
                                       "limit)", WORKERS, zero_ok=True)

    max_lost: int = setting(3, "a job whose worker died this many times fails (`worker_lost`: a poison job)", JOBS)
    max_retries: int = setting(3, "retries of transient errors (storage I/O)", JOBS, zero_ok=True)
    retry_backoff_base: float = setting(1.0, "retry backoff: base × 2^retries seconds, ×0.5–1.5 jitter", JOBS)
    retry_backoff_max: float = setting(60.0, "retry backoff cap, in seconds", JOBS)
    job_time_limit: float = setting(60.0, "seconds a job may run before it fails with `time_limit_exceeded`", JOBS)
    sweep_interval: float = setting(300.0, "seconds between sweeps for expired outputs and files a crash left "
                                    "behind (one worker process of the fleet sweeps, in turn)", JOBS)
    imaging_engine: str = setting("auto", "`auto`: libvips for the still JPEG, PNG and WebP it can take, Pillow "
                                  "for the rest (Pillow alone when pyvips is not installed); `vips`: the same, "
                                  "but refuse to start without pyvips; `pillow`: Pillow for every job", JOBS)

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.heartbeat_ttl > self.heartbeat_interval, "HEARTBEAT_TTL",
              f"must be longer than HEARTBEAT_INTERVAL ({self.heartbeat_interval})")
        check(self.imaging_engine in IMAGING_ENGINES, "IMAGING_ENGINE", "must be auto, vips or pillow")

    @property
    def concurrency(self) -> int:
        """Worker processes to start: the setting, or the CPUs this process may use when it is 0."""
        return self.worker_concurrency or usable_cpus()

    @property
    def threads_per_worker(self) -> int:
        """libvips threads for each worker process: the setting, or the CPUs shared out among them."""
        return self.vips_threads or max(1, usable_cpus() // self.concurrency)

    @property
    def recovery_bound(self) -> float:
        """Upper bound, in seconds, between a worker's death and its job going back to the queue."""
        return self.heartbeat_ttl + self.recovery_interval

    @property
    def upload_ttl(self) -> float:
        """An upload older than this has no job left that could read it (a crash left it behind)."""
        return float(self.job_ttl)

    def retry_delay(self, retries: int) -> float:
        """Seconds before retry number ``retries + 1``: exponential backoff, capped, with full jitter in
        [0.5, 1.5) x base x 2^retries."""
        delay = min(self.retry_backoff_max, self.retry_backoff_base * (2 ** retries))
        return float(delay * random.uniform(0.5, 1.5))
