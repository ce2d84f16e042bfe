"""The figures the API reports: counters the Lua scripts keep (jobs enqueued, done, failed by reason...),
the queue's depth, histograms of processing time and queue wait, the recent drain rate, bytes stored."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from .part import Part

DRAIN_STEP = 10  # seconds per drain counter
DRAIN_WINDOW = 60  # seconds the drain rate is averaged over
# Upper bounds (seconds) of the processing-time and queue-wait histograms the Lua scripts keep in Redis:
# a hash with a count per bound (and '+Inf') for its own bucket, and 'sum_us' (see observe in common.lua).
HISTOGRAM_BUCKETS = ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "60")


@dataclass(frozen=True)
class Histogram:
    buckets: list[tuple[float, int]]  # (upper bound, cumulative count), ending with (inf, count)
    sum: float

    @classmethod
    def from_hash(cls, raw: dict[str, str]) -> Histogram:
        cumulative, buckets = 0, []
        for bound in (*HISTOGRAM_BUCKETS, "+Inf"):
            cumulative += int(raw.get(bound, 0))
            buckets.append((float(bound.lstrip("+")), cumulative))
        return cls(buckets, int(raw.get("sum_us", 0)) / 1e6)

    @property
    def count(self) -> int:
        return self.buckets[-1][1]


@dataclass
class Counters(Part):
    def stats(self, workers: list[dict[str, Any]]) -> dict[str, int]:
        """Counters, queue depth, delayed retries, jobs in progress and live workers (from ``workers``, the
        registry as ``WorkerRegistry.all`` reads it)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(self.keys.stats)
        pipe.llen(self.keys.queue)
        pipe.zcard(self.keys.delayed)
        raw, queued, delayed = pipe.execute()
        counters = {str(k): int(v) for k, v in raw.items()}
        counters.update(queued=queued, delayed=delayed,
                        processing=sum(1 for w in workers if w.get("current_job")),
                        workers=sum(1 for w in workers if w.get("alive")))
        return counters

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

    def set_stored_bytes(self, uploads: int, outputs: int) -> None:
        """Reset the counters to what is stored (the sweep's recount corrects any drift)."""
        self.redis.hset(self.keys.stats, mapping={"stored_upload_bytes": uploads, "stored_output_bytes": outputs})
