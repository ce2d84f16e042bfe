"""Part 2: queue overhead with no-op jobs, one consumer process, on a private redis-server.

* raw: redis-py ``LPUSH`` then ``BRPOP`` of a small JSON message, one at a time, no pipelining;
* imgqueue: the real protocol: bulk enqueue (record, status, index, LPUSH and event in one Lua script per
  500 jobs), then a
  consumer process that takes jobs reliably (``BLMOVE`` + Lua start) and records each outcome with the
  Lua script that also starts the next job, publishing every transition;
* RQ: ``Queue.enqueue`` then ``SimpleWorker.work(burst=True)``, when ``rq`` is installed.
Rates are jobs/s from the first enqueue to the last job finished.
"""

from __future__ import annotations

import json
import multiprocessing
import time
from typing import Any

import redis

from imgqueue.config import Settings
from imgqueue.job import Job, JobStatus, input_key, new_job_id, output_key
from imgqueue.spec import ResizeSpec
from imgqueue.store import Outcome, Store

from .common import private_redis

CHUNK = 500
PREFETCH = 32  # WORKER_PREFETCH for the batched variant


def _noop_jobs(n: int) -> list[Job]:
    """Jobs no worker will open: their files are never read."""
    spec, ids = ResizeSpec(300, 300), [new_job_id() for _ in range(n)]
    return [Job(id=i, spec=spec, input_key=input_key(i, "jpg"), output_key=output_key(i, "jpg")) for i in ids]


def raw_loop(url: str, n: int) -> float:
    client = redis.Redis.from_url(url)
    message = json.dumps({"id": "x" * 32, "width": 300, "height": 300})
    t0 = time.perf_counter()
    for _ in range(n):
        client.lpush("bench:raw", message)
        client.brpop(["bench:raw"], timeout=5)
    return time.perf_counter() - t0


def _consume(url: str, queue_name: str, n: int, prefetch: int, done: Any) -> None:
    """What a worker process does, minus the image: take jobs, record each outcome (taking the next
    ones in the same round trip), with ``prefetch`` jobs held at a time."""
    settings = Settings(redis_url=url, queue_name=queue_name)
    q = Store.from_settings(settings)
    worker = "bench-worker"
    q.workers.register(worker, {"host": "bench", "pid": 0}, 60.0)
    count = 0
    jobs: list[Job] = []
    while count < n:
        if not jobs:
            jobs = q.runs.claim(worker, 1.0, prefetch)
            continue
        count += len(jobs)
        outcomes = [Outcome(job.id, JobStatus.DONE, {"duration_ms": 0}) for job in jobs]
        jobs = q.runs.record(worker, outcomes, min(prefetch, n - count)).next_jobs
    done.value = time.perf_counter()


def imgqueue_protocol(url: str, n: int, prefetch: int = 1) -> tuple[float, float]:
    """Returns (seconds for n jobs end to end, bulk enqueue jobs/s)."""
    settings = Settings(redis_url=url, queue_name=f"bench_imgqueue_{prefetch}")
    q = Store.from_settings(settings)
    jobs = _noop_jobs(n)
    done = multiprocessing.get_context("fork").Value("d", 0.0)
    consumer = multiprocessing.get_context("fork").Process(target=_consume,
                                                           args=(url, settings.queue_name, n, prefetch, done))
    t0 = time.perf_counter()
    for start in range(0, n, CHUNK):
        q.jobs.enqueue(jobs[start:start + CHUNK])
    enqueue_s = time.perf_counter() - t0
    consumer.start()
    consumer.join(300)
    if consumer.exitcode != 0 or not done.value:
        raise RuntimeError("the imgqueue consumer did not finish")
    return done.value - t0, n / enqueue_s


def bulk_enqueue_rate(url: str, n: int) -> float:
    settings = Settings(redis_url=url, queue_name="bench_bulk")
    q = Store.from_settings(settings)
    jobs = _noop_jobs(n)
    t0 = time.perf_counter()
    for start in range(0, n, CHUNK):
        q.jobs.enqueue(jobs[start:start + CHUNK])
    return n / (time.perf_counter() - t0)


def rq_simple_worker(url: str, n: int) -> float | None:
    try:
        import rq
    except ImportError:
        return None
    from .noop import noop

    client = redis.Redis.from_url(url)
    queue = rq.Queue("bench_rq", connection=client)
    t0 = time.perf_counter()
    for _ in range(n):
        queue.enqueue(noop)
    rq.SimpleWorker([queue], connection=client).work(burst=True, logging_level="WARNING")
    return time.perf_counter() - t0


def run(n: int, n_rq: int, rounds: int = 3) -> dict[str, Any]:
    """Best of ``rounds`` for each, the contenders alternating round by round (a noisy neighbour then
    slows them alike)."""
    with private_redis() as url:
        raw_loop(url, min(n, 200))  # warm-up
        raw, ours, batched = [], [], []
        for _ in range(rounds):
            raw.append(raw_loop(url, n))
            ours.append(imgqueue_protocol(url, n)[0])
            batched.append(imgqueue_protocol(url, n, PREFETCH)[0])
            redis.Redis.from_url(url).flushdb()
        raw_s, ours_s, batched_s = min(raw), min(ours), min(batched)
        bulk = bulk_enqueue_rate(url, n)
        rq_s = rq_simple_worker(url, n_rq)
    out: dict[str, Any] = {
        "jobs": n,
        "raw_jobs_per_s": n / raw_s,
        "imgqueue_jobs_per_s": n / ours_s,
        "prefetch": PREFETCH,
        "imgqueue_prefetch_jobs_per_s": n / batched_s,
        "bulk_enqueue_jobs_per_s": bulk,
        "ratio_to_raw": (n / ours_s) / (n / raw_s),
        "prefetch_ratio_to_raw": (n / batched_s) / (n / raw_s),
    }
    if rq_s is not None:
        out.update(rq_jobs=n_rq, rq_jobs_per_s=n_rq / rq_s, ratio_to_rq=(n / ours_s) / (n_rq / rq_s),
                   prefetch_ratio_to_rq=(n / batched_s) / (n_rq / rq_s))
    return out



