"""Part 5: peak RSS of a worker process on the largest image, and its RSS across a long run (growth)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from imgqueue.job import Job, input_key, new_job_id, output_key
from imgqueue.spec import ResizeSpec
from imgqueue.store import Store

from .common import Photo, bench_stack


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _jobs(stack_settings: Any, photos: list[Photo], count: int, tag: str) -> list[Job]:
    """Jobs over hard links to the photos: the worker deletes its input when done, the photo stays."""
    jobs = []
    up = Path(stack_settings.upload_dir)
    up.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        photo = photos[i % len(photos)]
        job_id = new_job_id()
        ext = photo.path.suffix.lstrip(".")
        link = up / f"{job_id}.{ext}"
        try:
            os.link(photo.path, link)
        except OSError:
            link.write_bytes(photo.data)
        jobs.append(Job(id=job_id, spec=ResizeSpec(300, 300), input_key=input_key(job_id, ext),
                        output_key=output_key(job_id, "jpg"), filename=f"{tag}-{i}"))
    return jobs


def run(photos: list[Photo], long_run: int) -> dict[str, Any]:
    largest = max(photos, key=lambda p: p.width * p.height)
    with bench_stack() as stack:
        q = Store.from_settings(stack.settings)
        stack.start_workers(1)
        stack.wait_workers(1)
        worker = q.workers.all()[0]
        pid = int(worker["pid"])
        idle_kb = _status_kb(pid, "VmRSS")
        job = q.jobs.enqueue(_jobs(stack.settings, [largest], 1, "largest"))[0]
        stack.client.wait_all([job.id], timeout=600, interval=0.1)
        peak_kb = _status_kb(pid, "VmHWM")
        samples = []
        jobs = q.jobs.enqueue(_jobs(stack.settings, photos, long_run, "run"))
        step = max(1, long_run // 5)
        for start in range(0, long_run, step):
            stack.client.wait_all([j.id for j in jobs[start:start + step]], timeout=600, interval=0.1)
            samples.append({"jobs": start + step, "rss_mb": _status_kb(pid, "VmRSS") / 1024})
            time.sleep(0.05)
        peak_after = _status_kb(pid, "VmHWM")
    return {
        "largest_image": f"{largest.path.name} ({largest.width}x{largest.height}, {largest.format})",
        "idle_rss_mb": idle_kb / 1024, "peak_rss_largest_mb": peak_kb / 1024,
        "peak_rss_long_run_mb": peak_after / 1024, "long_run_jobs": long_run, "rss_samples": samples,
        "growth_mb": samples[-1]["rss_mb"] - samples[0]["rss_mb"] if samples else 0.0,
    }
