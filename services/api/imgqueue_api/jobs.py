"""Reading jobs: ``GET /jobs/<id>/status`` (the demo's contract: ``{"jobId", "status"}``), the record, the
result (with a token, or through a signed link), the listing and the counters. A client token sees its
own tenant's jobs only: any other id is answered as unknown (404), never as forbidden."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for

from imgqueue import charts, public
from imgqueue.errors import JobNotFound
from imgqueue.job import Job, JobStatus
from imgqueue.spec import whole_number

from . import auth, results, state
from .errors import ApiError
from .owned import is_job_id, job_id_or_404, owned_job

bp = Blueprint("jobs", __name__)

MAX_LIST = 1000
HISTORY_WINDOW = 3600  # the charts' default: the last hour
MAX_HISTORY_WINDOW = 7 * 86400
DEFAULT_LIST = 50
PRIVATE_CACHE = "private, max-age=300"


def links(job: Job) -> dict[str, str]:
    return {"statusUrl": url_for("jobs.job_status", job_id=job.id),
            "jobUrl": url_for("jobs.get_job", job_id=job.id),
            "resultUrl": results.signed(job.id)}


def view(job: Job) -> dict[str, Any]:
    """The record as the caller may see it, with its links (each output's, and a srcset for a set). Admins
    also see where its files are."""
    data = public.record(job, results.signed)
    if auth.current().admin:
        storage = state.get().storage
        data.update({name: storage.location(key) if key else "" for name, key in
                     (("input_path", job.input_key), ("output_path", job.output_key))})
    else:
        data = public.for_owner(data)
    return {**data, **links(job)}


def accepted_entry(job: Job) -> dict[str, Any]:
    entry = {"jobId": job.id, "status": job.status.value, "filename": job.filename, **links(job)}
    if job.duplicate_of:
        entry["duplicateOf"] = job.duplicate_of
    return entry


@bp.get("/jobs/<job_id>/status")
@auth.allow(*auth.TENANTS)
def job_status(job_id: str) -> Response:
    status, tenant = state.get().store.jobs.status_and_owner(job_id_or_404(job_id))
    if not auth.may_see(tenant):
        raise JobNotFound(job_id)
    return jsonify(jobId=job_id, status=status.value)


@bp.get("/jobs/<job_id>")
@auth.allow(*auth.TENANTS)
def get_job(job_id: str) -> Response:
    return jsonify(view(owned_job(job_id)))


@bp.get("/jobs")
@auth.allow(*auth.TENANTS)
def list_jobs() -> Response:
    limit = _whole(request.args.get("limit", ""), "limit", DEFAULT_LIST, 1, MAX_LIST)
    status = _status(request.args.get("status", ""))
    jobs_store, who = state.get().store.jobs, auth.current()
    if request.args.get("ids"):
        ids = [i for i in request.args["ids"].split(",") if is_job_id(i)][:limit]
        jobs = [j for j in jobs_store.get_many(ids)
                if auth.may_see(j.tenant) and (status is None or j.status is status)]
    else:
        # an admin may narrow the list to one tenant ('' is open mode's); a client sees its own anyway
        jobs = jobs_store.newest(status, limit, tenant=request.args.get("tenant") if who.admin else who.tenant)
    return jsonify(count=len(jobs), jobs=[view(j) for j in jobs])


@bp.get("/stats")
@auth.allow("admin")
def stats() -> Response:
    store = state.get().store
    workers = store.workers.all()
    return jsonify(queue=store.keys.queue, counts=store.counters.stats(workers), workers=workers)


@bp.get("/stats/history")
@auth.allow("admin")
def history() -> Response:
    """The charts' points over the last ``window`` seconds (default an hour; at most what is kept): per
    minute, jobs done, failed and cancelled, failures by reason, p50 and p95 from upload to done, and the
    queue depth by priority."""
    window = _whole(request.args.get("window", ""), "window (seconds)", HISTORY_WINDOW, 60, MAX_HISTORY_WINDOW)
    samples = state.get().store.history.since(time.time() - window)
    return jsonify(window=window, points=charts.points(samples))


@bp.get("/me")
@auth.allow(*auth.TENANTS)
def me() -> Response:
    """Who the API takes the caller for (the dashboard asks, to know what to show)."""
    who = auth.current()
    return jsonify(tenant=who.tenant, role=who.role, authMode=state.get().settings.auth_mode)


def _whole(raw: str, name: str, default: int, low: int, high: int) -> int:
    """A query parameter's whole number (``spec.whole_number``), ``default`` when it is empty."""
    raw = raw.strip()
    return whole_number(raw, name, low, high) if raw else default


def _status(raw: str) -> JobStatus | None:
    if not raw:
        return None
    try:
        return JobStatus(raw)
    except ValueError:
        raise ApiError("invalid_parameter",
                       f"status must be one of {', '.join(s.value for s in JobStatus)}") from None
