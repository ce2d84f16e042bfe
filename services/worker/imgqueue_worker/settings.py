"""The workers' own settings: processes, heartbeats, retries, time and memory limits, the imaging engine.
Read once at start, frozen, failing fast; the API never reads them."""

from __future__ import annotations

import random
from dataclasses import dataclass

from imgqueue.config import WEBHOOKS, Settings, check, setting, usable_cpus
from imgqueue.store import Policy, Retention

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

    max_lost: int = setting(3, "a job whose worker process died running it this many times, its supervisor alive "
                            "(an OOM kill, a decoder's crash), fails (`worker_lost`: a poison job)", JOBS)
    max_vanished: int = setting(20, "a job whose whole worker vanished running it this many times (its container, "
                                "host or supervisor gone: rarely the job's fault) fails (`worker_lost`)", JOBS)
    tenant_concurrency: int = setting(0, "jobs one tenant may have processing at once, fleet-wide (0: no cap); "
                                      "fair share holds whatever this says", JOBS, zero_ok=True)
    fair_share_half_life: float = setting(300.0, "fair share between tenants: the next job is the oldest of the "
                                          "tenant that used the workers least lately, a job's weight halving "
                                          "every this many seconds", JOBS)
    keep_done_jobs: int = setting(0, "done jobs kept (the oldest go first; 0: no limit, `JOB_TTL` alone)", JOBS,
                                  zero_ok=True)
    keep_done_seconds: float = setting(0.0, "seconds a done job is kept after it ended (0: `JOB_TTL` alone)", JOBS,
                                       zero_ok=True)
    keep_failed_jobs: int = setting(0, "failed jobs kept, with their uploads (0: no limit, `JOB_TTL` alone)", JOBS,
                                    zero_ok=True)
    keep_failed_seconds: float = setting(0.0, "seconds a failed job (and its upload, for a retry) is kept after it "
                                         "ended (0: `JOB_TTL` alone)", JOBS, zero_ok=True)
    max_retries: int = setting(3, "retries of transient errors (storage I/O)", JOBS, zero_ok=True)
    retry_backoff_base: float = setting(1.0, "retry backoff: base × 2^retries seconds, ×0.5–1.5 jitter", JOBS)
    retry_backoff_max: float = setting(60.0, "retry backoff cap, in seconds", JOBS)
    job_time_limit: float = setting(60.0, "seconds a job may run before it fails with `time_limit_exceeded`", JOBS)
    sweep_interval: float = setting(300.0, "seconds between sweeps for expired outputs and files a crash left "
                                    "behind (one worker process of the fleet sweeps, in turn)", JOBS)
    imaging_engine: str = setting("auto", "`auto`: libvips for the still JPEG, PNG and WebP it can take, Pillow "
                                  "for the rest (Pillow alone when pyvips is not installed); `vips`: the same, "
                                  "but refuse to start without pyvips; `pillow`: Pillow for every job", JOBS)

    webhook_dispatchers: int = setting(1, "webhook dispatcher processes per `imgqueue-worker` (0: none here; "
                                       "`imgqueue-worker dispatch` runs one alone)", WEBHOOKS, zero_ok=True)
    webhook_concurrency: int = setting(8, "deliveries one dispatcher makes at once", WEBHOOKS)
    webhook_tenant_concurrency: int = setting(2, "deliveries of one tenant one dispatcher makes at once: a slow "
                                              "receiver holds no more than these", WEBHOOKS)
    public_api_url: str = setting("", "the API's address as clients reach it (`https://img.example.com`): the "
                                  "links in webhook payloads start with it (empty: paths alone)", WEBHOOKS)

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.heartbeat_ttl > self.heartbeat_interval, "HEARTBEAT_TTL",
              f"must be longer than HEARTBEAT_INTERVAL ({self.heartbeat_interval})")
        check(self.imaging_engine in IMAGING_ENGINES, "IMAGING_ENGINE", "must be auto, vips or pillow")

    @property
    def policy(self) -> Policy:
        """How this worker takes jobs and gives them back (for the store's scripts)."""
        return Policy(tenant_cap=self.tenant_concurrency,
                      keep_done=Retention(self.keep_done_jobs, self.keep_done_seconds),
                      keep_failed=Retention(self.keep_failed_jobs, self.keep_failed_seconds),
                      max_lost=self.max_lost, max_vanished=self.max_vanished,
                      fair_half_life=self.fair_share_half_life)

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
