"""``Idempotency-Key``: a request sent again with the same key (a client retrying after a timeout) gets
the answer the first one got, with 200 instead of 202, and makes no new job; the same key with another
request is 422, as payment APIs do. Kept IDEMPOTENCY_TTL per tenant. A request arriving while the first
is still being handled waits for its answer."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

from flask import request
from werkzeug.datastructures import FileStorage

from imgqueue.store import Seen

from . import admission, bodies, intake, state
from .errors import ApiError

HEADER = "Idempotency-Key"
MAX_KEY = 255
WAIT = 30.0  # seconds a repeat waits for the first request's answer
Answer = tuple[dict[str, Any], int, dict[str, str]]


def once(files: list[FileStorage], make: Callable[[], Answer]) -> Answer:
    key = request.headers.get(HEADER)
    if key is None:
        return make()
    if not 1 <= len(key) <= MAX_KEY or not key.isascii() or not key.isprintable():
        raise ApiError("invalid_parameter", f"{HEADER} must be 1 to {MAX_KEY} printable ASCII characters")
    st = state.get()
    store, ttl, owner = st.store.idempotency, st.settings.idempotency_ttl, admission.client_key()
    fingerprint = _fingerprint(files)
    deadline = time.monotonic() + WAIT
    while True:
        seen = store.begin(owner, key, fingerprint, ttl)
        if seen.seen is Seen.NEW:
            return _first(make, owner, key, fingerprint)
        if seen.seen is Seen.DONE and seen.response is not None:
            return seen.response, 200, {}
        if seen.seen is Seen.MISMATCH:
            raise ApiError("idempotency_mismatch", f"this {HEADER} was used with another request: use a new key "
                           "for a new request")
        if time.monotonic() >= deadline:
            raise ApiError("idempotency_in_progress", f"a request with this {HEADER} is still being handled; "
                           "try again shortly", headers={"Retry-After": "1"})
        time.sleep(0.1)


def _first(make: Callable[[], Answer], owner: str, key: str, fingerprint: str) -> Answer:
    store, ttl = state.get().store.idempotency, state.get().settings.idempotency_ttl
    try:
        data, status, headers = make()
    except BaseException:
        store.abandon(owner, key)
        raise
    store.complete(owner, key, fingerprint, data, ttl)
    return data, status, headers


def _fingerprint(files: list[FileStorage]) -> str:
    """What the request asks: its route, its fields, its files' names and bytes."""
    digest = hashlib.sha256(request.path.encode())
    for name, value in sorted(bodies.upload_fields().items(multi=True)):
        digest.update(f"\n{name}={value}".encode())
    for file in files:
        digest.update(f"\n{file.name}:{file.filename}:{intake.full_digest(file.stream)}".encode())
    return digest.hexdigest()
