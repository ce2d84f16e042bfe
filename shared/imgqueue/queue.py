"""The queue protocol on Redis: enqueue, reliable fetch, checked transitions, heartbeats, recovery.

* A job's record and status are written by the same Lua script as the ``LPUSH`` that queues it, so no
  worker can ever see an id whose record does not exist yet.
* A worker takes a job by moving it (``BLMOVE``) into a processing list of its own, then a Lua script
  checks the status and starts it. Outcomes are recorded by a Lua script that only moves a job forward
  (a late ``queued`` can never overwrite ``done``) and may take the next job in the same round trip.
* Workers keep a heartbeat key with a TTL. Live workers run ``recover()`` every few seconds: the jobs
  of a worker whose heartbeat expired go back to the head of the queue, or fail after ``max_lost``.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import redis

from . import keys
from .config import Settings
from .errors import JobNotFound
from .job import Job, JobStatus

PROMOTE_BATCH = 1000
ENQUEUE_CHUNK = 500
# Upper bounds (seconds) of the processing-time and queue-wait histograms kept in Redis.
HISTOGRAM_BUCKETS = ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "60")


@cache
def _lua(name: str) -> str:
    folder = resources.files("imgqueue") / "lua"
    return (folder / "common.lua").read_text() + "\n" + (folder / f"{name}.lua").read_text()


def now_ms() -> float:
    """The time, to the millisecond: every transition time is stored and published exactly, with no
    more digits than Lua's cjson keeps (14), so that clients can compare event times with records."""
    return round(time.time(), 3)


def connect(settings: Settings) -> redis.Redis:
    """A Redis client with timeouts suited to blocking fetches; responses are decoded to str."""
    return redis.Redis.from_url(
        settings.redis_url,
        decode_responses=True,
        socket_connect_timeout=5,
        socket_timeout=15,
        health_check_interval=30,
    )


def retry_delay(settings: Settings, retries: int) -> float:
    """Exponential backoff with full jitter in [0.5, 1.5) x base x 2^retries, capped."""
    delay = min(settings.retry_backoff_max, settings.retry_backoff_base * (2 ** retries))
    return float(delay * random.uniform(0.5, 1.5))


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


_VERBS = {JobStatus.DONE: "done", JobStatus.FAILED: "failed", JobStatus.RETRYING: "retry"}


class Queue:
    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.redis = client
        self.settings = settings
        self.keys = keys.Keys(settings.queue_name)
        self._enqueue = client.register_script(_lua("enqueue"))
        self._claim = client.register_script(_lua("claim"))
        self._finish = client.register_script(_lua("finish"))
        self._recover = client.register_script(_lua("recover"))

    # --- producers ---------------------------------------------------------------------------------

    def enqueue(self, job: Job) -> Job:
        return self.enqueue_many([job])[0]

    def enqueue_many(self, jobs: Sequence[Job]) -> list[Job]:
        """Write each record and status, index it, push it and publish ``queued``: one atomic Lua script
        per ``ENQUEUE_CHUNK`` jobs (a JSON argument costs far less to send than thousands of commands)."""
        now = now_ms()
        for job in jobs:
            job.status = JobStatus.QUEUED
            job.created_at = job.created_at or now
            job.updated_at = job.created_at
        for start in range(0, len(jobs), ENQUEUE_CHUNK):
            chunk = jobs[start:start + ENQUEUE_CHUNK]
            payload = []
            for job in chunk:
                entry: dict[str, Any] = {"i": job.id, "f": [x for kv in job.to_redis().items() for x in kv],
                                         "c": job.created_at}
                if job.batch:
                    entry["b"] = job.batch
                payload.append(entry)
            self._enqueue(keys=[self.settings.queue_name, self.keys.index, self.keys.stats],
                          args=[*self._common_args(), json.dumps(payload), sum(j.input_bytes for j in chunk)])
        return list(jobs)

    # --- readers -----------------------------------------------------------------------------------

    def status(self, job_id: str) -> JobStatus:
        raw = self.redis.get(keys.job_status(job_id))
        if raw is None:
            raise JobNotFound(job_id)
        return JobStatus(raw)

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
        jobs = []
        for i in range(len(ids)):
            record, status = raw[2 * i], raw[2 * i + 1]
            if record and status:
                jobs.append(Job.from_redis(record, status))
        return jobs

    def list_jobs(self, status: JobStatus | None = None, limit: int = 50, scan_limit: int = 10_000) -> list[Job]:
        """Newest first; with ``status``, only those in that status among the newest ``scan_limit``."""
        found: list[Job] = []
        page = max(limit, 100)
        start = 0
        while len(found) < limit and start < scan_limit:
            ids = [str(i) for i in self.redis.zrevrange(self.keys.index, start, start + page - 1)]
            if not ids:
                break
            for job in self.get_many(ids):
                if status is None or job.status is status:
                    found.append(job)
            start += page
        return found[:limit]

    def depth(self) -> int:
        return int(self.redis.llen(self.settings.queue_name))

    def stats(self, workers: list[dict[str, Any]] | None = None) -> dict[str, int]:
        """Counters, queue depth, delayed retries, jobs in progress and live workers. Pass ``workers``
        (from ``workers()``) when you have them already, to save the registry's round trips."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(self.keys.stats)
        pipe.llen(self.settings.queue_name)
        pipe.zcard(self.keys.delayed)
        raw, queued, delayed = pipe.execute()
        counters = {str(k): int(v) for k, v in raw.items()}
        workers = self.workers() if workers is None else workers
        counters.update(queued=queued, delayed=delayed,
                        processing=sum(1 for w in workers if w.get("current_job")),
                        workers=sum(1 for w in workers if w.get("alive")))
        return counters

    def workers(self) -> list[dict[str, Any]]:
        """The registry: one dict per worker with ``alive`` telling whether its heartbeat is fresh."""
        ids = sorted(str(w) for w in self.redis.smembers(self.keys.workers))
        pipe = self.redis.pipeline(transaction=False)
        for wid in ids:
            pipe.hgetall(self.keys.worker(wid))
            pipe.exists(self.keys.heartbeat(wid))
        raw = pipe.execute()
        out = []
        for i, wid in enumerate(ids):
            info: dict[str, Any] = dict(raw[2 * i])
            info.update(id=wid, alive=bool(raw[2 * i + 1]))
            out.append(info)
        return out

    # --- workers -----------------------------------------------------------------------------------

    def register(self, worker_id: str, info: dict[str, Any]) -> None:
        """Announce a worker (before it takes any job) and give it a first heartbeat."""
        if info:
            mapping: dict[str | bytes, str] = {k: str(v) for k, v in info.items()}
            self.redis.hset(self.keys.worker(worker_id), mapping=mapping)  # type: ignore[arg-type]
        self.heartbeat(worker_id)

    def heartbeat(self, worker_id: str) -> None:
        now = time.time()
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(self.keys.heartbeat(worker_id), repr(now), px=int(self.settings.heartbeat_ttl * 1000))
        pipe.hset(self.keys.worker(worker_id), "last_heartbeat", repr(now))
        pipe.expire(self.keys.worker(worker_id), max(3600, int(self.settings.heartbeat_ttl * 10)))
        pipe.sadd(self.keys.workers, worker_id)
        pipe.execute()

    def claim(self, worker_id: str, timeout: float = 1.0) -> Job | None:
        """Wait up to ``timeout`` seconds for a job, move it to our processing list and start it."""
        jobs = self.claim_many(worker_id, timeout, 1)
        return jobs[0] if jobs else None

    def claim_many(self, worker_id: str, timeout: float = 1.0, count: int = 1) -> list[Job]:
        """Wait up to ``timeout`` seconds for a job; start it and up to ``count - 1`` more (prefetch).

        Jobs already in our processing list (their start reply was lost with the connection) come first.
        Every job taken sits in our processing list, so a crash loses none of them.
        """
        jobs = self._start(worker_id, "", count)
        if jobs:
            return jobs
        job_id = self.redis.blmove(self.settings.queue_name, self.keys.processing(worker_id),
                                   timeout, "RIGHT", "LEFT")  # type: ignore[arg-type]  # Redis takes float seconds
        return [] if job_id is None else self._start(worker_id, str(job_id), count)

    def _start(self, worker_id: str, job_id: str, count: int) -> list[Job]:
        res = self._claim(keys=[self.keys.processing(worker_id), self.keys.worker(worker_id), self.keys.stats,
                                self.settings.queue_name],
                          args=[*self._common_args(), job_id, worker_id, count])
        return [self._job_from_fields(fields) for fields in res]

    def finish(self, worker_id: str, job_id: str, outcome: JobStatus, fields: dict[str, Any],
               retry_at: float = 0.0, claim_next: bool = False) -> Finished:
        """Record ``outcome`` (DONE, FAILED or RETRYING) and optionally start the next queued job."""
        done = self.finish_many(worker_id, [Outcome(job_id, outcome, fields, retry_at)], 1 if claim_next else 0)
        return Finished(done.applied[0], done.next_jobs[0] if done.next_jobs else None)

    def finish_many(self, worker_id: str, outcomes: Sequence[Outcome], take: int = 0) -> BatchFinished:
        """Record several outcomes and start up to ``take`` queued jobs: one round trip, one Lua script."""
        payload = [{"id": o.job_id, "outcome": _VERBS[o.status], "fields": o.fields,
                    "retry_at": o.retry_at} for o in outcomes]
        res = self._finish(
            keys=[self.keys.processing(worker_id), self.keys.worker(worker_id), self.keys.stats,
                  self.settings.queue_name, self.keys.delayed, self.keys.processing_time, self.keys.queue_wait],
            args=[*self._common_args(), worker_id, json.dumps(payload), take, ",".join(HISTOGRAM_BUCKETS)],
        )
        applied = [bool(flag) for flag in res[0]]
        return BatchFinished(applied, [self._job_from_fields(fields) for fields in res[1:]])

    def recover(self, release_worker: str = "", count_loss: bool = True) -> Recovery:
        """Promote due retries and hand back the jobs of dead workers (or of ``release_worker`` now)."""
        res = self._recover(
            keys=[self.keys.workers, self.settings.queue_name, self.keys.delayed, self.keys.stats],
            args=[*self._common_args(), self.keys.heartbeat_prefix, self.keys.processing_prefix,
                  self.keys.worker_prefix, PROMOTE_BATCH, self.settings.max_lost, release_worker,
                  "1" if count_loss else "0"],
        )
        dead = [DeadWorker(wid, host, int(pid) if pid else None) for wid, host, pid in res[3]]
        return Recovery(int(res[0]), list(res[1]), list(res[2]), dead)

    def unregister(self, worker_id: str) -> Recovery:
        """A clean exit: anything still held goes back to the queue without counting as a loss."""
        return self.recover(release_worker=worker_id, count_loss=False)

    # --- helpers -----------------------------------------------------------------------------------

    def _common_args(self) -> list[Any]:
        return [repr(now_ms()), self.settings.job_ttl, self.keys.events, keys.JOB_PREFIX, keys.STATUS_SUFFIX]

    @staticmethod
    def _job_from_fields(flat: list[str]) -> Job:
        record = dict(zip(flat[::2], flat[1::2], strict=True))
        return Job.from_redis(record)
