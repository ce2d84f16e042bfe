"""Part 3: images/s from the first upload to the last ``done``, through gunicorn, Redis and 1 or 2 worker
processes, on the photos of part 1 (task cover-same, the API's default). Efficiency = this rate divided
by (workers x part 1's one-core imgqueue rate for the same task). Then the same with the files in an
object store (rclone serve s3 on loopback) next to the local folders, alternating, best of ``rounds``."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from imgqueue_client import Client
from imgqueue_dev.objectstore import start_objectstore
from imgqueue_dev.stack import LocalStack

from .common import Photo, bench_stack


def _upload(client: Client, photo: Photo) -> str:
    accepted = client.submit(photo.data, 300, 300, filename=photo.path.name, fit="cover", quality=80)
    return str(accepted["jobId"])


def measure(stack: LocalStack, batch: list[Photo]) -> dict[str, Any]:
    """Upload ``batch`` (4 at a time) and wait for the last job: images/s from the first upload."""
    client = stack.client
    t0 = time.time()
    with ThreadPoolExecutor(4) as pool:
        ids = list(pool.map(lambda p, c=client: _upload(c, p), batch))
    records = client.wait_all(ids, timeout=600, interval=0.1)
    end = max(float(r["finished_at"]) for r in records)
    return {"seconds": end - t0, "images_per_s": len(batch) / (end - t0),
            "failed": sum(1 for r in records if r["status"] != "done")}


def run(photos: list[Photo], copies: int, one_core_rate: float,
        worker_counts: tuple[int, ...] = (1, 2)) -> dict[str, Any]:
    results: dict[str, Any] = {"images": len(photos) * copies, "one_core_rate": one_core_rate, "by_workers": {}}
    batch = photos * copies
    with bench_stack() as stack:
        for workers in worker_counts:
            stack.stop_workers()
            stack.start_workers(workers)
            stack.wait_workers(workers)
            row = measure(stack, batch)
            row["efficiency"] = row["images_per_s"] / (workers * one_core_rate) if one_core_rate else None
            results["by_workers"][str(workers)] = row
    return results


def storage(photos: list[Photo], copies: int, rounds: int, workers: int = 1) -> dict[str, Any]:
    """End to end with the local folders and with an object store, alternating round by round."""
    store = start_objectstore()
    (store.root / "bench").mkdir()
    best: dict[str, float] = {}
    try:
        with bench_stack() as local, bench_stack(**store.settings("bench")) as s3:
            for stack in (local, s3):
                stack.start_workers(workers)
                stack.wait_workers(workers)
            for r in range(rounds):
                order = [("local", local), ("s3", s3)] if r % 2 == 0 else [("s3", s3), ("local", local)]
                for name, stack in order:
                    rate = measure(stack, photos * copies)["images_per_s"]
                    best[name] = max(best.get(name, 0.0), rate)
    finally:
        store.stop()
    return {"workers": workers, "images": len(photos) * copies, "local_images_per_s": best["local"],
            "s3_images_per_s": best["s3"], "ratio": best["s3"] / best["local"]}
