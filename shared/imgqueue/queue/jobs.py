"""Producers and readers: queue jobs (atomically, within the queue's limit), read their records, list
them, and the figures the API reports (histograms, drain rate, bytes stored)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from typing import Any

from .. import keys
from ..errors import JobNotFound, NotReplicated, QueueFull
from ..job import Job, JobStatus
from ..records import Histogram
from .base import Door, now_ms

ENQUEUE_CHUNK = 500
DRAIN_STEP = 10  # seconds per drain counter
DRAIN_WINDOW = 60  # seconds the drain rate is averaged over


class Jobs(Door):
    def enqueue(self, job: Job) -> Job:
        return self.enqueue_many([job])[0]

    def enqueue_many(self, jobs: Sequence[Job]) -> list[Job]:
        """Write each record and status, index it, push it and publish ``queued``: one atomic Lua script
        per ``ENQUEUE_CHUNK`` jobs (a JSON argument costs far less to send than thousands of commands).
        QueueFull, with nothing queued, when MAX_QUEUE_DEPTH would be passed."""
        now = now_ms()
        for job in jobs:
            job.status = JobStatus.QUEUED
            job.created_at = job.created_at or now
            job.updated_at = job.created_at
        script = self.script("enqueue")
        for start in range(0, len(jobs), ENQUEUE_CHUNK):
            chunk = jobs[start:start + ENQUEUE_CHUNK]
            accepted, depth = script(
                keys=[self.settings.queue_name, self.keys.index, self.keys.stats],
                args=[*self.common_args(), json.dumps([_entry(j) for j in chunk]), sum(j.input_bytes for j in chunk),
                      self.keys.tenant_index_prefix, self.settings.max_queue_depth, len(jobs) if start == 0 else 0])
            if not accepted:
                raise QueueFull(int(depth), self.settings.max_queue_depth, len(jobs))
        self._replicated()
        return list(jobs)

    def _replicated(self) -> None:
        """With REDIS_MIN_REPLICAS, return only once that many replicas have the writes (Redis WAIT): a
        failover then cannot lose an acknowledged job. NotReplicated when they do not confirm in time."""
        wanted = self.settings.redis_min_replicas
        if wanted <= 0:
            return
        acked = int(self.redis.wait(wanted, int(self.settings.redis_replica_timeout * 1000)))
        if acked < wanted:
            raise NotReplicated(acked, wanted)

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

    def list_jobs(self, status: JobStatus | None = None, limit: int = 50, scan_limit: int = 10_000,
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
        return int(self.redis.llen(self.settings.queue_name))

    def histograms(self) -> dict[str, Histogram]:
        """``processing`` (seconds to resize a job) and ``wait`` (seconds from enqueue to start), as the
        Lua scripts record them (see ``observe`` in lua/common.lua)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(self.keys.processing_time)
        pipe.hgetall(self.keys.queue_wait)
        processing, wait = pipe.execute()
        return {"processing": Histogram.from_hash(processing), "wait": Histogram.from_hash(wait)}

    def drain_rate(self) -> float:
        """Jobs that ended per second over the last minute (finish.lua counts them per 10 s)."""
        moment = int(time.time()) // DRAIN_STEP
        counts = self.redis.mget([self.keys.drain(moment - i) for i in range(DRAIN_WINDOW // DRAIN_STEP)])
        return sum(int(c or 0) for c in counts) / DRAIN_WINDOW

    def adjust_stored_bytes(self, uploads: int = 0, outputs: int = 0) -> None:
        """Count files removed outside the scripts (expired outputs, swept leftovers)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hincrby(self.keys.stats, "stored_upload_bytes", uploads)
        pipe.hincrby(self.keys.stats, "stored_output_bytes", outputs)
        pipe.execute()

    def set_stored_bytes(self, uploads: int, outputs: int) -> None:
        """Reset the counters to what is on disk (the sweeper's recount corrects any drift)."""
        self.redis.hset(self.keys.stats, mapping={"stored_upload_bytes": uploads, "stored_output_bytes": outputs})


def _entry(job: Job) -> dict[str, Any]:
    entry: dict[str, Any] = {"i": job.id, "f": [x for kv in job.to_redis().items() for x in kv], "c": job.created_at}
    if job.batch:
        entry["b"] = job.batch
    if job.tenant:
        entry["t"] = job.tenant
    return entry
