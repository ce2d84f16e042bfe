"""Reading jobs: ``GET /jobs/<id>/status`` (the demo's contract: ``{"jobId", "status"}``), the record, the
result (with a token, or through a signed link), the listing and the counters. A client token sees its
own tenant's jobs only: any other id is answered as unknown (404), never as forbidden."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, jsonify, redirect, request, url_for
from werkzeug.wrappers import Response as ResponseBase
from werkzeug.wsgi import wrap_file

from imgqueue.errors import JobNotFound, ObjectMissing
from imgqueue.job import Job, JobStatus
from imgqueue.spec import MIME_TYPES

from . import auth, state
from .errors import ApiError

bp = Blueprint("jobs", __name__)

_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_LIST = 1000
DEFAULT_LIST = 50
PRIVATE_CACHE = "private, max-age=300"
INTERNAL_FIELDS = ("input_path", "output_path", "worker", "content")  # where files are, host, pid: admins only


def job_id_or_404(job_id: str) -> str:
    if not _ID.match(job_id):
        raise JobNotFound(job_id)
    return job_id


def owned_job(job_id: str) -> Job:
    """The job, if the caller may see it; JobNotFound (404) otherwise, exactly as for an unknown id."""
    job = state.get().store.jobs.get(job_id_or_404(job_id))
    if not auth.may_see(job.tenant):
        raise JobNotFound(job_id)
    return job


def links(job: Job) -> dict[str, str]:
    st = state.get()
    result = url_for("jobs.job_result", job_id=job.id)
    return {"statusUrl": url_for("jobs.job_status", job_id=job.id),
            "jobUrl": url_for("jobs.get_job", job_id=job.id),
            "resultUrl": st.signer.link(result, st.settings.result_url_ttl, by=auth.current().token)}


def view(job: Job) -> dict[str, Any]:
    """The record as the caller may see it, with its links. Admins also see where its files are."""
    data = job.to_dict()
    del data["input_key"], data["output_key"]
    running = job.progress and job.status is JobStatus.PROCESSING
    data["progress"] = json.loads(job.progress) if running else None  # outputs written of all, while it runs
    if auth.current().admin:
        storage = state.get().storage
        data.update({name: storage.location(key) if key else "" for name, key in
                     (("input_path", job.input_key), ("output_path", job.output_key))})
    else:
        for name in INTERNAL_FIELDS:
            data.pop(name, None)
        data.pop("extra", None)
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


@bp.get("/jobs/<job_id>/result")
@auth.allow(*auth.TENANTS, link=True)
def job_result(job_id: str) -> ResponseBase:
    st = state.get()
    if "sig" in request.args:  # a signed link: valid on its own, whoever holds it
        by = request.args.get("by")
        left = st.signer.check_link(request.path, request.args.get("expires", ""), by, request.args["sig"])
        if by and st.store.tokens.is_revoked(by):
            raise ApiError("link_revoked", "this link was made for a token that has since been revoked")
        job, cache = st.store.jobs.get(job_id_or_404(job_id)), f"public, max-age={left}"
    else:
        job, cache = owned_job(job_id), PRIVATE_CACHE
    if job.status is not JobStatus.DONE:
        raise ApiError("not_done", f"job is {job.status.value}, the result exists once it is done",
                       status=job.status.value)
    if job.output_expires_at and time.time() >= job.output_expires_at:
        raise ApiError("expired", "the result was kept for OUTPUT_TTL after the job was done, and has been removed")
    if st.storage.stat(job.output_key) is None:
        raise ApiError("result_gone", "the job is done but its output file has been removed")
    link = st.storage.link(job.output_key, st.settings.result_url_ttl)
    resp = redirect(link, 302) if link else _send(job)
    resp.headers["Cache-Control"] = cache
    return resp


def _send(job: Job) -> ResponseBase:
    """The output's bytes, with what conditional and range requests need."""
    try:
        reader = state.get().storage.open(job.output_key)
    except ObjectMissing:
        raise ApiError("result_gone", "the job is done but its output file has been removed") from None
    mimetype = MIME_TYPES.get(job.output_format.upper(), "application/octet-stream")
    resp = Response(wrap_file(request.environ, reader), mimetype=mimetype, direct_passthrough=True)  # type: ignore[arg-type]
    resp.content_length = reader.size
    resp.last_modified = datetime.fromtimestamp(reader.modified, UTC)
    resp.set_etag(f"{job.id}-{reader.size}-{int(reader.modified)}")
    return resp.make_conditional(request.environ, accept_ranges=True, complete_length=reader.size)


@bp.get("/jobs")
@auth.allow(*auth.TENANTS)
def list_jobs() -> Response:
    limit = _limit(request.args.get("limit", ""))
    status = _status(request.args.get("status", ""))
    jobs_store, who = state.get().store.jobs, auth.current()
    if request.args.get("ids"):
        ids = [i for i in request.args["ids"].split(",") if _ID.match(i)][:limit]
        jobs = [j for j in jobs_store.get_many(ids)
                if auth.may_see(j.tenant) and (status is None or j.status is status)]
    else:
        jobs = jobs_store.newest(status, limit, tenant=None if who.admin else who.tenant)
    return jsonify(count=len(jobs), jobs=[view(j) for j in jobs])


@bp.get("/stats")
@auth.allow("admin")
def stats() -> Response:
    store = state.get().store
    workers = store.workers.all()
    return jsonify(queue=store.keys.queue, counts=store.counters.stats(workers), workers=workers)


@bp.get("/me")
@auth.allow(*auth.TENANTS)
def me() -> Response:
    """Who the API takes the caller for (the dashboard asks, to know what to show)."""
    who = auth.current()
    return jsonify(tenant=who.tenant, role=who.role, authMode=state.get().settings.auth_mode)


def _limit(raw: str) -> int:
    if raw.strip() == "":
        return DEFAULT_LIST
    limit = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 9 else 0
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
