"""Job control under chaos: 500 uploads with a mix of priorities, delays, cancels and duplicates, while a
worker supervisor (its whole process group) is SIGKILLed every two seconds and after each hundred uploads,
and restarted, and Redis (AOF,
fsync always) is killed and restarted once. Every job ends in the one status its history allows: done,
or cancelled when a cancel was acknowledged; none lost, none done after its cancel was acknowledged."""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from helpers import image_bytes
from imgqueue_client import ApiError, Client
from imgqueue_dev.settings import StackSettings
from imgqueue_dev.stack import LocalStack, start_redis
from imgqueue_dev.waiting import Deadline

JOBS = 500


class Chaos(threading.Thread):
    """Every ``every`` seconds, and whenever the test asks (while it knows jobs are in flight), SIGKILL one
    worker supervisor's process group and start another."""

    def __init__(self, stack: LocalStack, every: float) -> None:
        super().__init__(daemon=True)
        self.stack, self.every, self.stop, self.kills = stack, every, threading.Event(), 0
        self.rng, self.lock = random.Random(7), threading.Lock()

    def run(self) -> None:
        while not self.stop.wait(self.every):
            self.kill_one()

    def kill_one(self) -> None:
        with self.lock:
            victim = self.rng.choice(self.stack.workers)
            victim.signal(signal.SIGKILL)
            victim.stop(timeout=5)
            self.stack.workers.remove(victim)
            self.stack.start_workers(1)
            self.kills += 1


@pytest.fixture
def aof_stack(tmp_path: Path, settings: StackSettings) -> Iterator[tuple[LocalStack, object]]:
    folder = tmp_path / "redis"
    proc, url = start_redis(0, folder, True, (tmp_path / "redis1.log").open("wb"), "--appendfsync", "always")
    stack = LocalStack(settings.with_overrides(redis_url=url, heartbeat_interval=0.3, heartbeat_ttl=1.5,
                                               recovery_interval=0.3, upload_rate_limit=0), tmp_path / "logs")
    holder = {"redis": proc, "url": url, "folder": folder}
    yield stack, holder
    stack.stop()
    holder["redis"].stop()  # type: ignore[attr-defined]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_every_job_ends_as_its_history_allows_under_chaos(aof_stack: tuple[LocalStack, dict[str, object]],
                                                          tmp_path: Path) -> None:
    stack, holder = aof_stack
    stack.start_api()
    for _ in range(3):
        stack.start_workers(1)
    client = Client(stack.url, timeout=30)
    rng = random.Random(20261202)
    photos = [image_bytes(64 + i, 48, colour=(i * 9 % 256, 90, 140)) for i in range(40)]
    chaos = Chaos(stack, 2.0)
    chaos.start()
    plan = [(i, rng.random()) for i in range(JOBS)]
    cancelled: set[str] = set()

    def submit(item: tuple[int, float]) -> str:
        i, roll = item
        options: dict[str, object] = {"priority": rng.choice(["high", "normal", "normal", "low"])}
        if roll < 0.1:
            options["delay"] = round(rng.uniform(0.5, 3.0), 2)
        data = photos[i % len(photos)] if roll < 0.85 else photos[0]  # the last ones: duplicates of one photo
        deadline = Deadline(120, "the upload to be acknowledged")
        while True:
            try:
                job_id = str(client.submit(data, 40, 30, filename=f"{i}.jpg", **options)["jobId"])  # type: ignore[arg-type]
                break
            except (ApiError, requests.RequestException):
                if deadline.passed:
                    raise
                time.sleep(0.3)
        if 0.1 <= roll < 0.16:  # a cancel, soon after
            time.sleep(rng.uniform(0, 0.3))
            try:
                if client.cancel(job_id)["status"] == "cancelled":
                    cancelled.add(job_id)
            except (ApiError, requests.RequestException):
                pass
        return job_id

    def submit_in_chunks(part: list[tuple[int, float]]) -> list[str]:
        made: list[str] = []
        for start in range(0, len(part), 100):  # a kill right after each chunk, while its jobs are in flight
            made += pool.map(submit, part[start:start + 100])
            chaos.kill_one()
        return made

    with ThreadPoolExecutor(6) as pool:
        ids = submit_in_chunks(plan[:JOBS // 2])
        holder["redis"].stop()  # type: ignore[attr-defined]
        holder["redis"], _ = start_redis(int(str(holder["url"]).rsplit(":", 1)[1].split("/")[0]),
                                         holder["folder"], True, (tmp_path / "redis2.log").open("wb"),  # type: ignore[arg-type]
                                         "--appendfsync", "always",
                                         password=str(holder["url"]).split(":")[2].split("@")[0])
        ids += submit_in_chunks(plan[JOBS // 2:])
    records = client.wait_all(ids, timeout=300, interval=1.0)
    chaos.stop.set()
    chaos.join(30)
    assert len(records) == JOBS, f"{JOBS - len(records)} jobs lost"
    by_status = {r["id"]: r["status"] for r in records}
    wrong = {i: s for i, s in by_status.items() if s != ("cancelled" if i in cancelled else "done")}
    assert not wrong, f"jobs that ended otherwise than their history allows: {wrong}"
    assert chaos.kills >= 3, "the chaos really happened"
    print(f"{JOBS} jobs, {chaos.kills} workers killed, Redis restarted once: {len(cancelled)} cancelled, "
          f"{sum(1 for r in records if r.get('duplicate_of'))} shared an identical output, the rest done")
