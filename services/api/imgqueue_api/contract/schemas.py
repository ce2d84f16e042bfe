"""The shapes of the answers (``components.schemas``). Statuses and priorities come from ``status.py``."""

from __future__ import annotations

from imgqueue.placeholders import Placeholder
from imgqueue.spec import Crop, Fit
from imgqueue.status import BATCH_COMPLETED, EVENTS, TERMINAL, Delivery, JobStatus, Priority

from ..settings import ROLES
from .model import Schema, ref

_INT, _NUM, _STR = {"type": "integer"}, {"type": "number"}, {"type": "string"}


def _object(required: list[str], **properties: Schema) -> Schema:
    return {"type": "object", "required": required, "properties": properties}


def _complete(**properties: Schema) -> Schema:
    """An object whose properties are all required."""
    return _object(list(properties), **properties)


def _described(schema: Schema, description: str) -> Schema:
    return {**schema, "description": description}


def _links() -> dict[str, Schema]:
    return {"statusUrl": _described(_STR, "GET it for the status alone (the demo's contract)"),
            "jobUrl": _described(_STR, "GET it for the whole record"),
            "resultUrl": _described(_STR, "a signed link to the result: it works without a token for "
                                          "RESULT_URL_TTL seconds")}


def _job() -> Schema:
    times = {name: _described(_NUM, what) for name, what in (
        ("created_at", "accepted (Unix seconds)"), ("started_at", "last started by a worker"),
        ("finished_at", "ended"), ("updated_at", "last transition"),
        ("run_at", "a delayed job's due time; 0: at once"),
        ("output_expires_at", "when the output is removed (OUTPUT_TTL after done)"))}
    counts = {name: _described(_INT, what) for name, what in (
        ("attempts", "times a worker started it"), ("retries", "times it was scheduled again after a "
                                                               "transient error"),
        ("lost", "times its worker process died running it (a poison job fails after MAX_LOST)"),
        ("vanished", "times its whole worker vanished running it (a container or host gone)"),
        ("resubmitted", "times a client retried it after it failed or was cancelled"))}
    admin = {name: _described(_STR, f"admins only: {what}") for name, what in (
        ("input_path", "where the upload is"), ("output_path", "where the output is"),
        ("worker", "host.pid.slot of the worker process"), ("content", "the key identical uploads share"))}
    return _object(
        ["id", "status", "spec", "statusUrl", "jobUrl", "resultUrl"],
        id=_STR, status=ref("Status"), spec=ref("ResizeSpec"), filename=_STR, tenant=_STR,
        batch=_described(_STR, "the batch it was uploaded in (POST /jobs)"),
        priority=ref("Priority"), **times, **counts,
        input_format=_STR, input_width=_INT, input_height=_INT, input_bytes=_INT,
        input_digest=_described(_STR, "SHA-256 of the upload, when DEDUP_BY_CONTENT is on"),
        output_width=_INT, output_height=_INT, output_bytes=_INT, output_format=_STR,
        engine={"type": "string", "enum": ["", "vips", "pillow"],
                "description": "the imaging engine that made the output (empty until done)"},
        duplicate_of=_described(_STR, "the done job whose output this one shares (an identical upload)"),
        variants={"type": "array", "items": ref("Output"),
                  "description": "a set's outputs (empty for one output), in the order asked"},
        srcset=_described(_STR, "a set's outputs of the first one's format, by width, as an `<img srcset>` "
                                "(empty until done, or when they do not differ by width)"),
        srcsets={"type": "object", "additionalProperties": _STR, "description": "one srcset per format"},
        placeholder_kind={"type": "string", "enum": ["", *(p.value for p in Placeholder)]},
        placeholder=_described(_STR, "the placeholder asked for, once done: a BlurHash (decode it at the source's "
                                     "aspect: input_width x input_height) or a base64 ThumbHash"),
        progress={"anyOf": [_complete(done=_INT, total=_INT), {"type": "null"}],
                  "description": "outputs stored of all, while a set of outputs is processed (a single "
                                 "output has none)"},
        error_code=_described(_STR, "why it failed: an error code"), error=_STR, duration_ms=_NUM,
        trace_id=_described(_STR, "its W3C trace id: the upload's traceparent, or one made for it"),
        callback_url=_described(_STR, "where its webhook goes (empty: its tenant's endpoint, if any)"),
        notices=_described(_INT, "webhook messages written about it"),
        webhook={"type": "string", "enum": ["", *(d.value for d in Delivery)],
                 "description": "where its latest webhook message stands (empty: none sent)"},
        **admin,
        extra={"type": "object", "additionalProperties": _STR, "description": "admins only: fields this "
                                                                                "version does not know"},
        **_links())


def _batch() -> Schema:
    return _complete(
        batchId=_STR, expected=_described(_INT, "the jobs it expects"),
        jobs=_described(_INT, "jobs uploaded into it so far"), ended=_described(_INT, "of those, ended"),
        counts=_described(_complete(**{s.value: _INT for s in sorted(TERMINAL)}), "ended jobs by status"),
        callbackUrl={"type": ["string", "null"]}, createdAt=_NUM,
        completedAt={"type": ["number", "null"], "description": "when its last expected job ended"},
        batchUrl=_STR, deliveries={"type": "array", "items": ref("Delivery")})


def schemas() -> dict[str, Schema]:
    error = _object(["code", "message"], code=_described(_STR, "what went wrong, for programs"),
                    message=_described(_STR, "what went wrong, for people"), filename=_STR, index=_INT,
                    status=_STR, job=_described({"type": "object"}, "the job as it is now (not_cancellable, "
                                                                     "not_retryable)"))
    accepted = _object(["jobId", "status", "statusUrl", "jobUrl", "resultUrl"], jobId=_STR, status=ref("Status"),
                       filename=_STR, duplicateOf=_described(_STR, "an identical upload already done: this job "
                                                                   "is done at once, sharing its output"),
                       **_links())
    return {
        "Error": {**_object(["error"], error=error), "description": "every error answer"},
        "Status": {"type": "string", "enum": [s.value for s in JobStatus]},
        "Priority": {"type": "string", "enum": [p.value for p in Priority]},
        "ResizeSpec": _object([], width={"type": ["integer", "null"]}, height={"type": ["integer", "null"]},
                              fit={"type": "string", "enum": [f.value for f in Fit]},
                              format={"type": ["string", "null"]}, quality={"type": ["integer", "null"]},
                              progressive={"type": "boolean"}, without_enlargement={"type": "boolean"},
                              background=_STR, crop={"type": "string", "enum": [c.value for c in Crop]},
                              fx={"type": ["number", "null"]}, fy={"type": ["number", "null"]},
                              keep_icc={"type": "boolean"}),
        "Output": _object(["name", "spec", "url"], name=_STR, spec=ref("ResizeSpec"),
                          width=_described(_INT, "0 until done"), height=_INT, format=_STR, bytes=_INT,
                          url=_described(_STR, "a signed link to this output, as resultUrl")),
        "Accepted": accepted,
        "Batch": _object(["batch", "jobs"], batch={"type": ["string", "null"]},
                         jobs={"type": "array", "items": ref("Accepted")}),
        "JobStatus": _object(["jobId", "status"], jobId=_STR, status=ref("Status")),
        "Job": _job(),
        "JobList": _object(["count", "jobs"], count=_INT, jobs={"type": "array", "items": ref("Job")}),
        "Stats": _object(["queue", "counts", "workers"], queue=_STR,
                         counts={"type": "object", "additionalProperties": _INT},
                         workers={"type": "array", "items": {"type": "object"}}),
        "Me": _object(["tenant", "role", "authMode"], tenant=_STR,
                      role={"type": "string", "enum": list(ROLES)},
                      authMode={"type": "string", "enum": ["open", "token"]}),
        "Ticket": _object(["ticket", "expiresIn"], ticket=_STR, expiresIn=_INT),
        "Health": _object(["status"], status=_STR),
        "ServerSentEvent": {
            **_object(["event", "data"], event={"type": "string", "enum": ["job", "batch", "webhook", "summary",
                                                                           "sample", "resync", "overflow", "revoked",
                                                                           "stop"]},
                      data={"type": "string", "contentMediaType": "application/json"}, id=_STR, retry=_INT),
            "description": "one event of a stream: `event` names it; `data` is JSON (a job's record or "
                           "transition, a batch's completion, a webhook delivery's state, a summary, a new point "
                           "of the charts (`sample`, admins), or {} for resync, overflow, revoked and stop)"},
        "BatchRecord": _batch(),
        "History": _complete(window=_INT, points={"type": "array", "items": _complete(
            t=_described(_NUM, "when the sample was taken (Unix seconds)"),
            done=_described(_NUM, "jobs done per minute since the sample before"), failed=_NUM, cancelled=_NUM,
            reasons={"type": "object", "additionalProperties": _NUM, "description": "failures per minute by "
                                                                                      "reason"},
            p50={"type": ["number", "null"], "description": "seconds from upload to done (null: none done)"},
            p95={"type": ["number", "null"]},
            depth={"type": "object", "additionalProperties": _INT, "description": "jobs queued by priority"})}),
        "Delivery": _complete(
            id=_described(_STR, "the message's id: the `webhook-id` header of every attempt"),
            event={"type": "string", "enum": [*EVENTS.values(), BATCH_COMPLETED]},
            state={"type": "string", "enum": [d.value for d in Delivery]},
            url=_described(_STR, "the callbackUrl it goes to (empty: the tenant's endpoint)"),
            createdAt=_NUM, nextAttemptAt={"type": ["number", "null"]},
            attempts={"type": "array", "description": "the last 50, oldest first", "items": _complete(
                at=_NUM, status={"type": ["integer", "null"], "description": "the receiver's HTTP status (null: "
                                                                             "no answer)"},
                ms=_NUM, error=_STR)}),
        "DeliveryList": _complete(deliveries={"type": "array", "items": ref("Delivery")}),
        "WebhookPayload": {**_complete(type={"type": "string", "enum": [*EVENTS.values(), BATCH_COMPLETED]},
                                       timestamp={"type": "string", "format": "date-time"},
                                       data={"type": "object", "description": "the job as GET /jobs/<id> shows it "
                                             "(its links unsigned: fetch them with a token), or the batch"}),
                           "description": "the body of every webhook (Standard Webhooks)"},
        "Scaling": _complete(backlog=_described(_INT, "jobs that need a worker now: queued + processing + due"),
                             queued=_INT, processing=_INT,
                             due=_described(_INT, "delayed or retrying jobs whose time has come"),
                             waiting=_described(_INT, "delayed or retrying jobs due later"),
                             delayed=_INT, workers=_INT),
    }
