"""Part 3: images/s from the first upload to the last ``done``, through gunicorn, Redis and 1 or 2 worker
processes, on the photos of part 1 (task cover-same, the API's default). Efficiency = this rate divided
by (workers x part 1's one-core imgqueue rate for the same task)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from imgqueue_client import Client

from .common import Photo, bench_stack


def _upload(client: Client, photo: Photo) -> str:
    accepted = client.submit(photo.data, 300, 300, filename=photo.path.name, fit="cover", quality=80)
    return str(accepted["jobId"])


def run(photos: list[Photo], copies: int, one_core_rate: float,
        worker_counts: tuple[int, ...] = (1, 2)) -> dict[str, Any]:
    results: dict[str, Any] = {"images": len(photos) * copies, "one_core_rate": one_core_rate, "by_workers": {}}
    batch = photos * copies
    with bench_stack() as stack:
        for workers in worker_counts:
            stack.stop_workers()
            stack.start_workers(workers)
            stack.wait_workers(workers)
            client = stack.client
            t0 = time.time()
            with ThreadPoolExecutor(4) as pool:
                ids = list(pool.map(lambda p, c=client: _upload(c, p), batch))
            records = client.wait_all(ids, timeout=600, interval=0.1)
            end = max(float(r["finished_at"]) for r in records)
            rate = len(batch) / (end - t0)
            failed = sum(1 for r in records if r["status"] != "done")
            results["by_workers"][str(workers)] = {
                "seconds": end - t0, "images_per_s": rate, "failed": failed,
                "efficiency": rate / (workers * one_core_rate) if one_core_rate else None,
            }
    return results
