"""Part 7: fair share between tenants, with real worker processes on a private redis-server.

Tenant A queues a large import (1000 jobs), then tenant B queues 20. Measured side by side, alternating:

* ``b_alone``: B's 20 jobs on idle workers (seconds from B's enqueue to its last job done);
* ``b_after_a``: the same 20 right after A's import (fair share: tenants take turns);
* ``b_fifo``: the same 20 queued as A's own jobs (one tenant: strictly first come, first served), which is
  what B would wait without fair share;
* ``a_alone`` and ``a_with_b``: A's whole import alone, and with B's jobs served in between.

``job_time`` is the time one worker process spends on one job (A alone's wall time x processes / jobs):
B's extra wait is reported in job-times.
"""

from __future__ import annotations

import io
import tempfile
import time
from pathlib import Path
from typing import Any

from imgqueue.job import Job, JobStatus, input_key, new_job_id, output_key
from imgqueue.spec import ResizeSpec
from imgqueue.storage import open_storage
from imgqueue.store import Store
from imgqueue_dev.stack import LocalStack, private_stack
from imgqueue_dev.waiting import wait_until
from imgqueue_tester.samples import picture

from .common import median

WORKERS = 2


def _photo() -> bytes:
    out = io.BytesIO()
    picture(1200, 900, seed=7).save(out, "JPEG", quality=85)
    return out.getvalue()


def _jobs(stack: LocalStack, tenant: str, n: int, data: bytes) -> list[Job]:
    storage = open_storage(stack.settings)
    jobs = []
    for _ in range(n):
        job_id = new_job_id()
        job = Job(id=job_id, spec=ResizeSpec(300, 225), input_key=input_key(job_id, "jpg"),
                  output_key=output_key(job_id, "jpg"), tenant=tenant, input_format="JPEG", input_width=1200,
                  input_height=900, input_bytes=len(data), created_at=time.time())
        storage.put(job.input_key, data)
        jobs.append(job)
    return jobs


def _finished(store: Store, jobs: list[Job], timeout: float) -> float:
    """The time the last of ``jobs`` ended (from the records), once all are done."""
    ids = [j.id for j in jobs]
    wait_until(lambda: all(s is JobStatus.DONE for s in store.jobs.statuses(ids)), timeout,
               f"{len(ids)} jobs to be done", interval=0.05)
    return max(r.finished_at for r in store.jobs.get_many(ids))


def _round(stack: LocalStack, store: Store, a_count: int, b_count: int, data: bytes) -> dict[str, float]:
    out: dict[str, float] = {}
    b = _jobs(stack, "b", b_count, data)
    t0 = time.time()
    store.jobs.enqueue(b)
    out["b_alone"] = _finished(store, b, 120) - t0
    a = _jobs(stack, "a", a_count, data)
    t0 = time.time()
    store.jobs.enqueue(a)
    out["a_alone"] = _finished(store, a, 600) - t0
    a, b = _jobs(stack, "a", a_count, data), _jobs(stack, "b", b_count, data)
    t0 = time.time()
    store.jobs.enqueue(a)
    tb = time.time()
    store.jobs.enqueue(b)
    out["b_after_a"] = _finished(store, b, 600) - tb
    out["a_with_b"] = _finished(store, a, 600) - t0
    a, b = _jobs(stack, "a", a_count, data), _jobs(stack, "a", b_count, data)  # B's jobs as A's: plain FIFO
    store.jobs.enqueue(a)
    tb = time.time()
    store.jobs.enqueue(b)
    out["b_fifo"] = _finished(store, b, 600) - tb
    _finished(store, a, 600)
    return out


def run(quick: bool) -> dict[str, Any]:
    a_count, b_count, rounds = (100, 5, 1) if quick else (1000, 20, 3)
    data = _photo()
    logs = Path(tempfile.mkdtemp(prefix="imgqueue-bench-fair-"))
    with private_stack(log_dir=logs, log_level="WARNING", worker_prefetch=1) as stack:
        store = Store.from_settings(stack.settings)
        stack.start_workers(WORKERS)
        stack.wait_workers(WORKERS)
        rows = [_round(stack, store, a_count, b_count, data) for _ in range(rounds)]
        store.close()
    result: dict[str, Any] = {key: median([r[key] for r in rows]) for key in rows[0]}
    job_time = result["a_alone"] * WORKERS / a_count
    result.update(a_jobs=a_count, b_jobs=b_count, workers=WORKERS, rounds=rows, job_time=job_time,
                  b_extra_job_times=(result["b_after_a"] - result["b_alone"]) / job_time,
                  a_change=result["a_with_b"] / result["a_alone"] - 1)
    return result
