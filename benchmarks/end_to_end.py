"""Part 3: images/s from the first upload to the last ``done``, imgqueue against the Node demo (sharp).

Every contender gets the same photos (task: the demo's 300x300 cover), the same HTTP client (4 uploads
at a time to ``POST /upload``) and the same watcher (``MGET job:<id>:status`` every 20 ms, the demo's
contract, which imgqueue keeps). The contenders alternate round by round; each figure is the median of
``rounds`` rounds (images/s, the CPU of each part from /proc, the Redis commands per job):

* imgqueue, one ``imgqueue-worker`` with default settings (one process per CPU) against one sharp worker;
* imgqueue with two worker processes against two sharp workers (equal CPU);
* in the full run, the worker layouts: processes x libvips threads.

And what libvips alone spends on the same photos (``libvips_alone``): the workers' CPU beyond it is theirs.

Then the same imgqueue run with the files in an object store (rclone serve s3 on loopback) next to the
local folders, alternating (part of issue 11's numbers).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import redis

from imgqueue import keys
from imgqueue.config import usable_cpus
from imgqueue.spec import ResizeSpec
from imgqueue.status import TERMINAL, JobStatus
from imgqueue_client import Client
from imgqueue_dev.objectstore import start_objectstore
from imgqueue_dev.stack import LocalStack
from imgqueue_dev.waiting import Deadline

from . import cpu, libvips_alone, redis_calls, sharp
from .common import Photo, bench_stack, devnull, median

ENDED = frozenset(s.value.encode() for s in TERMINAL)  # the demo's words too: its contract is ours
TARGETS = {"default": 1.5, "equal": 1.15}


@dataclass
class Contender:
    name: str
    upload_url: str
    redis_url: str
    parts: dict[str, list[int]] = field(default_factory=dict)  # api, redis, workers -> their root pids
    raw: bool = False  # imgqueue's PUT /upload (the image as the body) rather than the multipart form


def _upload(client: Client, photo: Photo, raw: bool = False) -> str:
    accepted = client.submit(photo.data, 300, 300, filename=photo.path.name, fit="cover", quality=80, raw=raw)
    return str(accepted["jobId"])


def measure(target: Contender, batch: list[Photo], timeout: float = 600) -> dict[str, Any]:
    """Upload ``batch`` (4 at a time) and watch the status keys until every job has ended; and the CPU each
    part spent meanwhile, per image (from /proc), and the Redis commands per job."""
    client = Client(target.upload_url)
    try:
        called = redis_calls.snapshot(target.redis_url)
        before = cpu.snapshot(target.parts)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            ids = list(pool.map(lambda p: _upload(client, p, target.raw), batch))
        failed = wait_ended(target, ids, timeout)
        seconds = time.perf_counter() - t0
        spent = cpu.per_image(before, cpu.snapshot(target.parts), len(batch))
        calls = redis_calls.per(called, redis_calls.snapshot(target.redis_url), len(batch))
    finally:
        client.session.close()
    return {"seconds": seconds, "images_per_s": len(batch) / seconds, "failed": failed, "cpu_ms": spent,
            "redis_calls": calls}


def wait_ended(target: Contender, ids: list[str], timeout: float = 600) -> int:
    """Watch the jobs' status keys (``MGET`` every 20 ms) until every one has ended; how many failed."""
    watcher = redis.Redis.from_url(target.redis_url)
    status_keys = [keys.job_status(job_id) for job_id in ids]
    deadline = Deadline(timeout, f"{target.name}'s jobs to end")
    try:
        while True:
            statuses = watcher.mget(status_keys)
            if all(s in ENDED for s in statuses):
                return sum(1 for s in statuses if s != JobStatus.DONE.value.encode())
            if deadline.passed:
                raise deadline.fail()
            time.sleep(0.02)
    finally:
        watcher.close()


def alternate(contenders: list[Contender], batch: list[Photo], rounds: int,
              between: Callable[[], object] | None = None) -> dict[str, dict[str, Any]]:
    """Each contender once unmeasured (warm-up), then ``rounds`` rounds in rotating order (``between`` called
    after each); the median of each figure over the rounds."""
    for target in contenders:
        measure(target, batch[: min(len(batch), 4)])
    rows: dict[str, list[dict[str, Any]]] = {target.name: [] for target in contenders}
    for r in range(rounds):
        order = contenders[r % len(contenders):] + contenders[: r % len(contenders)]
        for target in order:
            rows[target.name].append(measure(target, batch))
        if between is not None:
            between()
    return {name: medians(runs) for name, runs in rows.items()}


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of every number over the rounds (each on its own), nested tables alike; ``rounds``: how many."""
    out: dict[str, Any] = {"rounds": len(runs)}
    for key, first in runs[0].items():
        if isinstance(first, dict):
            names = dict.fromkeys(k for run in runs for k in run[key])
            out[key] = {k: round(median([run[key].get(k, 0) for run in runs]), 2) for k in names}
        else:
            out[key] = median([run[key] for run in runs])
    return out


def _imgqueue(stack: LocalStack, name: str, processes: int, threads: int = 0) -> Contender:
    stack.start_workers(processes, vips_threads=threads)
    stack.wait_workers(processes or usable_cpus())
    assert stack.api is not None
    parts = {"api": [stack.api.pid], "redis": [p.pid for p in stack.others], "workers": [w.pid for w in stack.workers]}
    return Contender(name, stack.url, stack.settings.redis_url, parts)


def _demo(exits: ExitStack, folder: Any, workers: int) -> Contender:
    demo = exits.enter_context(sharp.demo_stack(folder))
    demo.start_workers(workers)
    parts = {"api": [demo.procs[1].pid], "redis": [demo.procs[0].pid], "workers": [w.pid for w in demo.workers]}
    return Contender(f"sharp x{workers}", demo.url, demo.redis_url, parts)


def run(photos: list[Photo], copies: int, rounds: int, layouts: bool) -> dict[str, Any]:
    batch = photos * copies
    cpus = usable_cpus()
    results: dict[str, Any] = {"images": len(batch), "cpus": cpus, "rounds": rounds}
    try:
        folder = sharp.install()
        results["sharp"] = sharp.versions(folder)
    except sharp.Unavailable as exc:
        folder, results["sharp_unavailable"] = None, str(exc)
    with ExitStack() as exits:
        default = _imgqueue(exits.enter_context(bench_stack()), f"imgqueue (default: {cpus} processes)", 0)
        raw = Contender(f"{default.name}, PUT /upload", default.upload_url, default.redis_url, default.parts, True)
        contenders = [default, raw]
        if cpus != 2:
            contenders.append(_imgqueue(exits.enter_context(bench_stack()), "imgqueue x2", 2))
        if folder is not None:
            contenders += [_demo(exits, folder, 1), _demo(exits, folder, 2)]
        alone: list[float | None] = []  # libvips alone, once a round: beside the rounds, not after them all
        best = alternate(contenders, batch, rounds,  # the default layout: a process per CPU, one libvips thread each
                         lambda: alone.append(libvips_alone.cpu_ms(batch, ResizeSpec(300, 300, quality=80), 1)))
    two = best.get("imgqueue x2", best[default.name])
    results["by_contender"] = best
    results["libvips_alone"] = outside_libvips(alone, best[default.name]["cpu_ms"]["workers"])
    if folder is not None:
        results["ratios"] = {
            "default": {"imgqueue": default.name, "sharp": "sharp x1", "target": TARGETS["default"],
                        "ratio": best[default.name]["images_per_s"] / best["sharp x1"]["images_per_s"]},
            "equal": {"imgqueue": "imgqueue x2" if cpus != 2 else default.name, "sharp": "sharp x2",
                      "target": TARGETS["equal"], "ratio": two["images_per_s"] / best["sharp x2"]["images_per_s"]},
        }
    if layouts:
        results["layouts"] = worker_layouts(photos, copies, rounds)
    return results


def outside_libvips(alone: list[float | None], workers_ms: float) -> dict[str, Any]:
    """libvips alone on the batch (its median over the rounds) against the workers' CPU per image: the share
    the workers spend outside libvips."""
    measured = [ms for ms in alone if ms is not None]
    if not measured:
        return {"unavailable": "libvips is not installed"}
    ms = median(measured)
    return {"cpu_ms": round(ms, 2), "workers_cpu_ms": workers_ms,
            "outside_share": round(max(0.0, 1 - ms / workers_ms), 3) if workers_ms else None}


LAYOUTS = ((2, 1), (1, 2), (2, 2), (4, 1))  # worker processes x libvips threads per process


def worker_layouts(photos: list[Photo], copies: int, rounds: int) -> dict[str, dict[str, Any]]:
    """Processes against libvips threads, on the same photos, alternating."""
    with ExitStack() as exits:
        contenders = [_imgqueue(exits.enter_context(bench_stack()), f"{p} processes x {t} threads", p, t)
                      for p, t in LAYOUTS]
        return alternate(contenders, photos * copies, rounds)


def storage(photos: list[Photo], copies: int, rounds: int, workers: int = 1) -> dict[str, Any]:
    """End to end with the local folders and with an object store, alternating round by round."""
    store = start_objectstore(log=devnull())
    (store.root / "bench").mkdir()
    try:
        with bench_stack() as local, bench_stack(**store.settings("bench")) as s3:
            contenders = [_imgqueue(local, "local", workers), _imgqueue(s3, "s3", workers)]
            best = alternate(contenders, photos * copies, rounds)
    finally:
        store.stop()
    return {"workers": workers, "images": len(photos) * copies, "local_images_per_s": best["local"]["images_per_s"],
            "s3_images_per_s": best["s3"]["images_per_s"],
            "ratio": best["s3"]["images_per_s"] / best["local"]["images_per_s"]}

