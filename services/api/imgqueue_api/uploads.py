"""Uploads. The demo's contract: ``POST /upload`` (field ``image``, ``width``, ``height``) answers
``202 {"jobId", "status": "queued", "statusUrl"}``. ``POST /jobs`` takes several files at once.

Every refusal comes before any work is queued, the cheapest first (see ``admission``): disk space, rate,
the body as it streams in, the spec, each file's header (decoded off the event loop) and the work it asks
for, then the queue's own limit, atomic with the push."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, request
from werkzeug.datastructures import FileStorage

from imgqueue import imaging
from imgqueue.errors import ImageError, QueueFull
from imgqueue.job import Job, input_key, new_job_id, output_key
from imgqueue.probe import check_work
from imgqueue.spec import EXTENSIONS, ResizeSpec, output_format_for, parse_spec

from . import admission, auth, bodies, greenlets, state
from .errors import ApiError
from .jobs import accepted_entry

log = logging.getLogger(__name__)
bp = Blueprint("uploads", __name__)


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
    (job,) = _enqueue(files[:1])
    return jsonify(accepted_entry(job)), 202, rate


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
    jobs = _enqueue(files)
    return jsonify(batch=jobs[0].batch or None, jobs=[accepted_entry(j) for j in jobs]), 202, rate


def _enqueue(files: list[FileStorage]) -> list[Job]:
    """Check and store every file, then queue them all in one step: all or nothing."""
    st = state.get()
    spec = parse_spec(request.form, st.limits, st.writable,
                      (st.settings.default_width, st.settings.default_height))
    batch = new_job_id() if len(files) > 1 else ""
    accepted: list[Job] = []
    try:
        for index, file in enumerate(files):
            accepted.append(_accept_nth(file, index, len(files), spec, batch))
        st.store.jobs.enqueue(accepted, st.settings.max_queue_depth)
    except QueueFull as exc:
        _discard(accepted)
        raise admission.queue_full(exc) from None
    except BaseException:
        _discard(accepted)
        raise
    for job in accepted:
        log.info("job=%s status=queued filename=%r input=%dx%d/%s/%dB spec=%s", job.id, job.filename,
                 job.input_width, job.input_height, job.input_format, job.input_bytes, job.spec.to_dict())
    return accepted


def _discard(jobs: list[Job]) -> None:
    for job in jobs:
        state.get().storage.delete(job.input_key)


def _accept_nth(file: FileStorage, index: int, count: int, spec: ResizeSpec, batch: str) -> Job:
    """``_accept``, with a refusal in a batch naming the file and saying that nothing was queued."""
    try:
        return _accept(file, spec, batch)
    except ApiError as exc:
        if count > 1:
            exc.details["index"] = index
            exc.message = f"file {index} ({(file.filename or 'unnamed')[:100]}): {exc.message}; nothing was queued"
            exc.args = (exc.message,)
        raise


def _accept(file: FileStorage, spec: ResizeSpec, batch: str) -> Job:
    """Check one uploaded file and store it under its job id. Raises ApiError."""
    st = state.get()
    name = (file.filename or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1][:200]
    size = _size(file)
    if size == 0:
        raise _refusal("empty_file", "the uploaded file is empty", name)
    if size > st.settings.max_upload_bytes:
        raise _refusal("file_too_large",
                       f"the file is {size} bytes, more than the limit of {st.settings.max_upload_bytes}", name)
    try:
        info = greenlets.offload(imaging.probe, file.stream, st.limits)
        out_fmt = output_format_for(info.format, spec, st.writable)
        check_work(info, spec, out_fmt, st.limits)
    except ImageError as exc:
        raise _refusal(exc.code, str(exc), name) from None
    file.stream.seek(0)
    job_id = new_job_id()
    key = input_key(job_id, EXTENSIONS.get(info.format, info.format.lower()))
    nbytes = st.storage.put(key, file.stream)
    return Job(id=job_id, spec=spec, input_key=key, output_key=output_key(job_id, EXTENSIONS[out_fmt]), filename=name,
               tenant=auth.current().tenant, batch=batch, input_format=info.format.lower(), input_width=info.width,
               input_height=info.height, input_bytes=nbytes)


def _refusal(code: str, message: str, filename: str) -> ApiError:
    """An upload refused: the error names the file (as the client called it), when it has a name."""
    error = ApiError(code, message)
    if filename:
        error.details["filename"] = filename
    return error


def _size(file: FileStorage) -> int:
    stream = file.stream
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(0)
    return size
