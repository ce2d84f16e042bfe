"""Server-sent events: live job transitions without polling (fed by the process's ``EventHub``).

* ``GET /jobs/<id>/events``: the job's current state first, then each change; closes after done/failed.
* ``GET /events``: every transition (of the caller's tenant) plus, for admins, a periodic ``summary``
  (queue depth, counts, workers); ``?ids=a,b,c`` or ``?batch=<id>`` narrows it to some jobs,
  ``?summary=0`` turns summaries off.
* A stream ends with a ``revoked`` event within seconds of the revocation of the token it was opened with.
* ``POST /events/ticket``: a short-lived signed ticket that opens a stream (``?ticket=``), for browsers:
  EventSource cannot send an Authorization header, and a ticket in a URL (which lands in logs and
  history) is worth far less than a token there: it only opens streams, only for a minute.
"""

from __future__ import annotations

import json
import queue as stdqueue
import time
from collections.abc import Callable, Iterator
from typing import Any

from flask import Blueprint, Response, jsonify, request, stream_with_context

from imgqueue.job import TERMINAL
from imgqueue.public import INTERNAL_FIELDS

from . import admission, auth, state
from .errors import ApiError
from .hub import KEEPALIVE, EventHub, Listener, summary_of
from .owned import owned_job
from .signing import Principal

bp = Blueprint("events", __name__)

TICK = 1.0  # how often a stream checks that the server is not shutting down
MAX_IDS = 10_000
_STOP = {"type": "stop"}
_FINAL = frozenset(s.value for s in TERMINAL)
_ENDINGS = frozenset({"overflow", "resync", "stop", "revoked"})

# What a stream makes of one event from the hub: the text to send (None: nothing), and whether to end.
Handler = Callable[[dict[str, Any]], tuple[str | None, bool]]


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


@bp.post("/events/ticket")
@auth.allow(*auth.TENANTS)
def ticket() -> Response:
    st = state.get()
    ttl = st.settings.stream_ticket_ttl
    return jsonify(ticket=st.signer.ticket(auth.current(), ttl), expiresIn=ttl)


@bp.get("/jobs/<job_id>/events")
@auth.allow(*auth.TENANTS, ticket=True)
def job_events(job_id: str) -> Response:
    st = state.get()
    # Subscribed before the state is read: no change can fall in between.
    listener = st.hub.subscribe(admission.client_key(), auth.current().token)
    try:
        job = owned_job(job_id)
    except BaseException:
        st.hub.unsubscribe(listener)
        raise
    who = auth.current()
    opening = [sse("job", _visible({**job.to_dict(), "type": "job"}, who))]
    if job.status in TERMINAL:
        return _relay(st.hub, listener, opening, None)
    last = job.updated_at

    def handle(event: dict[str, Any]) -> tuple[str | None, bool]:
        nonlocal last
        if event.get("type") in _ENDINGS:
            return sse(str(event["type"]), {}), True
        if event.get("id") != job_id or float(event.get("ts", 0)) <= last:
            return None, False  # another job's, or one the opening state already showed
        last = float(event["ts"])
        return sse("job", _visible(event, who)), event.get("status") in _FINAL

    return _relay(st.hub, listener, opening, handle)


@bp.get("/events")
@auth.allow(*auth.TENANTS, ticket=True)
def all_events() -> Response:
    ids = {i for i in request.args.get("ids", "").split(",") if i}
    batch = request.args.get("batch", "")
    who = auth.current()
    want_summary = who.admin and request.args.get("summary", "1") not in ("0", "false", "no")
    if len(ids) > MAX_IDS:
        raise ApiError("invalid_parameter", f"ids: at most {MAX_IDS} job ids")
    st = state.get()
    listener = st.hub.subscribe(admission.client_key(), who.token)
    opening = [sse("summary", summary_of(st.store))] if want_summary else []

    def wanted(event: dict[str, Any]) -> bool:
        kind = event.get("type")
        if kind == "summary":
            return want_summary
        if kind == "sample":  # a new point of the charts: queue-wide, for admins' unnarrowed streams
            return who.admin and not (ids or batch)
        if kind not in ("job", "batch", "webhook"):  # those are their tenant's, as its jobs
            return True
        if not (who.admin or event.get("tenant", "") == who.tenant):
            return False
        return (not ids or event.get("id") in ids) and (not batch or event.get("batch") == batch)

    def handle(event: dict[str, Any]) -> tuple[str | None, bool]:
        kind = str(event.get("type", "job"))
        if kind in ("overflow", "stop", "revoked"):
            return sse(kind, {}), True
        return (sse(kind, _visible(event, who)) if wanted(event) else None), False

    return _relay(st.hub, listener, opening, handle)


def _visible(event: dict[str, Any], who: Principal) -> dict[str, Any]:
    """An event or record as ``who`` may see it: paths and which worker (host, pid) ran it are for admins."""
    if who.admin:
        return event
    return {k: v for k, v in event.items() if k not in INTERNAL_FIELDS}


def _relay(hub: EventHub, listener: Listener, opening: list[str], handle: Handler | None) -> Response:
    """A text/event-stream response: ``opening`` first, then what ``handle`` makes of each event (with no
    handler, nothing more), with a keepalive comment when nothing happens for a while. The subscription
    ends with the stream."""

    def body() -> Iterator[str]:
        try:
            yield "retry: 2000\n\n"
            yield from opening
            while handle is not None:
                event = _next(listener, KEEPALIVE)
                if event is None:
                    yield ": keepalive\n\n"
                    continue
                text, end = handle(event)
                if text:
                    yield text
                if end:
                    return
        finally:
            hub.unsubscribe(listener)

    resp = Response(stream_with_context(body()), mimetype="text/event-stream")
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["X-Accel-Buffering"] = "no"  # no proxy buffering (nginx)
    return resp


def _next(listener: Listener, timeout: float) -> dict[str, Any] | None:
    """The next event; None after ``timeout`` (time for a keepalive); ``_STOP`` if the server stops."""
    deadline = time.monotonic() + timeout
    while _server_alive():
        try:
            return listener.get(timeout=max(0.0, min(TICK, deadline - time.monotonic())))
        except stdqueue.Empty:
            if time.monotonic() >= deadline:
                return None
    return _STOP
