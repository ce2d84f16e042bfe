"""A worker's side of a job's run: claiming jobs (``BLMOVE`` into a processing list of its own, then
start.lua) and recording their outcomes (finish.lua, which may claim the next ones in the same round
trip). Every job taken sits in the worker's processing list until its outcome is recorded, so a crash
loses none of them (recovery hands them back)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..job import Job
from ..status import JobStatus
from .counters import DRAIN_STEP, HISTOGRAM_BUCKETS
from .part import Part


@dataclass(frozen=True)
class Outcome:
    job_id: str
    status: JobStatus  # DONE, FAILED or RETRYING
    fields: dict[str, Any]
    retry_at: float = 0.0


@dataclass(frozen=True)
class Recorded:
    applied: list[bool]  # one per outcome, in order: False when the job had moved on without us
    next_jobs: list[Job]


@dataclass
class Runs(Part):
    output_ttl: int = 0  # OUTPUT_TTL: written into a done job's record as its output's expiry

    def claim(self, worker_id: str, timeout: float = 1.0, count: int = 1) -> list[Job]:
        """Wait up to ``timeout`` seconds for a job; start it and up to ``count - 1`` more (prefetch).
        Jobs already in our processing list (their start reply was lost with the connection) come first."""
        jobs = self._start_held(worker_id, "", count)
        if jobs:
            return jobs
        job_id = self.redis.blmove(self.keys.queue, self.keys.processing(worker_id),
                                   timeout, "RIGHT", "LEFT")  # type: ignore[arg-type]  # Redis takes float seconds
        return [] if job_id is None else self._start_held(worker_id, str(job_id), count)

    def _start_held(self, worker_id: str, job_id: str, count: int) -> list[Job]:
        """start.lua: start ``job_id`` (or, with '', whatever our processing list holds), then pull more."""
        res = self.scripts("start", [self.keys.processing(worker_id), self.keys.worker(worker_id), self.keys.stats,
                                     self.keys.queue], [job_id, worker_id, count])
        return [_job_from_fields(fields) for fields in res]

    def record(self, worker_id: str, outcomes: Sequence[Outcome], take: int = 0) -> Recorded:
        """Record the outcomes and claim up to ``take`` queued jobs: one round trip, one Lua script."""
        payload = [{"id": o.job_id, "status": o.status.value, "fields": o.fields, "retry_at": o.retry_at}
                   for o in outcomes]
        res = self.scripts(
            "finish",
            [self.keys.processing(worker_id), self.keys.worker(worker_id), self.keys.stats, self.keys.queue,
             self.keys.delayed, self.keys.processing_time, self.keys.queue_wait,
             self.keys.drain(int(time.time()) // DRAIN_STEP)],
            [worker_id, json.dumps(payload), take, ",".join(HISTOGRAM_BUCKETS), self.output_ttl])
        return Recorded([bool(flag) for flag in res[0]], [_job_from_fields(fields) for fields in res[1:]])


def _job_from_fields(flat: list[str]) -> Job:
    return Job.from_redis(dict(zip(flat[::2], flat[1::2], strict=True)))
