"""The queue's history for the dashboard's charts: a sample of the cumulative counters, the depth by
priority and the upload-to-done histogram, taken every HISTORY_INTERVAL by one process of the fleet, a
worker or an API process (a claimed chore: the charts go on while no worker runs), kept in a bounded
Redis list (HISTORY_LENGTH samples, newest first), so the charts survive a page reload and an API
restart. ``imgqueue.charts`` turns consecutive samples into points."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..status import JobStatus, Priority
from .counters import Counters
from .part import Part

CHORE = "history"  # the chore's name: one process of the fleet takes each interval's sample


@dataclass
class History(Part):
    def take(self, counters: Counters, now: float) -> dict[str, Any]:
        """The sample of this moment."""
        stats = counters.stats([])
        latency = counters.histograms()["latency"]
        prefix = f"{JobStatus.FAILED.value}:"
        return {"t": round(now, 3), "done": stats.get(JobStatus.DONE.value, 0),
                "failed": stats.get(JobStatus.FAILED.value, 0), "cancelled": stats.get(JobStatus.CANCELLED.value, 0),
                "reasons": {k[len(prefix):]: v for k, v in stats.items() if k.startswith(prefix)},
                "depth": {p.value: stats.get(f"{JobStatus.QUEUED.value}:{p.value}", 0) for p in Priority},
                "latency": [[b, n] for b, n in latency.buckets]}

    def record(self, sample: dict[str, Any], length: int) -> None:
        """Kept (the oldest beyond ``length`` dropped), and told to the dashboards (a ``sample`` event)."""
        text = json.dumps(sample, separators=(",", ":"))
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.lpush(self.keys.history, text)
            pipe.ltrim(self.keys.history, 0, length - 1)
            pipe.publish(self.keys.events, json.dumps({"type": "sample", "ts": sample["t"]}))
            pipe.execute()

    def since(self, t: float) -> list[dict[str, Any]]:
        """The samples taken at ``t`` or later, oldest first."""
        out = []
        for raw in self.redis.lrange(self.keys.history, 0, -1):
            sample = json.loads(raw)
            if sample["t"] < t:
                break
            out.append(sample)
        return out[::-1]
