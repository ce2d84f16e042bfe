"""Operations that read jobs and their results."""

from __future__ import annotations

from imgqueue.status import JobStatus

from . import examples as ex
from .fields import JOB_ID, LINK_PARAMS, LIST_IDS, LIST_LIMIT, LIST_STATUS, LIST_TENANT, VARIANT_NAME
from .model import Ok, Operation, ref

_JOB = {"job_id": ex.JOB_ID}
_OWNED = ("A client token sees its own tenant's jobs only: another tenant's job answers 404, exactly as an "
          "unknown id.")

JOB_STATUS = Operation(
    endpoint="jobs.job_status", id="jobStatus", tag="jobs", summary="A job's status (the Node demo's contract)",
    description="The status alone, the cheapest read: delayed, queued, processing, retrying, then done, failed "
                "or cancelled. " + _OWNED,
    ok=Ok(200, "the status", ref("JobStatus"), {"jobId": ex.JOB_ID, "status": JobStatus.PROCESSING.value}),
    errors=("job_not_found",), params=(JOB_ID,), path_example=_JOB, python=f'client.status("{ex.JOB_ID}")')

GET_JOB = Operation(
    endpoint="jobs.get_job", id="getJob", tag="jobs", summary="A job's whole record",
    description="Everything known of the job: what was asked (`spec`), the input and output measured, times, "
                "attempts, the error of a failed job, and a signed `resultUrl`. Admins also see where its "
                "files are and which worker ran it. " + _OWNED,
    ok=Ok(200, "the record (here, of a set)", ref("Job"), ex.job_set()),
    errors=("job_not_found",), params=(JOB_ID,), path_example=_JOB, python=f'client.job("{ex.JOB_ID}")')

LIST_JOBS = Operation(
    endpoint="jobs.list_jobs", id="listJobs", tag="jobs", summary="The caller's jobs, newest first",
    description="The newest jobs of the caller's tenant (an admin's: of every tenant), optionally in one status, "
                "or the records of the given ids (unknown or expired ids are left out).",
    ok=Ok(200, "jobs", ref("JobList"), {"count": 1, "jobs": [ex.job()]}),
    errors=("invalid_parameter",), params=(LIST_LIMIT, LIST_STATUS, LIST_IDS, LIST_TENANT),
    python='client.list_jobs(status="failed", limit=20)', curl=("-G", "-d status=failed", "-d limit=20"))

JOB_RESULT = Operation(
    endpoint="results.job_result", id="jobResult", tag="results",
    summary="The resized image (a set's first): with a token, or through the signed resultUrl",
    description="The output of a done job. With a token, or with no header at all through the job's "
                "`resultUrl` (signed, valid RESULT_URL_TTL seconds: put it in an `<img>`). Supports "
                "conditional requests (ETag, Last-Modified) and ranges. With object storage that can sign its "
                "own links, answers 302 to one. A job not done yet answers 409 `not_done`; an output past "
                "OUTPUT_TTL 410 `expired`. " + _OWNED,
    ok=Ok(200, "the image; `Cache-Control: public, max-age=<seconds left>` through a signed link, `private` "
               "otherwise", {"type": "string", "contentMediaType": "image/webp"}, "(the image's bytes)",
          media="image/*", headers=("ETag", "Last-Modified", "Cache-Control")),
    errors=("job_not_found", "not_done", "expired", "result_gone", "bad_signature", "link_expired",
            "link_revoked", "storage_error"),
    params=(JOB_ID, *LINK_PARAMS), path_example=_JOB,
    python=f'client.download("{ex.JOB_ID}", "beach-800.webp")', curl=("-o beach-800.webp",))

VARIANT_RESULT = Operation(
    endpoint="results.variant_result", id="variantResult", tag="results", summary="One output of a set, by name",
    description="An output of a done set (`variants` or a preset), with a token or through the `url` its record "
                "gives (signed, as `resultUrl`). The outputs of a set are served once all are made: none before the "
                "job is done. A name the set has not answers 404 `variant_not_found`, with the names it has. "
                + _OWNED,
    ok=Ok(200, "the image; cached as the result is", {"type": "string", "contentMediaType": "image/webp"},
          "(the image's bytes)", media="image/*", headers=("ETag", "Last-Modified", "Cache-Control")),
    errors=("job_not_found", "variant_not_found", "not_done", "expired", "result_gone", "bad_signature",
            "link_expired", "link_revoked", "storage_error"),
    params=(JOB_ID, VARIANT_NAME, *LINK_PARAMS), path_example={"job_id": ex.JOB_ID, "name": "w640"},
    python=f'client.download("{ex.JOB_ID}", "beach-640.webp", name="w640")', curl=("-o beach-640.webp",))

OPERATIONS = (JOB_STATUS, GET_JOB, LIST_JOBS, JOB_RESULT, VARIANT_RESULT)
