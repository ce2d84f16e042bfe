"""A worker's side of a job's run: claiming jobs (start.lua moves each into a processing list of the
worker's own and starts it: priorities by weighted turns, then the tenant that used the workers least
lately, FIFO within a tenant's queue), its checkpoints (progress, and whether it was cancelled), and
recording outcomes (finish.lua, which may claim the next ones in the same round trip). Every job taken
sits in the worker's processing list until its outcome is recorded, so a crash loses none of them
(recovery hands them back). An idle worker waits on a list of wake-up tokens (``BLPOP``), one pushed per
job queued."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from ..job import Job
from ..status import JobStatus
from .counters import DRAIN_STEP
from .part import Part
from .policy import Policy


@dataclass(frozen=True)
class Outcome:
    job_id: str
    status: JobStatus  # DONE, FAILED or RETRYING
    fields: dict[str, Any]
    retry_at: float = 0.0


class Applied(IntEnum):
    """What became of an outcome."""

    REFUSED = 0  # the job had moved on without this worker (another finished it first, say)
    YES = 1
    CANCELLED = 2  # the job was cancelled meanwhile: what was made for it must be discarded


@dataclass(frozen=True)
class Recorded:
    applied: list[Applied]  # one per outcome, in order
    next_jobs: list[Job]
    removed_inputs: list[str]  # object keys of the uploads of jobs the retention removed


@dataclass
class Runs(Part):
    output_ttl: int = 0  # OUTPUT_TTL: written into a done job's record as its output's expiry
    policy: Policy = field(default_factory=Policy)
    takes: int = 0  # jobs this process took: its place in the priorities' weighted round

    def claim(self, worker_id: str, timeout: float = 1.0, count: int = 1, look_first: bool = True) -> list[Job]:
        """Start up to ``count`` jobs (prefetch), waiting up to ``timeout`` seconds for one to be queued.
        Jobs already in our processing list (their start reply was lost with the connection) come first.
        ``look_first=False``: the caller has just found the queue empty (a ``record`` that took nothing), so
        wait for a wake-up before looking (one script per job fewer for a worker that keeps up)."""
        if look_first or timeout <= 0:
            jobs = self._start(worker_id, count)
            if jobs or timeout <= 0:
                return jobs
        self.redis.blpop([self.keys.wake], timeout)  # Redis takes float seconds
        return self._start(worker_id, count)

    def _start(self, worker_id: str, count: int) -> list[Job]:
        res = self.scripts("start", [self.keys.processing(worker_id), self.keys.worker(worker_id)],
                           [worker_id, count, self.policy.tenant_cap, self.policy.fair_half_life, self.takes])
        self.takes += len(res)
        return [_job_from_fields(fields) for fields in res]

    def checkpoint(self, worker_id: str, job_id: str, done: int, total: int) -> bool:
        """Record and publish a job's progress; False when it was cancelled (stop, discard what was made)."""
        progress = json.dumps({"done": done, "total": total}, separators=(",", ":"))
        return bool(self.scripts("checkpoint", [], [job_id, worker_id, progress]))

    def record(self, worker_id: str, outcomes: Sequence[Outcome], take: int = 0) -> Recorded:
        """Record the outcomes and claim up to ``take`` queued jobs: one round trip, one Lua script."""
        payload = [{"id": o.job_id, "status": o.status.value, "fields": o.fields, "retry_at": o.retry_at}
                   for o in outcomes]
        res = self.scripts(
            "finish",
            [self.keys.processing(worker_id), self.keys.worker(worker_id), self.keys.processing_time,
             self.keys.queue_wait, self.keys.drain(int(time.time()) // DRAIN_STEP)],
            [worker_id, json.dumps(payload), take, self.output_ttl, self.policy.tenant_cap,
             self.policy.fair_half_life, self.retention, self.takes])
        self.takes += len(res) - 2
        return Recorded([Applied(int(flag)) for flag in res[0]], [_job_from_fields(fields) for fields in res[2:]],
                        [str(k) for k in res[1]])

    @property
    def retention(self) -> str:
        p = self.policy
        kept = {status.value: [r.most, r.seconds] for status, r in ((JobStatus.DONE, p.keep_done),
                                                                   (JobStatus.FAILED, p.keep_failed))
                if r.most or r.seconds}
        return json.dumps(kept)


def _job_from_fields(flat: list[str]) -> Job:
    return Job.from_redis(dict(zip(flat[::2], flat[1::2], strict=True)))
