"""Job records: queue them (atomically, within the queue's limit), read them, list them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .. import keys
from ..errors import JobNotFound, NotReplicated, QueueFull
from ..job import Job
from ..status import JobStatus
from .connection import now_ms
from .part import Part

ENQUEUE_CHUNK = 500


@dataclass
class JobStore(Part):
    min_replicas: int = 0  # REDIS_MIN_REPLICAS: replicas an enqueue must reach before it returns
    replica_timeout: float = 1.0

    def enqueue(self, jobs: Sequence[Job], max_depth: int = 0) -> list[Job]:
        """Write each record and status, index it, push it and publish its event: one atomic Lua script
        per ``ENQUEUE_CHUNK`` jobs (a JSON argument costs far less to send than thousands of commands).
        QueueFull, with nothing queued, when the queue would hold more than ``max_depth`` (0: no limit)."""
        now = now_ms()
        for job in jobs:
            job.status = JobStatus.QUEUED
            job.created_at = job.created_at or now
            job.updated_at = job.created_at
        for start in range(0, len(jobs), ENQUEUE_CHUNK):
            chunk = jobs[start:start + ENQUEUE_CHUNK]
            accepted, depth = self.scripts(
                "enqueue", [self.keys.queue, self.keys.index, self.keys.stats],
                [json.dumps([_entry(j) for j in chunk]), sum(j.input_bytes for j in chunk),
                 self.keys.tenant_index_prefix, max_depth, len(jobs) if start == 0 else 0])
            if not accepted:
                raise QueueFull(int(depth), max_depth, len(jobs))
        self._replicated()
        return list(jobs)

    def _replicated(self) -> None:
        """With REDIS_MIN_REPLICAS, return only once that many replicas have the writes (Redis WAIT): a
        failover then cannot lose an acknowledged job. NotReplicated when they do not confirm in time."""
        if self.min_replicas <= 0:
            return
        acked = int(self.redis.wait(self.min_replicas, int(self.replica_timeout * 1000)))
        if acked < self.min_replicas:
            raise NotReplicated(acked, self.min_replicas)

    def status(self, job_id: str) -> JobStatus:
        raw = self.redis.get(keys.job_status(job_id))
        if raw is None:
            raise JobNotFound(job_id)
        return JobStatus(raw)

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
        """Jobs waiting in the queue."""
        return int(self.redis.llen(self.keys.queue))


def _entry(job: Job) -> dict[str, Any]:
    entry: dict[str, Any] = {"i": job.id, "f": [x for kv in job.to_redis().items() for x in kv], "c": job.created_at}
    if job.batch:
        entry["b"] = job.batch
    if job.tenant:
        entry["t"] = job.tenant
    return entry
