"""The figures the API reports: counters the Lua scripts keep (jobs enqueued, done, failed by reason...),
the queue's depth, histograms of processing time and queue wait, the recent drain rate, bytes stored."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ..status import JobStatus, Priority
from .histogram import Histogram
from .part import Part

DRAIN_STEP = 10  # seconds per drain counter
DRAIN_WINDOW = 60  # seconds the drain rate is averaged over


@dataclass
class Counters(Part):
    def stats(self, workers: list[dict[str, Any]]) -> dict[str, int]:
        """Counters (``done``, ``failed:<reason>``...), the jobs in each status that is not final (queued
        ones per priority too: ``queued:high``...), jobs in progress and live workers (from ``workers``, the
        registry as ``WorkerRegistry.all`` reads it)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(self.keys.stats)
        pipe.hgetall(self.keys.count)
        raw, live = pipe.execute()
        counters = {str(k): int(v) for k, v in raw.items()}
        counters.update({str(k): max(0, int(v)) for k, v in live.items()})
        for status in (JobStatus.DELAYED, JobStatus.RETRYING):
            counters.setdefault(status.value, 0)
        counters[JobStatus.QUEUED.value] = sum(max(0, int(live.get(f"{JobStatus.QUEUED.value}:{p.value}", 0)))
                                               for p in Priority)
        counters.update(processing=sum(1 for w in workers if w.get("current_job")),
                        workers=sum(1 for w in workers if w.get("alive")))
        return counters

    def histograms(self) -> dict[str, Histogram]:
        """``processing`` (seconds to resize a job), ``wait`` (seconds from enqueue to start) and ``latency``
        (seconds from upload to done), as the Lua scripts record them (see ``observe`` in lua/common.lua)."""
        pipe = self.redis.pipeline(transaction=False)
        for key in (self.keys.processing_time, self.keys.queue_wait, self.keys.latency):
            pipe.hgetall(key)
        processing, wait, latency = pipe.execute()
        return {"processing": Histogram.from_hash(processing), "wait": Histogram.from_hash(wait),
                "latency": Histogram.from_hash(latency)}

    def memory(self) -> tuple[int, int]:
        """Redis' memory in use and its ``maxmemory`` (0: none set), in bytes."""
        info = self.redis.info("memory")
        return int(info.get("used_memory", 0)), int(info.get("maxmemory", 0))

    def drain_rate(self) -> float:
        """Jobs that ended per second over the last minute (finish.lua counts them per 10 s)."""
        moment = int(time.time()) // DRAIN_STEP
        counts = self.redis.mget([self.keys.drain(moment - i) for i in range(DRAIN_WINDOW // DRAIN_STEP)])
        return sum(int(c or 0) for c in counts) / DRAIN_WINDOW

    def set_stored_bytes(self, uploads: int, outputs: int) -> None:
        """Reset the counters to what is stored (the sweep's recount corrects any drift)."""
        self.redis.hset(self.keys.stats, mapping={"stored_upload_bytes": uploads, "stored_output_bytes": outputs})
