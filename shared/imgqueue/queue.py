"""The queue protocol on Redis: enqueue, reliable fetch, checked transitions, heartbeats, recovery.

* A job's record and status are written by the same Lua script as the ``LPUSH`` that queues it, so no
  worker can ever see an id whose record does not exist yet.
* A worker claims a job by moving it (``BLMOVE``) into a processing list of its own, then a Lua script
  (``start.lua``) checks the status and starts it. Outcomes are recorded by a Lua script (``finish.lua``)
  that only moves a job forward (a late ``queued`` can never overwrite ``done``) and may pull and start
  the next job in the same round trip.
* Workers keep a heartbeat key with a TTL. Live workers run ``recover()`` every few seconds: the jobs
  of a worker whose heartbeat expired go back to the head of the queue, or fail after ``max_lost``.

This class is the only code that reads or writes Redis keys (their names are built in ``keys.py``); the
services ask it for what they need.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from functools import cache
from importlib import resources
from typing import Any

import redis

from . import keys
from .config import Settings
from .errors import JobNotFound
from .job import Job, JobStatus
from .records import (
    HISTOGRAM_BUCKETS,
    BatchFinished,
    DeadWorker,
    Finished,
    Histogram,
    Outcome,
    Recovery,
    TokenRecord,
    WorkerState,
)

# What callers catch instead of importing redis: Redis cannot be reached right now (worth retrying), and
# any failure of a Redis call at all.
UNAVAILABLE: tuple[type[Exception], ...] = (redis.ConnectionError, redis.TimeoutError)
FAILURE: type[Exception] = redis.RedisError

PROMOTE_BATCH = 1000
ENQUEUE_CHUNK = 500


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


_VERBS = {JobStatus.DONE: "done", JobStatus.FAILED: "failed", JobStatus.RETRYING: "retry"}


class Queue:
    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.redis = client
        self.settings = settings
        self.keys = keys.Keys(settings.queue_name)
        self._enqueue_script = client.register_script(_lua("enqueue"))
        self._start_script = client.register_script(_lua("start"))
        self._finish_script = client.register_script(_lua("finish"))
        self._recover_script = client.register_script(_lua("recover"))

    @classmethod
    def from_settings(cls, settings: Settings) -> Queue:
        """A queue with its own Redis connection pool."""
        return cls(connect(settings), settings)

    def ping(self) -> None:
        """Raise redis.ConnectionError (or TimeoutError) unless Redis answers."""
        self.redis.ping()

    def close(self) -> None:
        self.redis.close()

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
                if job.tenant:
                    entry["t"] = job.tenant
                payload.append(entry)
            self._enqueue_script(keys=[self.settings.queue_name, self.keys.index, self.keys.stats],
                                 args=[*self._common_args(), json.dumps(payload), sum(j.input_bytes for j in chunk),
                                       self.keys.tenant_index_prefix])
        return list(jobs)

    # --- readers -----------------------------------------------------------------------------------

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
        jobs = []
        for i in range(len(ids)):
            record, status = raw[2 * i], raw[2 * i + 1]
            if record and status:
                jobs.append(Job.from_redis(record, status))
        return jobs

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

    def worker_state(self, worker_id: str) -> WorkerState:
        current, started, held = self.redis.hmget(self.keys.worker(worker_id), ["current_job", "job_started", "held"])
        return WorkerState(str(current or ""), float(started or 0), int(held or 0))

    def histograms(self) -> dict[str, Histogram]:
        """``processing`` (seconds to resize a job) and ``wait`` (seconds from enqueue to start), as the
        Lua scripts record them (see ``observe`` in lua/common.lua)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(self.keys.processing_time)
        pipe.hgetall(self.keys.queue_wait)
        processing, wait = pipe.execute()
        return {"processing": Histogram.from_hash(processing), "wait": Histogram.from_hash(wait)}

    def subscribe(self) -> EventSubscription:
        """A subscription to every job transition (a connection of its own)."""
        return EventSubscription(connect(self.settings), self.keys.events)

    # --- tokens and shared secrets --------------------------------------------------------------------

    def save_token(self, digest: str, record: TokenRecord) -> None:
        self.redis.hset(self.keys.tokens, digest, json.dumps(asdict(record)))

    def token(self, digest: str) -> TokenRecord | None:
        raw = self.redis.hget(self.keys.tokens, digest)
        return None if raw is None else TokenRecord(**json.loads(raw))

    def tokens(self) -> list[TokenRecord]:
        return sorted((TokenRecord(**json.loads(v)) for v in self.redis.hvals(self.keys.tokens)),
                      key=lambda t: t.created_at)

    def revoke_token(self, token_id: str) -> bool:
        """Forget the token with this id; False if there is none."""
        for digest, raw in self.redis.hgetall(self.keys.tokens).items():
            if json.loads(raw)["id"] == token_id:
                return bool(self.redis.hdel(self.keys.tokens, digest))
        return False

    def shared_secret(self, name: str, candidate: str) -> str:
        """The secret called ``name`` that every process shares: ``candidate`` if it is the first to ask."""
        self.redis.hsetnx(self.keys.secrets, name, candidate)
        return str(self.redis.hget(self.keys.secrets, name))

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
        jobs = self._start_held(worker_id, "", count)
        if jobs:
            return jobs
        job_id = self.redis.blmove(self.settings.queue_name, self.keys.processing(worker_id),
                                   timeout, "RIGHT", "LEFT")  # type: ignore[arg-type]  # Redis takes float seconds
        return [] if job_id is None else self._start_held(worker_id, str(job_id), count)

    def _start_held(self, worker_id: str, job_id: str, count: int) -> list[Job]:
        """start.lua: start ``job_id`` (or, with '', whatever our processing list holds), then pull more."""
        res = self._start_script(keys=[self.keys.processing(worker_id), self.keys.worker(worker_id), self.keys.stats,
                                self.settings.queue_name],
                          args=[*self._common_args(), job_id, worker_id, count])
        return [self._job_from_fields(fields) for fields in res]

    def finish(self, worker_id: str, job_id: str, outcome: JobStatus, fields: dict[str, Any],
               retry_at: float = 0.0, claim_next: bool = False) -> Finished:
        """Record ``outcome`` (DONE, FAILED or RETRYING) and optionally claim the next queued job."""
        done = self.finish_many(worker_id, [Outcome(job_id, outcome, fields, retry_at)], 1 if claim_next else 0)
        return Finished(done.applied[0], done.next_jobs[0] if done.next_jobs else None)

    def finish_many(self, worker_id: str, outcomes: Sequence[Outcome], take: int = 0) -> BatchFinished:
        """Record several outcomes and claim up to ``take`` queued jobs: one round trip, one Lua script."""
        payload = [{"id": o.job_id, "outcome": _VERBS[o.status], "fields": o.fields,
                    "retry_at": o.retry_at} for o in outcomes]
        res = self._finish_script(
            keys=[self.keys.processing(worker_id), self.keys.worker(worker_id), self.keys.stats,
                  self.settings.queue_name, self.keys.delayed, self.keys.processing_time, self.keys.queue_wait],
            args=[*self._common_args(), worker_id, json.dumps(payload), take, ",".join(HISTOGRAM_BUCKETS)],
        )
        applied = [bool(flag) for flag in res[0]]
        return BatchFinished(applied, [self._job_from_fields(fields) for fields in res[1:]])

    def recover(self, release_worker: str = "", count_loss: bool = True) -> Recovery:
        """Promote due retries and hand back the jobs of dead workers (or of ``release_worker`` now)."""
        res = self._recover_script(
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


class EventSubscription:
    """The job-events channel for one reader. ``get`` raises redis.ConnectionError when the link breaks."""

    def __init__(self, client: redis.Redis, channel: str) -> None:
        self._client = client
        self._pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        self._pubsub.subscribe(channel)
        self._pubsub.get_message(timeout=5)  # the subscribe confirmation

    def get(self, timeout: float) -> dict[str, Any] | None:
        """The next event, or None when ``timeout`` passes first (the link is then checked with a PING)."""
        message = self._pubsub.get_message(timeout=timeout)
        if message is None:
            self._pubsub.ping()
            return None
        try:
            event = json.loads(message["data"])
        except (TypeError, ValueError):
            return None
        return event if isinstance(event, dict) else None

    def close(self) -> None:
        try:
            self._pubsub.close()
            self._client.close()
        except redis.RedisError:
            pass
