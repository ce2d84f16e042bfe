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
class WorkerState:
    """What a worker process is doing, from its registry hash."""

    current_job: str
    job_started: float  # epoch seconds; 0 when idle
    held: int  # jobs it holds (prefetch): they were started together and run one after the other


@dataclass(frozen=True)
class Histogram:
    buckets: list[tuple[float, int]]  # (upper bound, cumulative count), ending with (inf, count)
    sum: float

    @property
    def count(self) -> int:
        return self.buckets[-1][1]
