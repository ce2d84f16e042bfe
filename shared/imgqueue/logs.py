"""Logging set-up shared by the services: one line per event, key=value, UTC timestamps."""

from __future__ import annotations

import logging
import sys
import time


class _UTCFormatter(logging.Formatter):
    converter = time.gmtime  # type: ignore[assignment]


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_UTCFormatter(
        "ts=%(asctime)s.%(msecs)03dZ level=%(levelname)s pid=%(process)d logger=%(name)s %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
