"""Uploads. The demo's contract: ``POST /upload`` (field ``image``, ``width``, ``height``) answers
``202 {"jobId", "status": "queued", "statusUrl"}``. ``PUT /upload`` takes the image as the whole body (the
options in the query string); ``POST /jobs`` takes several files at once. Both take
the job options (``priority``, ``delay`` or ``runAt``, ``callbackUrl``, ``batch``) and an
``Idempotency-Key`` header.

Every refusal comes before any work is queued, the cheapest first (see ``admission``): disk space, rate,
the body as it streams in, the spec and options, each file's header (decoded off the event loop) and the
work it asks for, then the queue's own limit, atomic with the push."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify, request
from werkzeug.datastructures import FileStorage

from imgqueue.errors import QueueFull
from imgqueue.job import Job, new_job_id
from imgqueue.options import parse_options

from . import admission, auth, batches, bodies, callbacks, idempotency, intake, orders, state
from .errors import ApiError
from .jobs import accepted_entry

log = logging.getLogger(__name__)
bp = Blueprint("uploads", __name__)
Answer = tuple[dict[str, Any], int, dict[str, str]]


@bp.post("/upload")
@auth.allow(*auth.TENANTS)
@bodies.takes_uploads
def upload() -> tuple[Response, int, dict[str, str]]:
    """One file in field ``image`` (the demo's contract)."""
    admission.check_disk()
    rate = admission.take_rate(1)
    files = bodies.form_files(admission.client_key(), "image")
    if not files:
        raise ApiError("missing_file", "send the image as a multipart form field named 'image'")
    return _answer(files[:1], rate, lambda jobs: accepted_entry(jobs[0]))


@bp.put("/upload")
@auth.allow(*auth.TENANTS)
@bodies.takes_uploads
def upload_raw() -> tuple[Response, int, dict[str, str]]:
    """One image as the whole body (``Content-Type: image/*`` or ``application/octet-stream``), its options in
    the query string: no multipart form to parse, nothing copied twice. Answers as ``POST /upload``."""
    admission.check_disk()
    rate = admission.take_rate(1)
    if not (request.mimetype.startswith("image/") or request.mimetype == "application/octet-stream"):
        raise ApiError("invalid_body", "send the image itself as the body, with Content-Type image/* (or "
                       "application/octet-stream), and its options in the query string")
    name = str(request.args.get("filename") or "upload")[:200]
    return _answer([bodies.raw_file(admission.client_key(), name)], rate, lambda jobs: accepted_entry(jobs[0]))


@bp.post("/jobs")
@auth.allow(*auth.TENANTS)
@bodies.takes_uploads
def create_jobs() -> tuple[Response, int, dict[str, str]]:
    """Several files in field ``images`` (``image`` accepted too), all with the same options."""
    admission.check_disk()
    admission.take_rate(0)  # none left: refused before the body is read
    files = bodies.form_files(admission.client_key(), "images", "image")
    if not files:
        raise ApiError("missing_file", "send one or more images as multipart form fields named 'images'")
    limit = state.get().settings.max_files_per_request
    if len(files) > limit:
        raise ApiError("too_many_files", f"{len(files)} files, more than the limit of {limit}")
    rate = admission.take_rate(len(files))
    return _answer(files, rate, lambda jobs: {"batch": jobs[0].batch or None,
                                              "jobs": [accepted_entry(j) for j in jobs]})


def _answer(files: list[FileStorage], rate: dict[str, str],
            body: Callable[[list[Job]], dict[str, Any]]) -> tuple[Response, int, dict[str, str]]:
    """Queue the files' jobs and answer 202; with an Idempotency-Key seen before, the first answer (200)."""
    data, status, headers = idempotency.once(files, lambda: (body(_enqueue(files)), 202, rate))
    return jsonify(data), status, headers


def _enqueue(files: list[FileStorage]) -> list[Job]:
    """Check every file, store those that need it, then queue them all in one step: all or nothing."""
    st = state.get()
    fields = bodies.upload_fields()
    options = parse_options(fields, time.time(), st.settings.max_delay)
    order, url = orders.read(fields), callbacks.callback_url(fields.get("callbackUrl"))
    batch, made = _batch_for(len(files), url)
    req = intake.Request(order, options, batch, url)
    accepted: list[Job] = []
    try:
        for index, file in enumerate(files):
            accepted.append(_accept_nth(file, index, len(files), req))
        queued = st.store.jobs.enqueue(accepted, st.settings.max_queue_depth)
        _requeue_stale_duplicates(accepted, queued, files)
    except QueueFull as exc:
        _discard(accepted, batch, made, len(files))
        raise admission.queue_full(exc) from None
    except BaseException:
        _discard(accepted, batch, made, len(files))
        raise
    for job in accepted:
        log.info("job=%s status=%s filename=%r input=%dx%d/%s/%dB spec=%s variants=%d priority=%s%s", job.id,
                 job.status.value, job.filename, job.input_width, job.input_height, job.input_format, job.input_bytes,
                 job.spec.to_dict(), len(job.variants), job.priority,
                 f" duplicate_of={job.duplicate_of}" if job.duplicate_of else "")
    return accepted


def _requeue_stale_duplicates(accepted: list[Job], queued: list[Job], files: list[FileStorage]) -> None:
    """Duplicates whose original went (expired, its output gone) between the look and the enqueue: stored
    and queued as any upload."""
    made = {j.id for j in queued}
    stale = [(job, file) for job, file in zip(accepted, files, strict=True) if job.id not in made]
    for job, file in stale:
        intake.store(job, file)
    if stale:
        state.get().store.jobs.enqueue([job for job, _ in stale])


def _discard(jobs: list[Job], batch: str, made: bool, count: int) -> None:
    """Nothing was queued: the stored uploads removed, the batch's room given back (or the one made for
    these files gone)."""
    st = state.get()
    for job in jobs:
        if not job.duplicate_of:
            st.storage.delete(job.input_key)
    if made:
        st.store.batches.delete(batch)
    elif batch:
        st.store.batches.release(batch, count)


def _batch_for(count: int, url: str) -> tuple[str, bool]:
    """The batch the files join, and whether it was made for them: the one named (``batch``; room taken for
    them), or for several files without one, a batch of their own (expecting them all; told to ``url`` too
    when it completes)."""
    st = state.get()
    named = str(bodies.upload_fields().get("batch") or "").strip()
    if named:
        batch = batches.owned_batch(named)
        if not st.store.batches.reserve(batch["id"], count):
            raise ApiError("batch_full", f"the batch expects {batch['expected']} jobs and has {batch['jobs']}: "
                           f"these {count} would be more")
        return str(batch["id"]), False
    if count == 1:
        return "", False
    batch_id = new_job_id()
    st.store.batches.create(batch_id, auth.current().tenant, count, url, time.time(), st.settings.job_ttl, count)
    return batch_id, True


def _accept_nth(file: FileStorage, index: int, count: int, req: intake.Request) -> Job:
    """``intake.accept``, with a refusal in a batch naming the file and saying that nothing was queued."""
    try:
        return intake.accept(file, req)
    except ApiError as exc:
        if count > 1:
            exc.details["index"] = index
            exc.message = f"file {index} ({(file.filename or 'unnamed')[:100]}): {exc.message}; nothing was queued"
            exc.args = (exc.message,)
        raise
