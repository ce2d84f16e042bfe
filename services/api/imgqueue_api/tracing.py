"""One trace id per request, and so per job: a W3C ``traceparent`` header (``00-<trace id>-<parent id>-<flags>``)
is read, or a trace id made; every log line of the request carries it (``imgqueue.logs.TRACE``), the jobs it
makes keep it (``trace_id``: the worker's lines, the events and the webhooks carry it too), and the answer's
``traceparent`` header gives it back with this server's span."""

from __future__ import annotations

import re
import secrets

from flask import Flask, Response, g, request

from imgqueue.logs import TRACE

TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def trace_of(header: str) -> str:
    """The trace id a valid ``traceparent`` carries, else a new one (an invalid one is ignored, as the W3C
    specification says: restart the trace)."""
    match = TRACEPARENT.match(header.strip().lower()) if header and len(header) < 256 else None
    if match and match.group(1) != "0" * 32 and match.group(2) != "0" * 16 and not header.startswith("ff"):
        return match.group(1)
    return secrets.token_hex(16)


def install(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        g.trace_token = TRACE.set(trace_of(request.headers.get("traceparent", "")))

    @app.after_request
    def _answer(resp: Response) -> Response:
        trace = TRACE.get()
        if trace:
            resp.headers["traceparent"] = f"00-{trace}-{secrets.token_hex(8)}-01"
        return resp

    @app.teardown_request
    def _end(exc: BaseException | None) -> None:
        token = g.pop("trace_token", None)
        if token is not None:
            TRACE.reset(token)
