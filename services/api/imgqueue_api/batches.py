"""Batches and webhook deliveries.

``POST /batches`` announces a set of jobs (JSON ``{"expected": n, "callbackUrl": ...}``) and answers its
``batchId``; uploads carry ``batch=<id>``; ``GET /batches/<id>`` counts its jobs by ended status. When every
expected job has ended, one ``batch.completed`` event and webhook. Owned by the tenant, as jobs are.
``GET /jobs/<id>/deliveries`` lists a job's webhook messages with their attempts;
``POST /deliveries/<id>/redeliver`` sends one again (a dead one, typically)."""

from __future__ import annotations

import re
import time
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for

from imgqueue import public
from imgqueue.job import new_job_id

from . import auth, callbacks, state
from .errors import ApiError
from .owned import is_job_id, owned_job

bp = Blueprint("batches", __name__)
MESSAGE_ID = re.compile(r"^msg_[0-9a-f]{32}_[0-9]{1,9}$")


@bp.post("/batches")
@auth.allow(*auth.TENANTS)
def create_batch() -> tuple[Response, int]:
    """A batch expecting ``expected`` jobs; ``callbackUrl`` is told (``batch.completed``) once all have ended."""
    st = state.get()
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # JSON nested thousands deep: silent covers only what json calls a ValueError
        body = None
    if not isinstance(body, dict):
        raise ApiError("invalid_body", 'send JSON: {"expected": <jobs>, "callbackUrl": <optional URL>}')
    expected = body.get("expected")
    limit = st.settings.max_batch_jobs
    if not isinstance(expected, int) or isinstance(expected, bool) or not 1 <= expected <= limit:
        raise ApiError("invalid_parameter", f"expected must be a whole number of jobs from 1 to {limit} "
                       "(MAX_BATCH_JOBS)")
    raw_url = body.get("callbackUrl")
    if raw_url is not None and not isinstance(raw_url, str):
        raise ApiError("invalid_parameter", "callbackUrl must be a string (a URL)")
    url = callbacks.callback_url(raw_url)
    batch_id = new_job_id()
    st.store.batches.create(batch_id, auth.current().tenant, expected, url, time.time(), st.settings.job_ttl)
    return jsonify(shown(batch_id)), 201


@bp.get("/batches/<batch_id>")
@auth.allow(*auth.TENANTS)
def get_batch(batch_id: str) -> Response:
    return jsonify(shown(batch_id))


@bp.get("/jobs/<job_id>/deliveries")
@auth.allow(*auth.TENANTS)
def job_deliveries(job_id: str) -> Response:
    """The job's webhook messages, oldest first, each with its attempts (time, HTTP status, duration, error)."""
    job = owned_job(job_id)
    return jsonify({"deliveries": [m.shown() for m in state.get().store.outbox.of(job.id)]})


@bp.post("/deliveries/<message_id>/redeliver")
@auth.allow(*auth.TENANTS)
def redeliver(message_id: str) -> tuple[Response, int]:
    """A message pending again, due now, with the same ``webhook-id`` and body."""
    outbox = state.get().store.outbox
    message = outbox.get(message_id) if MESSAGE_ID.match(message_id) else None
    if message is None or not auth.may_see(message.tenant):
        raise ApiError("delivery_not_found", f"no webhook message with id {message_id[:80]!r}")
    outbox.redeliver(message.id, time.time())
    again = outbox.get(message.id)
    return jsonify(again.shown() if again else {}), 202


def owned_batch(batch_id: str) -> dict[str, Any]:
    """The batch, if the caller may see it; 404 ``batch_not_found`` otherwise, as for an unknown id."""
    batch = state.get().store.batches.get(batch_id) if is_job_id(batch_id) else None
    if batch is None or not auth.may_see(batch["tenant"]):
        raise ApiError("batch_not_found", f"no batch with id {batch_id[:80]!r}")
    return batch


def shown(batch_id: str) -> dict[str, Any]:
    b = owned_batch(batch_id)
    return {**public.batch(b), "batchUrl": url_for("batches.get_batch", batch_id=b["id"]),
            "deliveries": [m.shown() for m in state.get().store.outbox.of(b["id"])]}
