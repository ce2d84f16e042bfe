"""The worker side: registration and heartbeats, claiming jobs (``BLMOVE`` into a processing list of its
own, then start.lua), recording outcomes (finish.lua, which may claim the next ones in the same round
trip), recovery of dead workers' jobs (recover.lua), and the registry the API shows."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from ..job import Job, JobStatus
from ..records import HISTOGRAM_BUCKETS, BatchFinished, DeadWorker, Finished, Outcome, Recovery, WorkerState
from .base import Door
from .jobs import DRAIN_STEP

PROMOTE_BATCH = 1000
_VERBS = {JobStatus.DONE: "done", JobStatus.FAILED: "failed", JobStatus.RETRYING: "retry"}


class Workers(Door):
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
        res = self.script("start")(
            keys=[self.keys.processing(worker_id), self.keys.worker(worker_id), self.keys.stats,
                  self.settings.queue_name],
            args=[*self.common_args(), job_id, worker_id, count])
        return [_job_from_fields(fields) for fields in res]

    def finish(self, worker_id: str, job_id: str, outcome: JobStatus, fields: dict[str, Any],
               retry_at: float = 0.0, claim_next: bool = False) -> Finished:
        """Record ``outcome`` (DONE, FAILED or RETRYING) and optionally claim the next queued job."""
        done = self.finish_many(worker_id, [Outcome(job_id, outcome, fields, retry_at)], 1 if claim_next else 0)
        return Finished(done.applied[0], done.next_jobs[0] if done.next_jobs else None)

    def finish_many(self, worker_id: str, outcomes: Sequence[Outcome], take: int = 0) -> BatchFinished:
        """Record several outcomes and claim up to ``take`` queued jobs: one round trip, one Lua script."""
        payload = [{"id": o.job_id, "outcome": _VERBS[o.status], "fields": o.fields,
                    "retry_at": o.retry_at} for o in outcomes]
        res = self.script("finish")(
            keys=[self.keys.processing(worker_id), self.keys.worker(worker_id), self.keys.stats,
                  self.settings.queue_name, self.keys.delayed, self.keys.processing_time, self.keys.queue_wait,
                  self.keys.drain(int(time.time()) // DRAIN_STEP)],
            args=[*self.common_args(), worker_id, json.dumps(payload), take, ",".join(HISTOGRAM_BUCKETS),
                  self.settings.output_ttl],
        )
        applied = [bool(flag) for flag in res[0]]
        return BatchFinished(applied, [_job_from_fields(fields) for fields in res[1:]])

    def recover(self, release_worker: str = "", count_loss: bool = True) -> Recovery:
        """Promote due retries and hand back the jobs of dead workers (or of ``release_worker`` now)."""
        res = self.script("recover")(
            keys=[self.keys.workers, self.settings.queue_name, self.keys.delayed, self.keys.stats],
            args=[*self.common_args(), self.keys.heartbeat_prefix, self.keys.processing_prefix,
                  self.keys.worker_prefix, PROMOTE_BATCH, self.settings.max_lost, release_worker,
                  "1" if count_loss else "0"],
        )
        dead = [DeadWorker(wid, host, int(pid) if pid else None) for wid, host, pid in res[3]]
        return Recovery(int(res[0]), list(res[1]), list(res[2]), dead)

    def unregister(self, worker_id: str) -> Recovery:
        """A clean exit: anything still held goes back to the queue without counting as a loss."""
        return self.recover(release_worker=worker_id, count_loss=False)

    def claim_chore(self, name: str, seconds: float) -> bool:
        """True for the first worker to ask in ``seconds``: a periodic chore one worker does for all."""
        return bool(self.redis.set(self.keys.chore(name), "1", nx=True, px=int(seconds * 1000)))

    def workers(self) -> list[dict[str, Any]]:
        """The registry: one dict per worker with ``alive`` telling whether its heartbeat is fresh."""
        ids = sorted(str(w) for w in self.redis.smembers(self.keys.workers))
        pipe = self.redis.pipeline(transaction=False)
        for wid in ids:
            pipe.hgetall(self.keys.worker(wid))
            pipe.exists(self.keys.heartbeat(wid))
        raw = pipe.execute()
        return [{**raw[2 * i], "id": wid, "alive": bool(raw[2 * i + 1])} for i, wid in enumerate(ids)]

    def worker_state(self, worker_id: str) -> WorkerState:
        current, started, held = self.redis.hmget(self.keys.worker(worker_id), ["current_job", "job_started", "held"])
        return WorkerState(str(current or ""), float(started or 0), int(held or 0))

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


def _job_from_fields(flat: list[str]) -> Job:
    return Job.from_redis(dict(zip(flat[::2], flat[1::2], strict=True)))
