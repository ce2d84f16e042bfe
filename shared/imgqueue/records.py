"""The values ``Queue`` takes and returns: outcomes to record, what recovery found, worker states and
histograms read back from Redis."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .job import Job, JobStatus


@dataclass(frozen=True)
class DeadWorker:
    id: str
    host: str
    pid: int | None


@dataclass(frozen=True)
class Recovery:
    promoted: int
    requeued: list[str]
    failed: list[str]
    dead: list[DeadWorker]

    @property
    def dead_workers(self) -> list[str]:
        return [d.id for d in self.dead]


@dataclass(frozen=True)
class Outcome:
    job_id: str
    status: JobStatus  # DONE, FAILED or RETRYING
    fields: dict[str, Any]
    retry_at: float = 0.0


@dataclass(frozen=True)
class Finished:
    applied: bool  # False when the transition was refused (the job had moved on without us)
    next_job: Job | None


@dataclass(frozen=True)
class BatchFinished:
    applied: list[bool]  # one per outcome, in order
    next_jobs: list[Job]


@dataclass(frozen=True)
class TokenRecord:
    """An API token as stored (never the token itself: its digest is the key)."""

    id: str  # a short public handle, to list and revoke it
    tenant: str
    role: str  # admin or client
    label: str
    created_at: float


@dataclass(frozen=True)
class Allowance:
    """What the rate limit said: ``allowed`` or not, the ``limit``, uses ``remaining`` in the window, and
    seconds until the next use frees up (``retry_after``: when refused, how long to wait; -1: never fits)."""

    allowed: bool
    limit: int
    remaining: int
    retry_after: float


@dataclass(frozen=True)
class WorkerState:
    """What a worker process is doing, from its registry hash."""

    current_job: str
    job_started: float  # epoch seconds; 0 when idle
    held: int  # jobs it holds (prefetch): they were started together and run one after the other


# Upper bounds (seconds) of the processing-time and queue-wait histograms the Lua scripts keep in Redis:
# a hash with a count per bound (and '+Inf') for its own bucket, and 'sum_us' (see observe in common.lua).
HISTOGRAM_BUCKETS = ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "60")


@dataclass(frozen=True)
class Histogram:
    buckets: list[tuple[float, int]]  # (upper bound, cumulative count), ending with (inf, count)
    sum: float

    @classmethod
    def from_hash(cls, raw: dict[str, str]) -> Histogram:
        cumulative, buckets = 0, []
        for bound in (*HISTOGRAM_BUCKETS, "+Inf"):
            cumulative += int(raw.get(bound, 0))
            buckets.append((float(bound.lstrip("+")), cumulative))
        return cls(buckets, int(raw.get("sum_us", 0)) / 1e6)

    @property
    def count(self) -> int:
        return self.buckets[-1][1]
