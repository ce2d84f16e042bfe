"""What a job made: ``GET /jobs/<id>/result`` (its output; a set's first) and ``GET /jobs/<id>/result/<name>``
(one output of a set), with a token or through a signed link; and how a record describes its outputs
(``variants`` with their links, ``srcset``). A set is served only once its job is done: all its outputs, or
none."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from flask import Blueprint, Response, redirect, request, url_for
from werkzeug.wrappers import Response as ResponseBase
from werkzeug.wsgi import wrap_file

from imgqueue.errors import ObjectMissing
from imgqueue.job import Job, JobStatus, Rendition
from imgqueue.spec import MIME_TYPES

from . import auth, state
from .errors import ApiError
from .owned import job_id_or_404, owned_job

bp = Blueprint("results", __name__)
PRIVATE_CACHE = "private, max-age=300"


def signed(job_id: str, name: str = "") -> str:
    """A link to an output that works without a token for RESULT_URL_TTL seconds."""
    st = state.get()
    path = url_for("results.variant_result", job_id=job_id, name=name) if name else \
        url_for("results.job_result", job_id=job_id)
    return st.signer.link(path, st.settings.result_url_ttl, by=auth.current().token)


@bp.get("/jobs/<job_id>/result")
@auth.allow(*auth.TENANTS, link=True)
def job_result(job_id: str) -> ResponseBase:
    """The output (a set's first)."""
    return _serve(job_id, "")


@bp.get("/jobs/<job_id>/result/<name>")
@auth.allow(*auth.TENANTS, link=True)
def variant_result(job_id: str, name: str) -> ResponseBase:
    """One output of a set, by its name."""
    return _serve(job_id, name)


def _serve(job_id: str, name: str) -> ResponseBase:
    st = state.get()
    if "sig" in request.args:  # a signed link: valid on its own, whoever holds it
        by = request.args.get("by")
        left = st.signer.check_link(request.path, request.args.get("expires", ""), by, request.args["sig"])
        if by and st.store.tokens.is_revoked(by):
            raise ApiError("link_revoked", "this link was made for a token that has since been revoked")
        job, cache = st.store.jobs.get(job_id_or_404(job_id)), f"public, max-age={left}"
    else:
        job, cache = owned_job(job_id), PRIVATE_CACHE
    key, fmt = _output(job, name)
    if job.status is not JobStatus.DONE:
        raise ApiError("not_done", f"job is {job.status.value}, the result exists once it is done",
                       status=job.status.value)
    if job.output_expires_at and time.time() >= job.output_expires_at:
        raise ApiError("expired", "the result was kept for OUTPUT_TTL after the job was done, and has been removed")
    if st.storage.stat(key) is None:
        raise ApiError("result_gone", "the job is done but its output file has been removed")
    link = st.storage.link(key, st.settings.result_url_ttl)
    resp = redirect(link, 302) if link else _send(job, key, fmt)
    resp.headers["Cache-Control"] = cache
    return resp


def _output(job: Job, name: str) -> tuple[str, str]:
    """The object key and format of the output asked for; 404 for a name the job has not."""
    if not name:
        return job.output_key, job.output_format
    found: Rendition | None = next((v for v in job.variants if v.name == name), None)
    if found is None:
        raise ApiError("variant_not_found", f"the job has no output named {name[:40]!r}",
                       variants=[v.name for v in job.variants])
    return found.key, found.format or job.output_format


def _send(job: Job, key: str, fmt: str) -> ResponseBase:
    """The output's bytes, with what conditional and range requests need."""
    try:
        reader = state.get().storage.open(key)
    except ObjectMissing:
        raise ApiError("result_gone", "the job is done but its output file has been removed") from None
    mimetype = MIME_TYPES.get(fmt.upper(), "application/octet-stream")
    resp = Response(wrap_file(request.environ, reader), mimetype=mimetype, direct_passthrough=True)  # type: ignore[arg-type]
    resp.content_length = reader.size
    resp.last_modified = datetime.fromtimestamp(reader.modified, UTC)
    resp.set_etag(f"{job.id}-{key.rsplit('/', 1)[-1]}-{reader.size}-{int(reader.modified)}")
    return resp.make_conditional(request.environ, accept_ranges=True, complete_length=reader.size)
