"""Helpers the tests share: images made on the fly and polling with deadlines."""

from __future__ import annotations

import io
import struct
import time
from collections.abc import Callable

import pytest
from PIL import Image

from imgqueue import vips
from imgqueue.job import Job, JobStatus
from imgqueue.queue import Queue

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
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def wait_status(queue: Queue, job_id: str, statuses: set[JobStatus], timeout: float = 20.0) -> Job:
    def check() -> Job | None:
        job = queue.get(job_id)
        return job if job.status in statuses else None

    return wait_for(check, timeout, f"job {job_id} to reach {sorted(s.value for s in statuses)}")  # type: ignore[return-value]
