"""The one door into Redis: small stores, one concept each, composed behind ``Store``.

* ``jobs``: job records: queue them (record, status and push in one Lua script, so no worker can see an
  id whose record does not exist yet, refused whole at the queue's limit; or scheduled; or done at once
  sharing an identical upload's output), cancel and retry them, read them, list them;
* ``runs``: a worker's side of a job: claim (start.lua moves it into the worker's own processing list:
  priorities by weighted turns, tenants in turn), checkpoints, and outcomes (finish.lua only moves a job
  forward, by ``status.NEXT``, and may claim the next jobs in the same round trip);
* ``workers``: the registry and heartbeats; ``recovery``: due jobs to their queue, gone workers' jobs back
  to its head (or failed when lost too often); ``chores``: periodic work one process does for all;
* ``tokens`` (tenants' API tokens), ``allowances`` (rate limits), ``secrets`` (shared by the API
  processes), ``idempotency`` (what a request with an Idempotency-Key made), ``events`` (the transitions
  channel), ``counters`` (what the API reports);
* ``outbox`` (webhook messages, written by the scripts that end jobs, claimed by dispatchers), ``endpoints``
  (tenants' webhook URLs and secrets), ``batches`` (jobs announced together, counted as they end),
  ``history`` (samples of the counters for the dashboard's charts).

Key names come from ``keys.py``, statuses from ``status.py``; nothing else in imgqueue touches Redis.
"""

from __future__ import annotations

import time
from typing import Any

import redis

from .. import keys
from ..config import Settings
from .allowances import Allowance, Allowances
from .batches import Batches
from .chores import Chores
from .connection import FAILURE, FULL, UNAVAILABLE, connect, now_ms
from .counters import Counters
from .endpoints import Endpoints
from .events import Events, EventSubscription
from .histogram import Histogram
from .history import CHORE as HISTORY_CHORE
from .history import History
from .idempotency import IdempotencyStore, Remembered, Seen
from .jobs import Changed, JobStore
from .outbox import Message, Outbox
from .policy import Policy, Retention
from .recovery import DeadWorker, Gone, Recovered, Recovery
from .runs import Applied, Outcome, Recorded, Runs
from .scripts import Scripts
from .secrets import SharedSecrets
from .tokens import TokenRecord, TokenStore
from .workers import WorkerRegistry, WorkerState

__all__ = ["FAILURE", "FULL", "UNAVAILABLE", "Allowance", "Applied", "Changed", "DeadWorker", "EventSubscription",
           "Gone", "Histogram", "Message", "Outcome", "Policy", "Recorded", "Recovered", "Remembered", "Retention",
           "Seen", "Store", "TokenRecord", "WorkerState", "connect", "now_ms"]


class Store:
    """Every store of one queue, on one connection pool."""

    def __init__(self, client: redis.Redis, settings: Settings, policy: Policy | None = None) -> None:
        self.redis = client
        self.settings = settings
        self.keys = keys.Keys(settings.queue_name)
        parts: dict[str, Any] = {"redis": client, "keys": self.keys,
                                 "scripts": Scripts(client, self.keys, settings.job_ttl)}
        policy = policy or Policy()
        self.jobs = JobStore(**parts, min_replicas=settings.redis_min_replicas,
                             replica_timeout=settings.redis_replica_timeout, output_ttl=settings.output_ttl)
        self.runs = Runs(**parts, output_ttl=settings.output_ttl, policy=policy)
        self.workers = WorkerRegistry(**parts)
        self.recovery = Recovery(**parts, policy=policy)
        self.chores = Chores(**parts)
        self.counters = Counters(**parts)
        self.tokens = TokenStore(**parts)
        self.allowances = Allowances(**parts)
        self.secrets = SharedSecrets(**parts)
        self.idempotency = IdempotencyStore(**parts)
        self.events = Events(**parts, connect=lambda: connect(settings))
        self.outbox = Outbox(**parts)
        self.endpoints = Endpoints(**parts)
        self.batches = Batches(**parts)
        self.history = History(**parts)

    def sample_history(self) -> bool:
        """Take this HISTORY_INTERVAL's sample of the counters for the charts, unless another process of the
        fleet (a worker or an API process) has: True when this one did."""
        if not self.chores.claim(HISTORY_CHORE, self.settings.history_interval * 0.9):
            return False
        self.history.record(self.history.take(self.counters, time.time()), self.settings.history_length)
        return True

    @classmethod
    def from_settings(cls, settings: Settings, policy: Policy | None = None) -> Store:
        """A store with its own Redis connection pool (``policy``: the workers' own settings)."""
        return cls(connect(settings), settings, policy)

    def stats(self) -> dict[str, int]:
        """Counters, queue depth, delayed retries, jobs in progress and live workers."""
        return self.counters.stats(self.workers.all())

    def ping(self) -> None:
        """Raise redis.ConnectionError (or TimeoutError) unless Redis answers."""
        self.redis.ping()

    def close(self) -> None:
        self.redis.close()
