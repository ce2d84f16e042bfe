"""The worker registry: who is registered, whose heartbeat is fresh, what each is doing."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from .part import Part


@dataclass(frozen=True)
class WorkerState:
    """What a worker process is doing, from its registry hash."""

    current_job: str
    job_started: float  # epoch seconds; 0 when idle
    held: int  # jobs it holds (prefetch): they were started together and run one after the other


@dataclass
class WorkerRegistry(Part):
    def register(self, worker_id: str, info: dict[str, Any], ttl: float) -> None:
        """Announce a worker (before it takes any job) and give it a first heartbeat."""
        if info:
            mapping: dict[str | bytes, str] = {k: str(v) for k, v in info.items()}
            self.redis.hset(self.keys.worker(worker_id), mapping=mapping)  # type: ignore[arg-type]
        self.heartbeat(worker_id, ttl)

    def heartbeat(self, worker_id: str, ttl: float) -> None:
        """The worker is alive for ``ttl`` seconds more."""
        now = time.time()
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(self.keys.heartbeat(worker_id), repr(now), px=int(ttl * 1000))
        pipe.hset(self.keys.worker(worker_id), "last_heartbeat", repr(now))
        pipe.expire(self.keys.worker(worker_id), max(3600, int(ttl * 10)))
        pipe.sadd(self.keys.workers, worker_id)
        pipe.execute()

    def all(self) -> list[dict[str, Any]]:
        """The registry: one dict per worker with ``alive`` telling whether its heartbeat is fresh."""
        ids = sorted(str(w) for w in self.redis.smembers(self.keys.workers))
        pipe = self.redis.pipeline(transaction=False)
        for wid in ids:
            pipe.hgetall(self.keys.worker(wid))
            pipe.exists(self.keys.heartbeat(wid))
        raw = pipe.execute()
        return [{**raw[2 * i], "id": wid, "alive": bool(raw[2 * i + 1])} for i, wid in enumerate(ids)]

    def state(self, worker_id: str) -> WorkerState:
        current, started, held = self.redis.hmget(self.keys.worker(worker_id), ["current_job", "job_started", "held"])
        return WorkerState(str(current or ""), float(started or 0), int(held or 0))
