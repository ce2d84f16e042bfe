"""Logging set-up shared by the services: one line per event, key=value, UTC timestamps."""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import Any


class _UTCFormatter(logging.Formatter):
    converter = time.gmtime  # type: ignore[assignment]


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_UTCFormatter(
        "ts=%(asctime)s.%(msecs)03dZ level=%(levelname)s pid=%(process)d logger=%(name)s %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S"))
    handler.lock = _native_rlock()
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def _native_rlock() -> Any:
    """The handler's lock as an OS-level lock even where gevent patched ``threading``: the API decodes
    upload headers in native threads, and a gevent lock taken from one of them can hang (a greenlet that
    holds the native lock only blocks its hub for the length of one write)."""
    try:
        from gevent import monkey
    except ImportError:
        return threading.RLock()
    if monkey.is_module_patched("threading"):
        return monkey.get_original("threading", "RLock")()
    return threading.RLock()
