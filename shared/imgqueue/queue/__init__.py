"""The queue protocol on Redis: enqueue, reliable fetch, checked transitions, heartbeats, recovery.

* A job's record and status are written by the same Lua script as the ``LPUSH`` that queues it, so no
  worker can ever see an id whose record does not exist yet; the same script refuses the whole enqueue
  when the queue is at ``MAX_QUEUE_DEPTH``.
* A worker claims a job by moving it (``BLMOVE``) into a processing list of its own, then a Lua script
  (``start.lua``) checks the status and starts it. Outcomes are recorded by a Lua script (``finish.lua``)
  that only moves a job forward (a late ``queued`` can never overwrite ``done``) and may pull and start
  the next job in the same round trip.
* Workers keep a heartbeat key with a TTL. Live workers run ``recover()`` every few seconds: the jobs
  of a worker whose heartbeat expired go back to the head of the queue, or fail after ``max_lost``.

This package is the only code that reads or writes Redis keys (their names are built in ``keys.py``): the
services ask ``Queue`` for what they need. Its parts: ``jobs`` (producers and readers), ``workers``
(claim, finish, recover, registry), ``access`` (tokens, secrets, rate limits), ``events`` (the channel).
"""

from __future__ import annotations

import redis

from .. import keys
from ..config import Settings
from .access import Access
from .base import FAILURE, FULL, UNAVAILABLE, connect, now_ms
from .events import EventSubscription
from .jobs import Jobs
from .workers import Workers

__all__ = ["FAILURE", "FULL", "UNAVAILABLE", "EventSubscription", "Queue", "connect", "now_ms"]


class Queue(Jobs, Workers, Access):
    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.redis = client
        self.settings = settings
        self.keys = keys.Keys(settings.queue_name)
        self._scripts = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> Queue:
        """A queue with its own Redis connection pool."""
        return cls(connect(settings), settings)

    def ping(self) -> None:
        """Raise redis.ConnectionError (or TimeoutError) unless Redis answers."""
        self.redis.ping()

    def close(self) -> None:
        self.redis.close()

    def subscribe(self) -> EventSubscription:
        """A subscription to every job transition (a connection of its own)."""
        return EventSubscription(connect(self.settings), self.keys.events)
