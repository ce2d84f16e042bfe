"""Logging set-up shared by the services: one line per event, key=value (or JSON with LOG_FORMAT=json, for
log shippers), UTC timestamps. ``TRACE`` holds the trace id of the job or request being handled: every line
logged meanwhile carries it (``trace=<id>``), in the API (from the request's W3C ``traceparent``, or a new
one) and in the worker (from the job's record), so one id finds a job's every line."""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar
from typing import Any

TRACE: ContextVar[str] = ContextVar("trace", default="")
LOG_FORMATS = ("text", "json")


class _Traced(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        trace = TRACE.get()
        record.trace = trace
        record.trace_part = f" trace={trace}" if trace else ""
        return True


class _UTCFormatter(logging.Formatter):
    converter = time.gmtime  # type: ignore[assignment]


class _JSONFormatter(_UTCFormatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {"ts": f"{self.formatTime(record, '%Y-%m-%dT%H:%M:%S')}.{int(record.msecs):03d}Z",
                                "level": record.levelname, "pid": record.process, "logger": record.name,
                                "message": record.getMessage()}
        if getattr(record, "trace", ""):
            line["trace"] = record.trace  # type: ignore[attr-defined]
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def setup_logging(level: str = "INFO", lock: Any = None, fmt: str = "text") -> None:
    """Log to stderr at ``level``, as key=value lines or (``fmt`` json) JSON lines. ``lock``: the lock the
    handler takes around each write, when the caller needs another kind than the standard one (an OS-level
    lock, say)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_Traced())
    handler.setFormatter(_JSONFormatter() if fmt == "json" else _UTCFormatter(
        "ts=%(asctime)s.%(msecs)03dZ level=%(levelname)s pid=%(process)d logger=%(name)s %(message)s%(trace_part)s",
        datefmt="%Y-%m-%dT%H:%M:%S"))
    if lock is not None:
        handler.lock = lock
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
