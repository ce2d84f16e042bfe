"""A job as the caller may see it: a client token sees its own tenant's jobs only, and any other id is
answered as unknown (404), never as forbidden."""

from __future__ import annotations

import re

from imgqueue.errors import JobNotFound
from imgqueue.job import Job

from . import auth, state

_ID = re.compile(r"^[0-9a-f]{32}$")


def is_job_id(text: str) -> bool:
    return bool(_ID.match(text))


def job_id_or_404(job_id: str) -> str:
    if not is_job_id(job_id):
        raise JobNotFound(job_id)
    return job_id


def owned_job(job_id: str) -> Job:
    """The job, if the caller may see it; JobNotFound (404) otherwise, exactly as for an unknown id."""
    job = state.get().store.jobs.get(job_id_or_404(job_id))
    if not auth.may_see(job.tenant):
        raise JobNotFound(job_id)
    return job
