"""Helpers the tests share: images made on the fly, polling with deadlines, worker subprocesses."""

from __future__ import annotations

import io
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from imgqueue.config import Settings
from imgqueue.job import Job, JobStatus
from imgqueue.local import Proc
from imgqueue.queue import Queue


def image_bytes(width: int = 640, height: int = 480, fmt: str = "JPEG", mode: str = "RGB",
                colour: object = (30, 120, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (width, height), colour).save(buf, fmt)  # type: ignore[arg-type]
    return buf.getvalue()


@dataclass
class ApiServer:
    url: str
    settings: Settings
    api: Proc


@dataclass
class Stack(ApiServer):
    workers: Proc


class WorkerPool:
    """Worker supervisors as real subprocesses, each in its own process group; all stopped at the end."""

    def __init__(self, settings: Settings, log_dir: Path) -> None:
        self.settings, self.log_dir = settings, log_dir
        self.procs: list[Proc] = []

    def start(self, concurrency: int = 1, **overrides: object) -> Proc:
        env = {**os.environ, **self.settings.with_overrides(**overrides).to_env()}
        log = (self.log_dir / f"worker-{len(self.procs)}.log").open("wb")
        proc = Proc(f"worker-{len(self.procs)}", [sys.executable, "-m", "imgqueue_worker", "-c", str(concurrency)],
                    env=env, log=log).start()
        self.procs.append(proc)
        return proc

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("worker-*.log")))

    def stop_all(self) -> None:
        for proc in self.procs:
            proc.stop(timeout=20)
            if proc.log:
                proc.log.close()


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
