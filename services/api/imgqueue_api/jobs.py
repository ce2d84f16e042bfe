"""Reading jobs: ``GET /jobs/<id>/status`` (the demo's contract: ``{"jobId", "status"}``), the record, the
result, the listing and the counters."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, jsonify, request, send_file, url_for

from imgqueue.errors import JobNotFound
from imgqueue.job import Job, JobStatus
from imgqueue.spec import MIME_TYPES

from . import state
from .errors import ApiError

bp = Blueprint("jobs", __name__)

_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_LIST = 1000


def job_id_or_404(job_id: str) -> str:
    if not _ID.match(job_id):
        raise JobNotFound(job_id)
    return job_id


def links(job: Job) -> dict[str, str]:
    return {"statusUrl": url_for("jobs.job_status", job_id=job.id),
            "jobUrl": url_for("jobs.get_job", job_id=job.id),
            "resultUrl": url_for("jobs.job_result", job_id=job.id)}


def accepted_entry(job: Job) -> dict[str, Any]:
    return {"jobId": job.id, "status": job.status.value, "filename": job.filename, **links(job)}


@bp.get("/jobs/<job_id>/status")
def job_status(job_id: str) -> Response:
    status = state.get().queue.status(job_id_or_404(job_id))
    return jsonify(jobId=job_id, status=status.value)


@bp.get("/jobs/<job_id>")
def get_job(job_id: str) -> Response:
    job = state.get().queue.get(job_id_or_404(job_id))
    return jsonify({**job.to_dict(), **links(job)})


@bp.get("/jobs/<job_id>/result")
def job_result(job_id: str) -> Response:
    job = state.get().queue.get(job_id_or_404(job_id))
    if job.status is not JobStatus.DONE:
        raise ApiError("not_done", f"job is {job.status.value}, the result exists once it is done",
                       status=job.status.value)
    mimetype = MIME_TYPES.get(job.output_format.upper(), "application/octet-stream")
    try:
        return send_file(job.output_path, mimetype=mimetype, max_age=3600)
    except FileNotFoundError:
        raise ApiError("result_gone", "the job is done but its output file has been removed") from None


@bp.get("/jobs")
def list_jobs() -> Response:
    limit = _limit(request.args.get("limit", ""))
    status = _status(request.args.get("status", ""))
    queue = state.get().queue
    if request.args.get("ids"):
        ids = [i for i in request.args["ids"].split(",") if _ID.match(i)][:limit]
        jobs = [j for j in queue.get_many(ids) if status is None or j.status is status]
    else:
        jobs = queue.list_jobs(status, limit)
    return jsonify(count=len(jobs), jobs=[{**j.to_dict(), **links(j)} for j in jobs])


@bp.get("/stats")
def stats() -> Response:
    queue = state.get().queue
    workers = queue.workers()
    return jsonify(queue=queue.settings.queue_name, counts=queue.stats(workers), workers=workers)


def _limit(raw: str) -> int:
    if raw.strip() == "":
        return 50
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIST:
        raise ApiError("invalid_parameter", f"limit must be a whole number between 1 and {MAX_LIST}")
    return limit


def _status(raw: str) -> JobStatus | None:
    if not raw:
        return None
    try:
        return JobStatus(raw)
    except ValueError:
        raise ApiError("invalid_parameter",
                       f"status must be one of {', '.join(s.value for s in JobStatus)}") from None
