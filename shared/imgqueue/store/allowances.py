"""Rate allowances: a sliding window of recent uses per client (ratelimit.lua), in Redis so that a limit
holds across API processes and hosts."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from .part import Part


@dataclass(frozen=True)
class Allowance:
    """What the rate limit said: ``allowed`` or not, the ``limit``, uses ``remaining`` in the window, and
    seconds until the next use frees up (``retry_after``: when refused, how long to wait; -1: never fits)."""

    allowed: bool
    limit: int
    remaining: int
    retry_after: float


@dataclass
class Allowances(Part):
    def take(self, client: str, cost: int, limit: int, window: float) -> Allowance:
        """Take ``cost`` uses of ``client``'s ``limit`` per ``window`` seconds, if they fit (all or none)."""
        allowed, used, wait_ms = self.scripts(
            "ratelimit", [self.keys.rate(client)],
            [int(time.time() * 1000), int(window * 1000), limit, cost, uuid.uuid4().hex])
        return Allowance(bool(allowed), limit, max(0, limit - int(used)), int(wait_ms) / 1000)

    def peek(self, client: str, limit: int, window: float) -> Allowance:
        """Whether one more use would fit, taking nothing."""
        return self.take(client, 0, limit, window)
