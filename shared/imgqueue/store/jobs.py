"""Job records: queue them (atomically, within the queue's limit; now or at a time; or done at once when
an identical upload's output can be shared), cancel and retry them, read them, list them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .. import keys
from ..errors import JobNotFound, NotReplicated, QueueFull
from ..job import Job
from ..status import JobStatus, Priority
from .connection import now_ms
from .part import Part

ENQUEUE_CHUNK = 500


@dataclass(frozen=True)
class Changed:
    """What cancel or retry made of a job: whether it changed, and its status before."""

    changed: bool
    before: JobStatus


@dataclass
class JobStore(Part):
    min_replicas: int = 0  # REDIS_MIN_REPLICAS: replicas an enqueue must reach before it returns
    replica_timeout: float = 1.0
    output_ttl: int = 0  # OUTPUT_TTL: how long a shared output is kept for the duplicate that shares it

    def enqueue(self, jobs: Sequence[Job], max_depth: int = 0) -> list[Job]:
        """Write each record and status, index it, push it (or schedule it, with a ``run_at`` to come) and
        publish its event: one atomic Lua script per ``ENQUEUE_CHUNK`` jobs. A job with ``duplicate_of``
        is created done at once, sharing that job's output; those whose original cannot be shared any
        more are left out of the result (and not created). QueueFull, with nothing queued, when the queue
        would hold more than ``max_depth`` jobs, queued and delayed (0: no limit)."""
        now = now_ms()
        for job in jobs:
            job.created_at = job.created_at or now
            job.updated_at = job.created_at
            job.status = JobStatus.DELAYED if job.run_at > now else JobStatus.QUEUED
        stale: set[str] = set()
        for start in range(0, len(jobs), ENQUEUE_CHUNK):
            chunk = jobs[start:start + ENQUEUE_CHUNK]
            res = self.scripts(
                "enqueue", [self.keys.index, self.keys.stats],
                [json.dumps([_entry(j) for j in chunk]), self.keys.tenant_index_prefix, max_depth,
                 len(jobs) if start == 0 else 0, self.output_ttl])
            if not res[0]:
                raise QueueFull(int(res[1]), max_depth, len(jobs))
            stale.update(str(i) for i in res[2])
        self._replicated()
        for job in jobs:
            if job.duplicate_of and job.id not in stale:
                job.status = JobStatus.DONE
        return [j for j in jobs if j.id not in stale]

    def _replicated(self) -> None:
        """With REDIS_MIN_REPLICAS, return only once that many replicas have the writes (Redis WAIT): a
        failover then cannot lose an acknowledged job. NotReplicated when they do not confirm in time."""
        if self.min_replicas <= 0:
            return
        acked = int(self.redis.wait(self.min_replicas, int(self.replica_timeout * 1000)))
        if acked < self.min_replicas:
            raise NotReplicated(acked, self.min_replicas)

    def cancel(self, job_id: str) -> Changed:
        """Cancel a job that has not ended; JobNotFound for an unknown one."""
        return self._change("cancel", job_id)

    def retry(self, job_id: str) -> Changed:
        """Queue a failed or cancelled job again; JobNotFound for an unknown one."""
        return self._change("retry", job_id)

    def _change(self, script: str, job_id: str) -> Changed:
        res = self.scripts(script, [], [job_id])
        if int(res[0]) < 0:
            raise JobNotFound(job_id)
        before = JobStatus(res[1]) if len(res) > 1 else JobStatus.FAILED
        return Changed(bool(int(res[0])), before)

    def sharing(self, tenant: str, content: str) -> str | None:
        """The done job of ``tenant`` whose output an upload of this content (bytes and spec) may share."""
        found = self.redis.get(self.keys.content(tenant, content))
        return str(found) if found else None

    def wanted(self, output_keys: list[str], now: float) -> set[str]:
        """Which of these shared outputs a job still wants kept (a duplicate done after the original)."""
        if not output_keys:
            return set()
        self.redis.zremrangebyscore(self.keys.wanted, "-inf", now)
        scores = self.redis.zmscore(self.keys.wanted, output_keys)
        return {key for key, score in zip(output_keys, scores, strict=True) if score is not None}

    def status(self, job_id: str) -> JobStatus:
        raw = self.redis.get(keys.job_status(job_id))
        if raw is None:
            raise JobNotFound(job_id)
        return JobStatus(raw)

    def statuses(self, job_ids: Sequence[str]) -> list[JobStatus | None]:
        """The statuses of these jobs in one round trip (None: unknown or expired)."""
        raw = self.redis.mget([keys.job_status(i) for i in job_ids]) if job_ids else []
        return [JobStatus(s) if s else None for s in raw]

    def status_and_owner(self, job_id: str) -> tuple[JobStatus, str]:
        """The status and the tenant, in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.get(keys.job_status(job_id))
        pipe.hget(keys.job_hash(job_id), "tenant")
        status, tenant = pipe.execute()
        if status is None:
            raise JobNotFound(job_id)
        return JobStatus(status), str(tenant or "")

    def get(self, job_id: str) -> Job:
        found = self.get_many([job_id])
        if not found:
            raise JobNotFound(job_id)
        return found[0]

    def get_many(self, job_ids: Iterable[str]) -> list[Job]:
        """The records that exist, in the order asked; expired or unknown ids are left out."""
        ids = list(job_ids)
        pipe = self.redis.pipeline(transaction=False)
        for job_id in ids:
            pipe.hgetall(keys.job_hash(job_id))
            pipe.get(keys.job_status(job_id))
        raw = pipe.execute()
        return [Job.from_redis(raw[2 * i], raw[2 * i + 1]) for i in range(len(ids)) if raw[2 * i] and raw[2 * i + 1]]

    def newest(self, status: JobStatus | None = None, limit: int = 50, scan_limit: int = 10_000,
               tenant: str | None = None) -> list[Job]:
        """Newest first (of ``tenant`` only, when given); with ``status``, only those in that status among
        the newest ``scan_limit``."""
        index = self.keys.index if tenant is None else self.keys.tenant_index(tenant)
        found: list[Job] = []
        page = max(limit, 100)
        start = 0
        while len(found) < limit and start < scan_limit:
            ids = [str(i) for i in self.redis.zrevrange(index, start, start + page - 1)]
            if not ids:
                break
            found += [job for job in self.get_many(ids) if status is None or job.status is status]
            start += page
        return found[:limit]

    def depth(self) -> int:
        """Jobs waiting in the queues, every priority and tenant."""
        return sum(self.depth_by_priority().values())

    def depth_by_priority(self) -> dict[str, int]:
        """Queued jobs per priority (the live counts the scripts keep)."""
        raw = self.redis.hmget(self.keys.count, [f"{JobStatus.QUEUED.value}:{p.value}" for p in Priority])
        return {p.value: max(0, int(v or 0)) for p, v in zip(Priority, raw, strict=True)}

    def due_later(self, now: float) -> tuple[int, int]:
        """Jobs waiting for a time: (due already, not due yet)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.zcount(self.keys.delayed, "-inf", now)
        pipe.zcard(self.keys.delayed)
        due, waiting = pipe.execute()
        return int(due), int(waiting) - int(due)


def _entry(job: Job) -> dict[str, Any]:
    entry: dict[str, Any] = {"i": job.id, "f": [x for kv in job.to_redis().items() for x in kv], "c": job.created_at,
                             "n": job.input_bytes}
    if job.batch:
        entry["b"] = job.batch
    if job.tenant:
        entry["t"] = job.tenant
    if job.priority != keys.DEFAULT_PRIORITY:
        entry["p"] = job.priority
    if job.run_at:
        entry["r"] = job.run_at
    if job.duplicate_of:
        entry["d"] = job.duplicate_of
    if job.trace_id:
        entry["x"] = job.trace_id
    return entry
