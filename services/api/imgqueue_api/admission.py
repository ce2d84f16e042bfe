"""Saying no early, clearly and cheaply: the checks an upload passes before any work is queued.

* disk: below ``MIN_FREE_DISK_BYTES`` free, 507 before the body is stored;
* rate: ``UPLOAD_RATE_LIMIT`` per ``UPLOAD_RATE_WINDOW`` per tenant (per client address in open mode),
  in Redis so it holds across API processes and hosts: 429 with ``Retry-After`` and ``RateLimit-*``;
* body: a slow body is cut off after ``BODY_READ_TIMEOUT`` (408), and each file stops being stored the
  moment it passes ``MAX_UPLOAD_BYTES`` (413), not after it reached the disk;
* queue: a full queue (``MAX_QUEUE_DEPTH``, checked inside the enqueue script) answers 503 with a
  ``Retry-After`` from the recent drain rate.
Decoding an upload's header runs off the event loop (``greenlets.offload``): a slow file cannot stall ``/healthz``.
"""

from __future__ import annotations

import io
import math
import shutil
import tempfile
from contextlib import AbstractContextManager
from typing import IO, Any

from flask import Request, request
from werkzeug.datastructures import FileStorage

from imgqueue.errors import QueueFull

from . import auth, greenlets, state
from .errors import ApiError

SPOOL_BYTES = 512 * 1024  # a file part is kept in memory up to this size, then spooled to a temp file
# The form parser asks for 64 KiB at a time. gunicorn reads ahead up to 1 MiB per recv() and re-buffers
# what is left after each small read, so a photo's body was copied over and over (a fifth of the API's
# CPU). Reading in blocks as large as its read-ahead keeps every byte copied once.
BODY_BLOCK_BYTES = 1024 * 1024


class CappedFile(tempfile.SpooledTemporaryFile):  # type: ignore[type-arg]
    """Where the form parser stores one uploaded file: refuses bytes past ``limit`` as they arrive."""

    def __init__(self, limit: int, filename: str) -> None:
        super().__init__(max_size=SPOOL_BYTES)
        self.limit, self.filename, self.received = limit, filename, 0

    def write(self, data: Any) -> int:
        self.received += len(data)
        if self.received > self.limit:
            raise ApiError("file_too_large", f"the file is more than the limit of {self.limit} bytes",
                           filename=self.filename[:200])
        return int(super().write(data))


class UploadRequest(Request):
    """Flask's request, with each uploaded file capped at MAX_UPLOAD_BYTES while the body streams in."""

    def _get_file_stream(self, total_content_length: int | None, content_type: str | None,
                         filename: str | None = None, content_length: int | None = None) -> IO[bytes]:
        return CappedFile(state.get().settings.max_upload_bytes, filename or "")

    def _get_stream_for_parsing(self) -> IO[bytes]:
        stream = super()._get_stream_for_parsing()
        if isinstance(stream, io.RawIOBase):
            return io.BufferedReader(stream, buffer_size=BODY_BLOCK_BYTES)
        return stream


def client_key() -> str:
    """Whom a limit counts against: the tenant, or in open mode (no tenants) the client's address."""
    who = auth.current()
    return f"t:{who.tenant}" if who.tenant else f"a:{request.remote_addr or '?'}"


def check_disk() -> None:
    floor = state.get().settings.min_free_disk_bytes
    if floor <= 0:
        return
    stored = state.get().storage.free_bytes()  # None: an object store, whose space is its own business
    for free in (stored, shutil.disk_usage(tempfile.gettempdir()).free):
        if free is not None and free < floor:
            raise ApiError("insufficient_storage", "the server is short of disk space for uploads; try again later",
                           headers={"Retry-After": "60"})


def take_rate(cost: int) -> dict[str, str]:
    """Charge ``cost`` uploads to the caller; 429 when they do not fit. Returns the RateLimit headers."""
    settings = state.get().settings
    if settings.upload_rate_limit <= 0:
        return {}
    window = settings.upload_rate_window
    allowance = state.get().store.allowances.take(client_key(), cost, settings.upload_rate_limit, window)
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


def body_deadline() -> AbstractContextManager[Any]:
    """Reading the body (the form parser) must finish within BODY_READ_TIMEOUT: 408 otherwise. Enforced
    with gevent workers (the default), whose reads are cooperative."""
    seconds = state.get().settings.body_read_timeout
    error = ApiError("body_timeout", f"the request body did not arrive within {seconds:g} s")
    return greenlets.deadline(seconds, error)


def form_files(*fields: str) -> list[FileStorage]:
    with body_deadline():
        return [f for name in fields for f in request.files.getlist(name)]


def queue_full(exc: QueueFull) -> ApiError:
    """503 with a Retry-After from the jobs the workers ended in the last minute."""
    rate = state.get().store.counters.drain_rate()
    excess = max(1, exc.depth + exc.adding - exc.limit)
    retry = 30 if rate <= 0 else min(600, max(1, math.ceil(excess / rate)))
    return ApiError("queue_full", f"{exc} (about {retry} s at the current pace)", headers={"Retry-After": str(retry)})
