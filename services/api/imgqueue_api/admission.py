"""Saying no early, clearly and cheaply: the checks an upload passes before any work is queued.

* disk: below ``MIN_FREE_DISK_BYTES`` free, 507 before the body is stored;
* rate: ``UPLOAD_RATE_LIMIT`` per ``UPLOAD_RATE_WINDOW`` per tenant (per client address in open mode),
  in Redis so it holds across API processes and hosts: 429 with ``Retry-After`` and ``RateLimit-*``;
* body: see ``bodies`` (its length from the headers, its readers per client, its form, its time);
* queue: a full queue (``MAX_QUEUE_DEPTH``, checked inside the enqueue script) answers 503 with a
  ``Retry-After`` from the recent drain rate.
Decoding an upload's header runs off the event loop (``greenlets.offload``): a slow file cannot stall
``/healthz``.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import tempfile

from flask import request

from imgqueue.errors import QueueFull

from . import auth, state
from .errors import ApiError


def client_key() -> str:
    """Whom a limit counts against: the tenant, or in open mode (no tenants) the client's address."""
    who = auth.current()
    return f"t:{who.tenant}" if who.tenant else f"a:{request.remote_addr or '?'}"


def free_space() -> dict[str, int]:
    """Free bytes where uploads are kept (``uploads``: local storage only, an object store's space is its own
    business) and in the temporary folder where bodies are spooled (by its path). /metrics reports them."""
    out: dict[str, int] = {}
    stored = state.get().storage.free_bytes()
    if stored is not None:
        out["uploads"] = stored
    with contextlib.suppress(OSError):
        out[tempfile.gettempdir()] = shutil.disk_usage(tempfile.gettempdir()).free
    return out


def check_disk() -> None:
    floor = state.get().settings.min_free_disk_bytes
    if floor <= 0:
        return
    for free in free_space().values():
        if free < floor:
            raise ApiError("insufficient_storage", "the server is short of disk space for uploads; try again later",
                           headers={"Retry-After": "60"})


def take_rate(cost: int) -> dict[str, str]:
    """Charge ``cost`` uploads to the caller; 429 when they do not fit. Returns the RateLimit headers. With
    ``cost`` 0, only check that one more would fit (before a body whose file count is not known yet)."""
    settings = state.get().settings
    if settings.upload_rate_limit <= 0:
        return {}
    window = settings.upload_rate_window
    allowances = state.get().store.allowances
    limit = settings.upload_rate_limit
    allowance = allowances.take(client_key(), cost, limit, window) if cost else allowances.peek(client_key(), limit,
                                                                                                 window)
    reset = math.ceil(allowance.retry_after if allowance.retry_after >= 0 else window)
    headers = {"RateLimit-Limit": str(allowance.limit), "RateLimit-Remaining": str(allowance.remaining),
               "RateLimit-Reset": str(reset), "RateLimit-Policy": f"{allowance.limit};w={int(window)}"}
    if not allowance.allowed:
        if allowance.retry_after < 0:
            raise ApiError("rate_limited", f"{cost} files at once are more than the limit of {allowance.limit} per "
                           f"{window:g} s: send fewer at a time", headers=headers)
        raise ApiError("rate_limited", f"more than {allowance.limit} uploads in {window:g} s: try again in "
                       f"{reset} s", headers={**headers, "Retry-After": str(max(1, reset))})
    return headers


def queue_full(exc: QueueFull) -> ApiError:
    """503 with a Retry-After from the jobs the workers ended in the last minute."""
    rate = state.get().store.counters.drain_rate()
    excess = max(1, exc.depth + exc.adding - exc.limit)
    retry = 30 if rate <= 0 else min(600, max(1, math.ceil(excess / rate)))
    return ApiError("queue_full", f"{exc} (about {retry} s at the current pace)", headers={"Retry-After": str(retry)})
