"""Example answers, made from the real record types where there are some (a ``Job`` turned into JSON as the
views turn it), so a field renamed in the model is renamed here too. The tests check every example against
its schema."""

from __future__ import annotations

from typing import Any

from imgqueue.job import Job, JobStatus, Rendition
from imgqueue.spec import Fit, ResizeSpec

JOB_ID = "3f2b6c1e9a8d4f0b8c7e6d5a4b3c2d1e"
OTHER_ID = "9c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f"
BATCH = "b7e1c0d2a3f44e5d9c8b7a6f5e4d3c2b"
T0 = 1796212800.0  # 2026-12-02T12:00:00Z
SIGNED = "?expires=1796216400&by=4f1c2a9b8d7e&sig=50d858e0985ecc7f60418aaf0cc5ab587f42c2570a884095a9e8ccacd0f6545c"

TICKET = ("eyJ0IjoiYWNtZSIsInIiOiJjbGllbnQiLCJrIjoiNGYxYzJhOWI4ZDdlIiwiZSI6MTc5NjIxMjg2MH0."
          "14069429150abcbf244c4c2fb2c4c46a49c93ca9457263ecd9ebb176de3a58bb")


def links(job_id: str) -> dict[str, str]:
    return {"statusUrl": f"/jobs/{job_id}/status", "jobUrl": f"/jobs/{job_id}",
            "resultUrl": f"/jobs/{job_id}/result{SIGNED}"}


def job(status: JobStatus = JobStatus.DONE, job_id: str = JOB_ID) -> dict[str, Any]:
    """A job record as ``GET /jobs/<id>`` answers a client token."""
    record = Job(id=job_id, spec=ResizeSpec(width=800, height=600, fit=Fit.INSIDE, format="webp"),
                 input_key="", output_key="", status=status, filename="beach.jpg", tenant="acme",
                 input_format="JPEG", input_width=4032, input_height=3024, input_bytes=2_481_152,
                 created_at=T0, updated_at=T0 + 1.4)
    if status is JobStatus.DONE:
        record.started_at, record.finished_at, record.attempts = T0 + 0.2, T0 + 1.4, 1
        record.output_width, record.output_height, record.output_format = 800, 600, "WEBP"
        record.output_bytes, record.engine, record.duration_ms = 61_440, "vips", 1180.5
        record.output_expires_at = T0 + 86_400
    elif status is JobStatus.CANCELLED:
        record.finished_at = T0 + 5.0
    elif status is JobStatus.FAILED:
        record.started_at, record.finished_at, record.attempts = T0 + 0.2, T0 + 0.3, 1
        record.error_code, record.error = "corrupt_image", "the image could not be decoded (premature end)"
    return shown(record)


def shown(record: Job) -> dict[str, Any]:
    """A record as the API shows it to a client token (jobs.view)."""
    data = record.to_dict()
    for internal in ("input_key", "output_key", "content", "worker", "extra"):
        data.pop(internal, None)
    variants = [{"name": v.name, "width": v.width, "height": v.height, "format": v.format, "bytes": v.bytes,
                 "spec": v.spec.to_dict(), "url": f"/jobs/{record.id}/result/{v.name}{SIGNED}"}
                for v in record.variants]
    srcset = ", ".join(f"{v['url']} {v['width']}w" for v in variants)
    return {**data, "progress": None, "variants": variants, "srcset": srcset,
            "srcsets": {variants[0]["format"]: srcset} if variants else {}, **links(record.id)}


def job_set() -> dict[str, Any]:
    """A done set: a srcset of three WebP widths, with a BlurHash."""
    record = Job(id=JOB_ID, spec=ResizeSpec(width=320, fit=Fit.INSIDE, format="webp"), input_key="", output_key="",
                 status=JobStatus.DONE, filename="beach.jpg", tenant="acme", input_format="JPEG", input_width=4032,
                 input_height=3024, input_bytes=2_481_152, created_at=T0, started_at=T0 + 0.2, finished_at=T0 + 0.9,
                 updated_at=T0 + 0.9, attempts=1, output_width=320, output_height=240, output_format="webp",
                 output_bytes=118_272, engine="vips", duration_ms=690.2, output_expires_at=T0 + 86_400,
                 placeholder_kind="blurhash", placeholder="LKO2?U%2Tw=w]~RBVZRi};RPxuwH")
    sizes = ((320, 240, 9_216), (640, 480, 29_440), (1024, 768, 79_616))
    record.variants = tuple(Rendition(f"w{w}", ResizeSpec(width=w, fit=Fit.INSIDE, format="webp"),
                                      f"output/{JOB_ID}-w{w}.webp", w, h, "webp", size) for w, h, size in sizes)
    return shown(record)


def accepted(job_id: str = JOB_ID, filename: str = "beach.jpg",
             status: JobStatus = JobStatus.QUEUED) -> dict[str, Any]:
    return {"jobId": job_id, "status": status.value, "filename": filename, **links(job_id)}


def batch() -> dict[str, Any]:
    return {"batch": BATCH, "jobs": [accepted(JOB_ID, "beach.jpg"), accepted(OTHER_ID, "harbour.png")]}


def counts() -> dict[str, int]:
    return {"enqueued": 1520, "started": 1534, "done": 1490, "failed": 12, "retried": 14, "lost": 0,
            "vanished": 0, "cancelled": 3, "resubmitted": 1, "deduplicated": 40, "recovered": 2,
            "queued": 12, "delayed": 2, "retrying": 0, "processing": 4, "workers": 4}


WORKER = {"id": "worker-7f9c.12.0", "host": "worker-7f9c", "pid": "12", "started_at": repr(T0 - 3600),
          "current_job": JOB_ID, "job_started": repr(T0 + 0.2), "held": "1", "jobs_done": "371",
          "jobs_failed": "2", "last_heartbeat": repr(T0 + 1.0), "alive": True}

EVENTS = (f'event: job\ndata: {{"id":"{JOB_ID}","status":"processing","ts":{T0 + 0.2},"tenant":"acme"}}\n\n'
          f'event: job\ndata: {{"id":"{JOB_ID}","status":"done","ts":{T0 + 1.4},"tenant":"acme",'
          f'"duration_ms":"1180.5"}}\n\n')

METRICS = ("# HELP imgqueue_jobs_completed_total Jobs that ended done\n"
           "# TYPE imgqueue_jobs_completed_total counter\n"
           "imgqueue_jobs_completed_total 1490.0\n"
           "# HELP imgqueue_queue_depth Jobs waiting in the queues, by priority\n"
           "# TYPE imgqueue_queue_depth gauge\n"
           'imgqueue_queue_depth{priority="high"} 0.0\n'
           'imgqueue_queue_depth{priority="normal"} 12.0\n'
           'imgqueue_queue_depth{priority="low"} 0.0\n')


MESSAGE_ID = f"msg_{JOB_ID}_1"
HOOK = "https://hooks.acme.example/imgqueue"


def delivery(state: str = "delivered") -> dict[str, Any]:
    """A webhook message as GET /jobs/<id>/deliveries lists it: a first attempt that found the receiver down."""
    attempts = [{"at": T0 + 1.5, "status": None, "ms": 3.1, "error": "ConnectionRefusedError: [Errno 111] "
                                                                      "Connection refused"},
                {"at": T0 + 6.9, "status": 200, "ms": 41.7, "error": ""}]
    return {"id": MESSAGE_ID, "event": "job.completed", "state": state, "url": HOOK, "createdAt": T0 + 1.4,
            "attempts": attempts if state == "delivered" else attempts[:1],
            "nextAttemptAt": T0 + 6.9 if state == "pending" else None}


def batch_record(completed: bool = True) -> dict[str, Any]:
    counts = {"cancelled": 0, "done": 47, "failed": 3} if completed else {"cancelled": 0, "done": 0, "failed": 0}
    return {"batchId": BATCH, "expected": 50, "jobs": 50 if completed else 0, "ended": 50 if completed else 0,
            "counts": counts, "callbackUrl": HOOK, "createdAt": T0, "completedAt": T0 + 42.0 if completed else None,
            "batchUrl": f"/batches/{BATCH}",
            "deliveries": [{**delivery(), "id": f"msg_{BATCH}_1", "event": "batch.completed"}] if completed else []}


def webhook(event: str) -> dict[str, Any]:
    """A webhook's body: the job (links unsigned) or the batch."""
    stamp = "2026-12-02T10:00:01.400Z"
    if event == "batch.completed":
        data = {k: v for k, v in batch_record().items() if k not in ("batchUrl", "deliveries")}
        return {"type": event, "timestamp": stamp, "data": data}
    status = {"job.completed": JobStatus.DONE, "job.failed": JobStatus.FAILED,
              "job.cancelled": JobStatus.CANCELLED}[event]
    data = job(status)
    data["resultUrl"] = f"/jobs/{JOB_ID}/result"
    return {"type": event, "timestamp": stamp, "data": data}


def history_point() -> dict[str, Any]:
    return {"t": T0 + 60, "done": 42.0, "failed": 1.0, "cancelled": 0.0, "reasons": {"corrupt_image": 1.0},
            "p50": 1.8, "p95": 4.6, "depth": {"high": 0, "normal": 12, "low": 3}}
