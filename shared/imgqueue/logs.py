"""Logging set-up shared by the services: one line per event, key=value, UTC timestamps."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any


class _UTCFormatter(logging.Formatter):
    converter = time.gmtime  # type: ignore[assignment]


def setup_logging(level: str = "INFO", lock: Any = None) -> None:
    """Log to stderr at ``level``. ``lock``: the lock the handler takes around each write, when the caller
    needs another kind than the standard one (an OS-level lock, say)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_UTCFormatter(
        "ts=%(asctime)s.%(msecs)03dZ level=%(levelname)s pid=%(process)d logger=%(name)s %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S"))
    if lock is not None:
        handler.lock = lock
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
