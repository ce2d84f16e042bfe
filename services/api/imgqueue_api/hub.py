"""One ``EventHub`` per API process: a single subscription to the job-events channel, fanned out to every
open stream (an in-process queue each), and one summary every few seconds for all of them. So 200 open
streams cost 200 queues, not 200 Redis connections or 200 pollers. At the same pace the hub looks up
whether the tokens behind its open streams were revoked (one round trip for all), and ends those."""

from __future__ import annotations

import contextlib
import logging
import queue as stdqueue
import threading
import time
from typing import Any

from imgqueue.store import UNAVAILABLE, Store

from .errors import ApiError

log = logging.getLogger(__name__)

KEEPALIVE = 15.0
SUMMARY_INTERVAL = 2.0
_BACKLOG = 10_000  # events buffered per stream before it is cut off as too slow
OVERFLOW = {"type": "overflow"}
RESYNC = {"type": "resync"}
REVOKED = {"type": "revoked"}

Listener = stdqueue.Queue[dict[str, Any]]


def summary_of(store: Store) -> dict[str, Any]:
    workers = store.workers.all()
    return {"type": "summary", "ts": time.time(), "counts": store.counters.stats(workers), "workers": workers}


class EventHub:
    """``per_client``: streams one client may hold open; ``total``: streams this process may hold (fewer
    than its connections, so that streams can never starve uploads and health checks)."""

    def __init__(self, store: Store, per_client: int, total: int) -> None:
        self.store = store
        self.per_client, self.total = per_client, total
        self._listeners: dict[Listener, tuple[str, str]] = {}  # -> the client holding it, and its token
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._started = False

    def subscribe(self, client: str = "", token: str = "", timeout: float = 5.0) -> Listener:
        """A queue that receives every event from now on (and ``REVOKED`` if ``token`` is revoked). Raises
        ApiError: 429 past a cap, 503 if Redis is down."""
        with self._lock:
            self._check_caps(client)
            if not self._started:
                self._started = True
                threading.Thread(target=self._listen, name="events-listener", daemon=True).start()
                threading.Thread(target=self._summarise, name="events-summary", daemon=True).start()
            listener: Listener = stdqueue.Queue(maxsize=_BACKLOG)
            self._listeners[listener] = (client, token)
        if not self._subscribed.wait(timeout):
            self.unsubscribe(listener)
            raise ApiError("redis_unavailable", "cannot subscribe to job events: the job store (Redis) is "
                           "unavailable; try again shortly")
        return listener

    def _check_caps(self, client: str) -> None:
        held = sum(1 for owner, _ in self._listeners.values() if owner == client)
        if held >= self.per_client:
            raise ApiError("too_many_streams", f"this client holds {held} event streams open, the most allowed; "
                           "close one first", headers={"Retry-After": "5"})
        if len(self._listeners) >= self.total:
            raise ApiError("too_many_streams", "this server holds as many event streams as it may; try again "
                           "shortly", headers={"Retry-After": "5"})

    def unsubscribe(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.pop(listener, None)

    def _broadcast(self, event: dict[str, Any]) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener.put_nowait(event)
            except stdqueue.Full:  # a stream that does not read: cut it off rather than grow without bound
                self.unsubscribe(listener)
                with contextlib.suppress(stdqueue.Full, stdqueue.Empty):
                    listener.get_nowait()
                    listener.put_nowait(OVERFLOW)

    def _listen(self) -> None:
        delay = 0.2
        while True:
            subscription = None
            try:
                subscription = self.store.events.subscribe()
                self._subscribed.set()
                delay = 0.2
                while True:
                    event = subscription.get(timeout=KEEPALIVE)
                    if event is not None:
                        self._broadcast({"type": "job", **event})  # a batch's completion says "batch"
            except UNAVAILABLE as exc:
                self._subscribed.clear()
                log.warning("events subscription lost (%s); reconnecting in %.1f s", exc, delay)
                self._broadcast(RESYNC)  # streams may have missed events: tell clients
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                if subscription is not None:
                    subscription.close()

    def _summarise(self) -> None:
        while True:
            time.sleep(SUMMARY_INTERVAL)
            if not self._listeners:
                continue
            try:
                self._end_revoked()
                summary = summary_of(self.store)
            except UNAVAILABLE:
                continue
            self._broadcast(summary)

    def _end_revoked(self) -> None:
        with self._lock:
            held = {listener: token for listener, (_, token) in self._listeners.items() if token}
        revoked = self.store.tokens.revoked_among(sorted(set(held.values())))
        for listener, token in held.items():
            if token in revoked:
                self.unsubscribe(listener)
                with contextlib.suppress(stdqueue.Full):
                    listener.put_nowait(REVOKED)
