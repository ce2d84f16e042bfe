"""Operations that make and steer jobs: uploads, cancel, retry."""

from __future__ import annotations

from imgqueue.status import JobStatus

from . import examples as ex
from .fields import IDEMPOTENCY_KEY, JOB_ID, upload_form, upload_query
from .model import Body, Ok, Operation, ref

UPLOAD_REFUSALS = (
    "invalid_parameter", "missing_file", "empty_file", "invalid_body", "body_timeout", "file_too_large",
    "request_too_large", "form_too_large", "too_many_pixels", "output_too_large", "not_an_image",
    "unsupported_format", "image_error", "corrupt_image", "too_many_frames", "too_much_metadata",
    "idempotency_in_progress", "idempotency_mismatch", "rate_limited", "too_many_uploads", "queue_full",
    "store_full", "not_replicated", "storage_error", "insufficient_storage", "invalid_callback_url",
    "webhooks_not_configured", "batch_not_found", "batch_full")

_OPTIONS = ("The resize fields are sharp's: `width` and/or `height` (one side alone keeps the aspect ratio), "
            "`fit`, `format`, `quality`, `progressive`, `without_enlargement`, `background`, with `crop` or a "
            "focal point (`fx`, `fy`) for `cover`, and `keep_icc`. `variants` asks for a set of named outputs from "
            "one decode (those fields are their defaults), `preset` for an operator's named set; `placeholder` "
            "for a BlurHash or ThumbHash in the record. The job fields say "
            "when and how urgently: `priority` (high, normal, low), and `delay` (seconds) or `runAt` (a time). "
            "Every file is checked before anything is queued (its format, its size in pixels and frames, the "
            "work it asks for): a refusal names the problem and queues nothing. Send an `Idempotency-Key` "
            "header to make a retried request safe.")

SRCSET = '[{"name": "w320", "width": 320}, {"name": "w640", "width": 640}, {"name": "w1024", "width": 1024}]'
_REPLAY = ("a request sent again with the same Idempotency-Key: the first request's answer, and nothing new "
           "queued")

UPLOAD = Operation(
    endpoint="uploads.upload", id="upload", tag="jobs", summary="Queue one image (the Node demo's contract)",
    description="Upload one image in the multipart field `image`; the answer (202) carries the job's id and "
                "links to follow it. " + _OPTIONS,
    ok=Ok(202, "queued (or delayed, or done at once for an identical upload already done)", ref("Accepted"),
          ex.accepted()),
    also=(Ok(200, _REPLAY, ref("Accepted"), ex.accepted()),),
    errors=UPLOAD_REFUSALS, params=(IDEMPOTENCY_KEY,),
    body=Body(upload_form("image", many=False), {
        "resize": {"image": "(the file's bytes)", "width": "800", "height": "600", "fit": "inside",
                   "format": "webp"},
        "later, at low priority": {"image": "(the file's bytes)", "width": "320", "priority": "low",
                                   "delay": "3600"},
        "a srcset, from one decode": {"image": "(the file's bytes)", "fit": "inside", "format": "webp",
                                      "variants": SRCSET, "placeholder": "blurhash"},
        "a preset": {"image": "(the file's bytes)", "preset": "card"}}),
    python='job = client.submit("beach.jpg", 800, 600, fit="inside", format="webp")\n'
           'client.wait(job["jobId"])\nclient.download(job["jobId"], "beach-800.webp")\n\n'
           'srcset = client.submit("beach.jpg", fit="inside", format="webp", placeholder="blurhash",\n'
           '                       variants=[{"name": f"w{w}", "width": w} for w in (320, 640, 1024)])\n'
           'client.wait(srcset["jobId"])\nclient.download_set(srcset["jobId"], "renditions/")',
    curl=("-F image=@beach.jpg", "-F width=800", "-F height=600", "-F fit=inside", "-F format=webp"))

UPLOAD_RAW = Operation(
    endpoint="uploads.upload_raw", id="uploadRaw", tag="jobs", summary="Queue one image sent as the whole body",
    description="The cheaper way in: the image itself is the body (`Content-Type: image/jpeg`, any `image/*`, or "
                "`application/octet-stream`), and the options `POST /upload` takes as form fields go in the query "
                "string (`?width=800&fit=inside`, `variants` URL-encoded). No multipart form is parsed and the "
                "bytes are spooled once. The answer is `POST /upload`'s. " + _OPTIONS,
    ok=Ok(202, "queued (or delayed, or done at once for an identical upload already done)", ref("Accepted"),
          ex.accepted()),
    also=(Ok(200, _REPLAY, ref("Accepted"), ex.accepted()),),
    errors=UPLOAD_REFUSALS, params=(IDEMPOTENCY_KEY, *upload_query()),
    body=Body({"type": "string", "format": "binary", "contentMediaType": "image/*"},
              {"a photo": "(the image's bytes)"}, media="image/*"),
    python='job = client.submit("beach.jpg", 800, 600, fit="inside", format="webp", raw=True)',
    curl=("-H 'Content-Type: image/jpeg'", "--data-binary @beach.jpg"),
    query_example="?width=800&height=600&fit=inside&format=webp")

CREATE_JOBS = Operation(
    endpoint="uploads.create_jobs", id="createJobs", tag="jobs",
    summary="Queue several images with the same options: all or none",
    description="Upload up to MAX_FILES_PER_REQUEST images in the multipart field `images` (repeated). They "
                "are queued together as one batch, or, if any is refused, none is: the error names the file "
                "(`filename`, `index`). " + _OPTIONS,
    ok=Ok(202, "all queued, as one batch", ref("Batch"), ex.batch()),
    also=(Ok(200, _REPLAY, ref("Batch"), ex.batch()),),
    errors=(*UPLOAD_REFUSALS, "too_many_files"), params=(IDEMPOTENCY_KEY,),
    body=Body(upload_form("images", many=True), {
        "two images": {"images": ["(the first file's bytes)", "(the second file's bytes)"], "width": "1200",
                       "format": "avif", "priority": "high"}}),
    python='batch = client.submit_many(["beach.jpg", "harbour.png"], 1200, format="avif", priority="high")\n'
           'client.wait_all(job["jobId"] for job in batch["jobs"])',
    curl=("-F images=@beach.jpg", "-F images=@harbour.png", "-F width=1200", "-F format=avif",
          "-F priority=high"))

CANCEL = Operation(
    endpoint="control.cancel", id="cancelJob", tag="jobs", summary="Cancel a job that has not ended",
    description="A delayed, queued or retrying job is cancelled at once and never starts. A processing set "
                "stops at its worker's next checkpoint (before each output is stored); a processing job that "
                "gets past its last one has its outputs discarded: it never becomes done. Its upload is kept "
                "while the job is, so it can be retried. A job that has "
                "ended answers 409 `not_cancellable` with the job as it is.",
    ok=Ok(200, "cancelled: the job's record", ref("Job"), ex.job(JobStatus.CANCELLED)),
    errors=("job_not_found", "not_cancellable", "store_full"), params=(JOB_ID,), path_example={"job_id": ex.JOB_ID},
    python=f'client.cancel("{ex.JOB_ID}")')

RETRY = Operation(
    endpoint="control.retry", id="retryJob", tag="jobs", summary="Queue a failed or cancelled job again",
    description="The job runs again with the options it was first given, under the same id (its `resubmitted` "
                "count goes up). Only a failed or cancelled job can be retried (409 `not_retryable`), and only "
                "while its upload is kept (410 `input_gone`: see KEEP_FAILED_JOBS and JOB_TTL).",
    ok=Ok(202, "queued again", ref("Accepted"), ex.accepted()),
    errors=("job_not_found", "not_retryable", "input_gone", "store_full", "storage_error"), params=(JOB_ID,),
    path_example={"job_id": ex.JOB_ID}, python=f'client.retry("{ex.JOB_ID}")')

OPERATIONS = (UPLOAD, UPLOAD_RAW, CREATE_JOBS, CANCEL, RETRY)
