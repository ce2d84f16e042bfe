"""Server-sent events: live job transitions without polling.

One ``EventHub`` per API process holds a single Redis subscription to the events channel and fans every
message out to the open streams (an in-process queue each), and computes one summary every few seconds
for all of them. So 200 open streams cost 200 queues, not 200 Redis connections or 200 pollers.

* ``GET /jobs/<id>/events``: the job's current state first, then each change; closes after done/failed.
* ``GET /events``: every transition plus a periodic ``summary`` (queue depth, counts, workers);
  ``?ids=a,b,c`` or ``?batch=<id>`` narrows it to some jobs, ``?summary=0`` turns summaries off.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue as stdqueue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import redis
from flask import Blueprint, Response, current_app, request, stream_with_context

from imgqueue.job import TERMINAL, JobStatus
from imgqueue.queue import Queue, connect

from .errors import ApiError
from .jobs import job_id_or_404, state

log = logging.getLogger(__name__)
bp = Blueprint("events", __name__)

KEEPALIVE = 15.0
SUMMARY_INTERVAL = 2.0
TICK = 1.0  # how often a stream checks that the server is not shutting down
_BACKLOG = 10_000  # events buffered per stream before it is cut off as too slow
_OVERFLOW = {"type": "overflow"}
_STOP = {"type": "stop"}


def _always() -> bool:
    return True


_server_alive: Callable[[], bool] = _always


def set_server_alive(check: Callable[[], bool]) -> None:
    """gunicorn's ``post_worker_init`` hands us ``worker.alive``: streams end when the worker stops, so
    that a restart does not wait out the graceful timeout (EventSource clients reconnect by themselves)."""
    global _server_alive
    _server_alive = check


def sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


class EventHub:
    def __init__(self, q: Queue) -> None:
        self.queue = q
        self._listeners: set[stdqueue.Queue[dict[str, Any]]] = set()
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._started = False

    def subscribe(self, timeout: float = 5.0) -> stdqueue.Queue[dict[str, Any]]:
        """A queue that receives every event from now on. Raises redis.ConnectionError if Redis is down."""
        with self._lock:
            if not self._started:
                self._started = True
                threading.Thread(target=self._listen, name="events-listener", daemon=True).start()
                threading.Thread(target=self._summarise, name="events-summary", daemon=True).start()
            listener: stdqueue.Queue[dict[str, Any]] = stdqueue.Queue(maxsize=_BACKLOG)
            self._listeners.add(listener)
        if not self._subscribed.wait(timeout):
            self.unsubscribe(listener)
            raise redis.ConnectionError("cannot subscribe to job events")
        return listener

    def unsubscribe(self, listener: stdqueue.Queue[dict[str, Any]]) -> None:
        with self._lock:
            self._listeners.discard(listener)

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
                    listener.put_nowait(_OVERFLOW)

    def _listen(self) -> None:
        channel = self.queue.keys.events
        delay = 0.2
        while True:
            pubsub = None
            try:
                client = connect(self.queue.settings)
                pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
                pubsub.subscribe(channel)
                pubsub.get_message(timeout=5)  # the subscribe confirmation
                self._subscribed.set()
                delay = 0.2
                while True:
                    message = pubsub.get_message(timeout=KEEPALIVE)
                    if message is None:
                        pubsub.ping()
                        continue
                    try:
                        event = json.loads(message["data"])
                    except (TypeError, ValueError):
                        continue
                    event["type"] = "job"
                    self._broadcast(event)
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                self._subscribed.clear()
                log.warning("events subscription lost (%s); reconnecting in %.1f s", exc, delay)
                self._broadcast({"type": "resync"})  # streams may have missed events: tell clients
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                if pubsub is not None:
                    with contextlib.suppress(redis.RedisError):
                        pubsub.close()

    def _summarise(self) -> None:
        while True:
            time.sleep(SUMMARY_INTERVAL)
            if not self._listeners:
                continue
            try:
                summary = summary_of(self.queue)
            except (redis.ConnectionError, redis.TimeoutError):
                continue
            self._broadcast(summary)


def summary_of(q: Queue) -> dict[str, Any]:
    workers = q.workers()
    return {"type": "summary", "ts": time.time(), "counts": q.stats(workers), "workers": workers}


def hub() -> EventHub:
    ext = current_app.extensions
    if "imgqueue_events" not in ext:
        ext["imgqueue_events"] = EventHub(state().queue)
    return ext["imgqueue_events"]  # type: ignore[no-any-return]


def _stream(body: Iterator[str]) -> Response:
    resp = Response(stream_with_context(body), mimetype="text/event-stream")
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["X-Accel-Buffering"] = "no"  # no proxy buffering (nginx)
    return resp


def _next(listener: stdqueue.Queue[dict[str, Any]], timeout: float) -> dict[str, Any] | None:
    """The next event; None after ``timeout`` (time for a keepalive); ``_STOP`` if the server stops."""
    deadline = time.monotonic() + timeout
    while _server_alive():
        try:
            return listener.get(timeout=max(0.0, min(TICK, deadline - time.monotonic())))
        except stdqueue.Empty:
            if time.monotonic() >= deadline:
                return None
    return _STOP


@bp.get("/jobs/<job_id>/events")
def job_events(job_id: str) -> Response:
    job_id = job_id_or_404(job_id)
    events = hub()
    listener = events.subscribe()  # before reading the state, so that no change falls in between
    try:
        job = state().queue.get(job_id)
    except BaseException:
        events.unsubscribe(listener)
        raise

    def body() -> Iterator[str]:
        try:
            yield "retry: 2000\n\n"
            yield sse("job", {**job.to_dict(), "type": "job"})
            last = job.updated_at
            if job.status in TERMINAL:
                return
            while True:
                event = _next(listener, KEEPALIVE)
                if event is None:
                    yield ": keepalive\n\n"
                    continue
                if event.get("type") in ("overflow", "resync", "stop"):
                    yield sse(str(event["type"]), {})
                    return
                if event.get("id") != job_id or float(event.get("ts", 0)) <= last:
                    continue  # another job's, or one the first state already showed
                last = float(event["ts"])
                yield sse("job", event)
                if event.get("status") in (JobStatus.DONE.value, JobStatus.FAILED.value):
                    return
        finally:
            events.unsubscribe(listener)

    return _stream(body())


@bp.get("/events")
def all_events() -> Response:
    ids = {i for i in request.args.get("ids", "").split(",") if i}
    batch = request.args.get("batch", "")
    want_summary = request.args.get("summary", "1") not in ("0", "false", "no")
    if len(ids) > 10_000:
        raise ApiError(400, "invalid_parameter", "ids: at most 10000 job ids")
    events = hub()
    listener = events.subscribe()
    first = summary_of(state().queue) if want_summary else None

    def wanted(event: dict[str, Any]) -> bool:
        if event.get("type") == "summary":
            return want_summary
        if event.get("type") != "job":
            return True
        if ids and event.get("id") not in ids:
            return False
        return not (batch and event.get("batch") != batch)

    def body() -> Iterator[str]:
        try:
            yield "retry: 2000\n\n"
            if first is not None:
                yield sse("summary", first)
            while True:
                event = _next(listener, KEEPALIVE)
                if event is None:
                    yield ": keepalive\n\n"
                    continue
                if event.get("type") in ("overflow", "stop"):
                    yield sse(str(event["type"]), {})
                    return
                if wanted(event):
                    yield sse(str(event.get("type", "job")), event)
        finally:
            events.unsubscribe(listener)

    return _stream(body())
