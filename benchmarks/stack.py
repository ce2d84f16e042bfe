"""A local stack for the benchmarks: private redis-server, gunicorn and a worker supervisor."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from imgqueue.config import Settings
from imgqueue.local import Proc, free_port, start_api, start_redis, start_workers


@dataclass
class LocalStack:
    url: str
    settings: Settings
    env: dict[str, str]
    workers: Proc | None = None

    def start_workers(self, n: int) -> Proc:
        self.stop_workers()
        self.workers = start_workers(self.env, n, log=open(os.devnull, "wb"))  # noqa: SIM115
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            stats = requests.get(f"{self.url}/stats", timeout=5).json()
            if stats["counts"].get("workers", 0) >= n:
                return self.workers
            time.sleep(0.2)
        raise TimeoutError("workers did not register")

    def stop_workers(self) -> None:
        if self.workers is not None:
            self.workers.stop()
            self.workers = None

    def wait_done(self, ids: list[str], timeout: float = 600) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        session = requests.Session()
        while time.monotonic() < deadline:
            records: list[dict[str, Any]] = []
            for start in range(0, len(ids), 100):
                params = {"ids": ",".join(ids[start:start + 100]), "limit": "1000"}
                records += session.get(f"{self.url}/jobs", params=params, timeout=10).json()["jobs"]
            if len(records) == len(ids) and all(r["status"] in ("done", "failed") for r in records):
                return records
            time.sleep(0.1)
        raise TimeoutError("jobs did not finish")


@contextmanager
def local_stack(**overrides: Any) -> Iterator[LocalStack]:
    data = Path(tempfile.mkdtemp(prefix="imgqueue-bench-stack-"))
    redis_proc, url = start_redis(workdir=data / "redis", log=open(os.devnull, "wb"))  # noqa: SIM115
    settings = Settings(redis_url=url, upload_dir=data / "uploads", output_dir=data / "output",
                        max_input_pixels=100_000_000, log_level="WARNING", **overrides)
    env = {**os.environ, **settings.to_env()}
    port = free_port()
    api = start_api(env, port, workers=2, log=open(os.devnull, "wb"))  # noqa: SIM115
    stack = LocalStack(f"http://127.0.0.1:{port}", settings, env)
    try:
        yield stack
    finally:
        stack.stop_workers()
        api.stop()
        redis_proc.stop()
