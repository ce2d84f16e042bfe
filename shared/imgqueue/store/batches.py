"""Batches: a tenant's set of jobs announced up front (how many), counted as they end by the Lua scripts
(common.lua's ``batch_ended``), which send ``batch.completed`` once when the last one has."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..status import TERMINAL
from .part import Part


@dataclass
class Batches(Part):
    def create(self, batch_id: str, tenant: str, expected: int, callback_url: str, now: float, ttl: int,
               jobs: int = 0) -> None:
        """A batch expecting ``expected`` jobs, ``jobs`` of them with their room taken already."""
        key = self.keys.batch(batch_id)
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"tenant": tenant, "expected": expected, "callback_url": callback_url,
                                    "created_at": repr(now), "jobs": jobs, "ended": 0})
            pipe.expire(key, ttl)
            pipe.execute()

    def get(self, batch_id: str) -> dict[str, Any] | None:
        raw = self.redis.hgetall(self.keys.batch(batch_id))
        if not raw:
            return None
        data = {str(k): str(v) for k, v in raw.items()}
        counts = {s.value: int(data.get(s.value) or 0) for s in sorted(TERMINAL)}
        return {"id": batch_id, "tenant": data.get("tenant", ""), "expected": int(data.get("expected") or 0),
                "jobs": int(data.get("jobs") or 0), "ended": int(data.get("ended") or 0), "counts": counts,
                "callback_url": data.get("callback_url", ""), "created_at": float(data.get("created_at") or 0),
                "completed_at": float(data["completed_at"]) if data.get("completed_at") else None}

    def reserve(self, batch_id: str, count: int) -> bool:
        """Room for ``count`` more jobs (no more than it expects): taken, or False (nothing taken, nor a
        batch that has gone made again)."""
        return bool(self.scripts("reserve", [self.keys.batch(batch_id)], [count]))

    def delete(self, batch_id: str) -> None:
        self.redis.delete(self.keys.batch(batch_id))

    def release(self, batch_id: str, count: int) -> None:
        """Room given back: the uploads that reserved it were refused."""
        self.redis.hincrby(self.keys.batch(batch_id), "jobs", -count)
