"""How a job is to be run, beside what it makes (``spec``): its priority and when it is due. Parsed from
the API's form fields (strings) with the same names and messages as the spec; InvalidSpec names the field."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .errors import InvalidSpec
from .status import Priority

SECONDS = re.compile(r"[0-9]{1,10}(\.[0-9]{1,6})?")  # ASCII digits only, as every number


@dataclass(frozen=True)
class JobOptions:
    priority: Priority = Priority.NORMAL
    run_at: float = 0.0  # epoch seconds a delayed job is due at; 0: at once


def parse_options(values: Mapping[str, Any], now: float, max_delay: float) -> JobOptions:
    """``priority`` (high, normal, low), and ``delay`` (seconds) or ``runAt`` (an RFC 3339 time), at most
    ``max_delay`` seconds ahead; a time already past means at once."""
    return JobOptions(_priority(values.get("priority")), _run_at(values, now, max_delay))


def _priority(value: Any) -> Priority:
    raw = str(value or "").strip().lower() or Priority.NORMAL.value
    try:
        return Priority(raw)
    except ValueError:
        raise InvalidSpec(f"priority must be one of {', '.join(p.value for p in Priority)}, got {raw[:40]!r}") from None


def _run_at(values: Mapping[str, Any], now: float, max_delay: float) -> float:
    delay, run_at = str(values.get("delay") or "").strip(), str(values.get("runAt") or "").strip()
    if delay and run_at:
        raise InvalidSpec("give delay or runAt, not both")
    if delay:
        if not SECONDS.fullmatch(delay):
            raise InvalidSpec(f"delay must be a number of seconds in ASCII digits, got {delay[:40]!r}")
        at = now + float(delay)
    elif run_at:
        at = _rfc3339(run_at)
    else:
        return 0.0
    if at - now > max_delay:
        raise InvalidSpec(f"a job may be scheduled at most {max_delay:g} s ahead (MAX_DELAY)")
    return at if at > now else 0.0


def _rfc3339(text: str) -> float:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        when = None
    if when is None or when.tzinfo is None or not text.isascii():
        raise InvalidSpec(f"runAt must be an RFC 3339 time with its offset (2026-12-02T10:00:00Z), got {text[:60]!r}")
    return when.timestamp()
