"""Helpers the tests share: images made on the fly, polling with deadlines, and the worker's side of the
store in one call each (claim one job, record one outcome, run one job through a Worker)."""

from __future__ import annotations

import io
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from imgqueue import vips
from imgqueue.config import Settings
from imgqueue.job import Job, JobStatus
from imgqueue.storage import LocalStorage
from imgqueue.store import Outcome, Store
from imgqueue_dev.waiting import wait_until
from imgqueue_worker import Worker

vips_only = pytest.mark.skipif(not vips.available(), reason="pyvips (libvips) is not installed")


def image_bytes(width: int = 640, height: int = 480, fmt: str = "JPEG", mode: str = "RGB",
                colour: object = (30, 120, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (width, height), colour).save(buf, fmt)  # type: ignore[arg-type]
    return buf.getvalue()


def wide_gamut_profile() -> bytes:
    """An RGB ICC profile that is not sRGB: Pillow's sRGB profile with its red and blue primaries swapped.
    Converting pixels from it to sRGB changes them visibly, so a test can tell whether a profile was
    applied or only carried along."""
    from PIL import ImageCms

    data = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    count = struct.unpack(">I", data[128:132])[0]
    tags = {}
    for i in range(count):
        sig, offset, size = struct.unpack(">4sII", data[132 + 12 * i:144 + 12 * i])
        tags[sig] = (offset, size)
    (r_at, r_size), (b_at, b_size) = tags[b"rXYZ"], tags[b"bXYZ"]
    red, blue = bytes(data[r_at:r_at + r_size]), bytes(data[b_at:b_at + b_size])
    data[r_at:r_at + r_size], data[b_at:b_at + b_size] = blue, red
    return bytes(data)


def wait_for(check: Callable[[], object], timeout: float = 20.0, what: str = "condition",
             interval: float = 0.05) -> object:
    """Poll ``check`` until it returns something truthy; fail the test at the deadline."""
    return wait_until(check, timeout, what, interval)


def wait_status(store: Store, job_id: str, statuses: set[JobStatus], timeout: float = 20.0) -> Job:
    def check() -> Job | None:
        job = store.jobs.get(job_id)
        return job if job.status in statuses else None

    return wait_until(check, timeout, f"job {job_id} to reach {sorted(s.value for s in statuses)}")


def enqueue(store: Store, job: Job) -> Job:
    """Queue one job."""
    return store.jobs.enqueue([job])[0]


def claim(store: Store, worker_id: str, timeout: float = 1.0) -> Job | None:
    """The next job, taken by ``worker_id``, or None when none came within ``timeout``."""
    jobs = store.runs.claim(worker_id, timeout, 1)
    return jobs[0] if jobs else None


@dataclass(frozen=True)
class Finished:
    applied: bool
    next_job: Job | None


def finish(store: Store, worker_id: str, job_id: str, status: JobStatus, fields: dict[str, Any],
           retry_at: float = 0.0, claim_next: bool = False) -> Finished:
    """Record one outcome (and take the next job when ``claim_next``)."""
    done = store.runs.record(worker_id, [Outcome(job_id, status, fields, retry_at)], 1 if claim_next else 0)
    return Finished(done.applied[0], done.next_jobs[0] if done.next_jobs else None)


def run_one(worker: Worker) -> None:
    """Take one queued job and run it in this process, as a worker process would."""
    jobs = worker.store.runs.claim(worker.id, 1.0, 1)
    assert jobs, "no job to run"
    worker.process_batch(jobs, take=0)


def local_path(settings: Settings, key: str) -> Path:
    """The file behind an object key (local storage)."""
    return LocalStorage.at(settings.upload_dir, settings.output_dir).path(key)


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def exchange(url: str, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``raw`` as it is; the status, headers and body of the answer (as long as its Content-Length
    says; none of an event stream's)."""
    with connect(url) as s:
        s.sendall(raw)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = 0 if "text/event-stream" in headers.get("content-type", "") else \
            int(headers.get("content-length", "0") or 0)
        while len(body) < length:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
    assert lines[0].startswith("HTTP/1."), f"no answer to {raw[:200]!r}"
    return int(lines[0].split()[1]), headers, body
