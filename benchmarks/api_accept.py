"""Part 4: uploads/s and latency (p50, p99) of ``POST /upload`` with 200 KB images and 1, 8 and 32
concurrent clients (no workers: this measures acceptance only), and what the admission checks cost: the
same uploads with the rate limit, the queue-depth limit and the disk check on, then off, alternating,
best of ``rounds`` each."""

from __future__ import annotations

import io
import threading
import time
from typing import Any

import requests

from imgqueue_tester.samples import picture

from .common import bench_stack, median, percentile


def image_of_about(size: int = 200_000) -> bytes:
    side = 700
    for _ in range(12):
        buf = io.BytesIO()
        picture(side, side, seed=5).save(buf, "JPEG", quality=90)
        if abs(buf.tell() - size) < size * 0.1:
            break
        side = int(side * (size / buf.tell()) ** 0.5)
    return buf.getvalue()


def _client(url: str, data: bytes, count: int, latencies: list[float], errors: list[int],
            lock: threading.Lock) -> None:
    session = requests.Session()
    for _ in range(count):
        t0 = time.perf_counter()
        resp = session.post(f"{url}/upload", files={"image": ("a.jpg", data)}, timeout=60)
        with lock:
            latencies.append(time.perf_counter() - t0)
            if resp.status_code != 202:
                errors.append(resp.status_code)


# The admission checks on (a rate limit that is checked on every upload but never reached) and off.
CHECKS_ON = {"upload_rate_limit": 10**9, "max_queue_depth": 10**9, "min_free_disk_bytes": 1}
CHECKS_OFF = {"upload_rate_limit": 0, "max_queue_depth": 0, "min_free_disk_bytes": 0}


def measure(url: str, data: bytes, uploads: int, clients: int) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[int] = []
    lock = threading.Lock()
    args = (url, data, max(1, uploads // clients), latencies, errors, lock)
    threads = [threading.Thread(target=_client, args=args) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    wall = time.perf_counter() - t0
    return {"uploads_per_s": len(latencies) / wall, "p50_ms": median(latencies) * 1000,
            "p99_ms": percentile(latencies, 99) * 1000, "errors": len(errors)}


def run(uploads: int, concurrency: tuple[int, ...] = (1, 8, 32), rounds: int = 3) -> dict[str, Any]:
    data = image_of_about()
    out: dict[str, Any] = {"image_bytes": len(data), "uploads": uploads, "by_clients": {}, "checks": {}}
    with bench_stack(**CHECKS_ON) as on, bench_stack(**CHECKS_OFF) as off:
        for clients in concurrency:
            best: dict[str, dict[str, Any]] = {}
            for r in range(rounds):
                for name, stack in (("on", on), ("off", off)) if r % 2 == 0 else (("off", off), ("on", on)):
                    row = measure(stack.url, data, uploads, clients)
                    if name not in best or row["uploads_per_s"] > best[name]["uploads_per_s"]:
                        best[name] = row
            out["by_clients"][str(clients)] = best["on"]
            out["checks"][str(clients)] = {"on": best["on"]["uploads_per_s"], "off": best["off"]["uploads_per_s"],
                                           "ratio": best["on"]["uploads_per_s"] / best["off"]["uploads_per_s"]}
    return out
