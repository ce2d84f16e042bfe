"""Part 6: what the fleet's housekeeping costs Redis: commands per second (INFO commandstats, commands run
inside Lua scripts included) spent by N idle worker processes' heartbeats, recovery and sweep turns, with
the default intervals. Each worker is a real ``Housekeeper`` thread with its own connection, on a private
redis-server; no job runs, so every command counted is housekeeping."""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import redis

from imgqueue.storage import open_storage
from imgqueue_worker.housekeeping import Housekeeper
from imgqueue_worker.settings import WorkerSettings

from . import redis_calls
from .common import private_redis

WARM_UP = 6.0  # seconds: every worker's first beat and first turn at the chores are over


def commands_per_second(url: str, workers: int, seconds: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="imgqueue-bench-hk-") as tmp:
        settings = WorkerSettings(redis_url=url, queue_name=f"bench_hk_{workers}", upload_dir=Path(tmp) / "up",
                                  output_dir=Path(tmp) / "out")
        storage = open_storage(settings)
        storage.prepare()
        stopping = threading.Event()
        keepers = [Housekeeper(f"bench-{workers}-{i}", settings, storage, stopping) for i in range(workers)]
        for keeper in keepers:
            keeper.start()
        client = redis.Redis.from_url(url)
        try:
            time.sleep(WARM_UP)
            before, t0 = redis_calls.snapshot(url), time.perf_counter()
            time.sleep(seconds)
            after, elapsed = redis_calls.snapshot(url), time.perf_counter() - t0
        finally:
            stopping.set()
            for keeper in keepers:
                keeper.join(10)
            client.flushdb()
            client.close()
    per_second = redis_calls.per(before, after, elapsed)
    return {"commands_per_s": per_second["total"], "scripts_per_s": per_second["scripts"]}


def run(counts: tuple[int, ...], seconds: float) -> dict[str, Any]:
    with private_redis() as url:
        return {str(n): commands_per_second(url, n, seconds) for n in counts}
