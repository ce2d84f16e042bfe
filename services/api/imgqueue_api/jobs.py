"""Upload and job routes. The demo's contract: ``POST /upload`` (field ``image``, ``width``, ``height``)
answers ``202 {"jobId", "status": "queued", "statusUrl"}``; ``GET /jobs/<id>/status`` answers
``{"status": ...}``."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, send_file, url_for
from werkzeug.datastructures import FileStorage

from imgqueue import imaging
from imgqueue.config import Settings
from imgqueue.errors import ImageError, JobNotFound
from imgqueue.job import Job, JobStatus, new_job_id
from imgqueue.queue import Queue
from imgqueue.storage import Storage

from .errors import ApiError

log = logging.getLogger(__name__)
bp = Blueprint("jobs", __name__)

_ID = re.compile(r"^[0-9a-f]{32}$")
_BOOL = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False,
         "off": False}
_FORMAT_ALIASES = {"jpg": "jpeg"}


@dataclass(frozen=True)
class State:
    settings: Settings
    queue: Queue
    storage: Storage

    @property
    def limits(self) -> imaging.Limits:
        s = self.settings
        return imaging.Limits(s.max_input_pixels, s.max_frames, s.max_output_dimension)


def state() -> State:
    return current_app.extensions["imgqueue"]  # type: ignore[no-any-return]


# --- parsing -----------------------------------------------------------------------------------------


def _int_field(form: Mapping[str, str], name: str) -> int | None:
    raw = (form.get(name) or "").strip()
    if raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, "invalid_parameter", f"{name} must be a whole number, got {raw!r}") from None


def _bool_field(form: Mapping[str, str], *names: str) -> bool:
    for name in names:
        raw = (form.get(name) or "").strip().lower()
        if raw:
            if raw not in _BOOL:
                raise ApiError(400, "invalid_parameter", f"{name} must be true or false, got {raw!r}")
            return _BOOL[raw]
    return False


def parse_spec(form: Mapping[str, str], st: State) -> imaging.ResizeSpec:
    width, height = _int_field(form, "width"), _int_field(form, "height")
    if width is None and height is None:
        width, height = st.settings.default_width, st.settings.default_height
    fit_raw = (form.get("fit") or "cover").strip().lower()
    try:
        fit = imaging.Fit(fit_raw)
    except ValueError:
        raise ApiError(400, "invalid_parameter",
                       f"fit must be one of {', '.join(f.value for f in imaging.Fit)}, got {fit_raw!r}") from None
    fmt = (form.get("format") or "").strip().lower() or None
    fmt = _FORMAT_ALIASES.get(fmt, fmt) if fmt else None
    spec = imaging.ResizeSpec(
        width=width, height=height, fit=fit, format=fmt, quality=_int_field(form, "quality"),
        progressive=_bool_field(form, "progressive"),
        without_enlargement=_bool_field(form, "without_enlargement", "withoutEnlargement"),
        background=(form.get("background") or "#ffffff").strip(),
    )
    return spec.validate(st.limits)  # InvalidSpec -> 400


def _size(file: FileStorage) -> int:
    stream = file.stream
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(0)
    return size


def _accept(file: FileStorage, spec: imaging.ResizeSpec, st: State, batch: str) -> Job:
    """Check one uploaded file and store it under its job id. Raises ApiError or an ImageError."""
    name = (file.filename or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1][:200]
    size = _size(file)
    where = {"filename": name} if name else {}
    if size == 0:
        raise ApiError(400, "empty_file", "the uploaded file is empty", **where)
    if size > st.settings.max_upload_bytes:
        raise ApiError(413, "file_too_large",
                       f"the file is {size} bytes, more than the limit of {st.settings.max_upload_bytes}", **where)
    try:
        info = imaging.probe(file.stream, st.limits)
    except ImageError as exc:
        raise ApiError(exc.http_status, exc.code, str(exc), **where) from None
    file.stream.seek(0)
    job_id = new_job_id()
    in_ext = imaging.EXTENSIONS.get(info.format, info.format.lower())
    out_fmt = imaging.output_format_for(info.format, spec)
    path, nbytes = st.storage.save_upload(job_id, in_ext, file.stream)
    job = Job(id=job_id, spec=spec, input_path=str(path),
              output_path=str(st.storage.output_path(job_id, imaging.EXTENSIONS[out_fmt])),
              filename=name, batch=batch, input_format=info.format.lower(), input_width=info.width,
              input_height=info.height, input_bytes=nbytes)
    return job


def _enqueue(files: list[FileStorage]) -> list[Job]:
    st = state()
    spec = parse_spec(request.form, st)
    batch = new_job_id() if len(files) > 1 else ""
    accepted: list[Job] = []
    try:
        for index, file in enumerate(files):
            try:
                job = _accept(file, spec, st, batch)
            except ApiError as exc:
                if len(files) > 1:
                    exc.details["index"] = index
                    exc.message = f"file {index} ({file.filename or 'unnamed'}): {exc.message}; nothing was queued"
                raise
            accepted.append(job)
        st.queue.enqueue_many(accepted)
    except BaseException:
        for job in accepted:
            st.storage.remove(job.input_path)
        raise
    for job in accepted:
        log.info("job=%s status=queued filename=%r input=%dx%d/%s/%dB spec=%s", job.id, job.filename,
                 job.input_width, job.input_height, job.input_format, job.input_bytes, job.spec.to_dict())
    return accepted


def _links(job: Job) -> dict[str, str]:
    return {"statusUrl": url_for("jobs.job_status", job_id=job.id),
            "jobUrl": url_for("jobs.get_job", job_id=job.id),
            "resultUrl": url_for("jobs.job_result", job_id=job.id)}


def _accepted_entry(job: Job) -> dict[str, Any]:
    return {"jobId": job.id, "status": job.status.value, "filename": job.filename, **_links(job)}


def job_id_or_404(job_id: str) -> str:
    if not _ID.match(job_id):
        raise JobNotFound(job_id)
    return job_id


# --- routes ------------------------------------------------------------------------------------------


@bp.post("/upload")
def upload() -> tuple[Response, int]:
    """One file in field ``image`` (the demo's contract)."""
    file = request.files.get("image")
    if file is None:
        raise ApiError(400, "missing_file", "send the image as a multipart form field named 'image'")
    (job,) = _enqueue([file])
    return jsonify(_accepted_entry(job)), 202


@bp.post("/jobs")
def create_jobs() -> tuple[Response, int]:
    """Several files in field ``images`` (``image`` accepted too), all with the same options."""
    files = request.files.getlist("images") + request.files.getlist("image")
    if not files:
        raise ApiError(400, "missing_file", "send one or more images as multipart form fields named 'images'")
    if len(files) > state().settings.max_files_per_request:
        raise ApiError(413, "too_many_files",
                       f"{len(files)} files, more than the limit of {state().settings.max_files_per_request}")
    jobs = _enqueue(files)
    return jsonify(batch=jobs[0].batch or None, jobs=[_accepted_entry(j) for j in jobs]), 202


@bp.get("/jobs/<job_id>/status")
def job_status(job_id: str) -> Response:
    status = state().queue.status(job_id_or_404(job_id))
    return jsonify(jobId=job_id, status=status.value)


@bp.get("/jobs/<job_id>")
def get_job(job_id: str) -> Response:
    job = state().queue.get(job_id_or_404(job_id))
    return jsonify({**job.to_dict(), **_links(job)})


@bp.get("/jobs/<job_id>/result")
def job_result(job_id: str) -> Response:
    job = state().queue.get(job_id_or_404(job_id))
    if job.status is not JobStatus.DONE:
        raise ApiError(409, "not_done", f"job is {job.status.value}, the result exists once it is done",
                       status=job.status.value)
    fmt = job.output_format.upper()
    try:
        return send_file(job.output_path, mimetype=imaging.MIME_TYPES.get(fmt, "application/octet-stream"),
                         max_age=3600)
    except FileNotFoundError:
        raise ApiError(410, "result_gone", "the job is done but its output file has been removed") from None


@bp.get("/jobs")
def list_jobs() -> Response:
    args = request.args
    limit = _int_field(args, "limit")
    limit = 50 if limit is None else limit
    if not 1 <= limit <= 1000:
        raise ApiError(400, "invalid_parameter", "limit must be between 1 and 1000")
    status: JobStatus | None = None
    if args.get("status"):
        try:
            status = JobStatus(args["status"])
        except ValueError:
            raise ApiError(400, "invalid_parameter", f"status must be one of "
                           f"{', '.join(s.value for s in JobStatus)}") from None
    queue = state().queue
    if args.get("ids"):
        ids = [i for i in args["ids"].split(",") if _ID.match(i)][:limit]
        jobs = [j for j in queue.get_many(ids) if status is None or j.status is status]
    else:
        jobs = queue.list_jobs(status, limit)
    return jsonify(count=len(jobs), jobs=[{**j.to_dict(), **_links(j)} for j in jobs])


@bp.get("/stats")
def stats() -> Response:
    queue = state().queue
    workers = queue.workers()
    return jsonify(queue=queue.settings.queue_name, counts=queue.stats(workers), workers=workers)



