"""Job control: ``POST /jobs/<id>/cancel`` and ``POST /jobs/<id>/retry``. Owned like every job route: another
tenant's job is unknown (404)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from imgqueue.job import Job
from imgqueue.status import cancellable, retryable

from . import auth, state
from .errors import ApiError
from .jobs import accepted_entry, view
from .owned import owned_job

bp = Blueprint("control", __name__)


@bp.post("/jobs/<job_id>/cancel")
@auth.allow(*auth.TENANTS)
def cancel(job_id: str) -> tuple[Response, int]:
    """A delayed, queued or retrying job is cancelled at once and never starts; a processing one stops at its
    worker's next checkpoint, or its output is discarded: it never becomes done. 409 for one that ended."""
    job = owned_job(job_id)
    jobs = state.get().store.jobs
    if not cancellable(job.status) or not jobs.cancel(job.id).changed:
        raise _as_it_is("not_cancellable", "the job has ended: it cannot be cancelled", job.id)
    return jsonify(view(jobs.get(job.id))), 200


@bp.post("/jobs/<job_id>/retry")
@auth.allow(*auth.TENANTS)
def retry(job_id: str) -> tuple[Response, int]:
    """A failed or cancelled job queued again, as it was first asked for; 410 when its upload is gone."""
    job = owned_job(job_id)
    st = state.get()
    if not retryable(job.status):
        raise _as_it_is("not_retryable", "only a failed or cancelled job can be retried", job.id)
    if not job.input_key or st.storage.stat(job.input_key) is None:
        raise ApiError("input_gone", "the job's upload is no longer kept (KEEP_FAILED_*, JOB_TTL): upload it again")
    if not st.store.jobs.retry(job.id).changed:
        raise _as_it_is("not_retryable", "only a failed or cancelled job can be retried", job.id)
    return jsonify(accepted_entry(st.store.jobs.get(job.id))), 202


def _as_it_is(code: str, message: str, job_id: str) -> ApiError:
    """A refusal that carries the job as it is now."""
    job: Job = state.get().store.jobs.get(job_id)
    return ApiError(code, f"{message} (it is {job.status.value})", job=view(job))
