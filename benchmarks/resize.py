"""Part 1: resize throughput on one core, imgqueue's imaging code against libvips (pyvips), by format.

Task "inside-jpeg": fit inside 300x300, encode JPEG quality 80. Task "cover-same": the demo's 300x300
cover, keeping the input format. Images are in memory; the process is pinned to CPU 0 and libvips to one
thread. The engines alternate round by round so that a noisy neighbour hits both alike.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from imgqueue import imaging, vips
from imgqueue.spec import Fit, Limits, ResizeSpec

from .common import FORMATS, Photo, best_of, timed

LIMITS = Limits(max_pixels=10**9)
TASKS = {
    "inside-jpeg": lambda p: ResizeSpec(300, 300, Fit.INSIDE, format="jpeg", quality=80),
    "cover-same": lambda p: ResizeSpec(300, 300, Fit.COVER, quality=80),
}
_VIPS_SAVE = {"JPEG": ".jpg[Q=80]", "PNG": ".png[compression=6]", "WEBP": ".webp[Q=80]"}


def pin_to_one_core() -> str:
    os.environ["VIPS_CONCURRENCY"] = "1"
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        return f"pinned to CPU {sorted(os.sched_getaffinity(0))[0]}"
    return "not pinned (no sched_setaffinity)"


def engines(task: str) -> dict[str, Callable[[Photo], object]]:
    out: dict[str, Callable[[Photo], object]] = {
        "imgqueue": lambda p: imaging.resize_bytes(p.data, TASKS[task](p), LIMITS),
    }
    try:
        import pyvips
    except (ImportError, OSError):
        return out
    pyvips.cache_set_max(0)
    if task == "inside-jpeg":
        out["libvips"] = lambda p: pyvips.Image.thumbnail_buffer(p.data, 300, height=300).write_to_buffer(".jpg[Q=80]")
    else:
        out["libvips"] = lambda p: pyvips.Image.thumbnail_buffer(p.data, 300, height=300, crop="centre") \
            .write_to_buffer(_VIPS_SAVE[p.format])
    if vips.available():
        out["imgqueue+vips"] = lambda p: imaging.resize_bytes(p.data, TASKS[task](p), LIMITS, engine="vips")
    return out


def run(photos: list[Photo], rounds: int) -> dict[str, Any]:
    pinning = pin_to_one_core()
    results: dict[str, Any] = {"pinning": pinning, "tasks": {}}
    for task in TASKS:
        table: dict[str, dict[str, Any]] = {}
        for fmt in FORMATS:
            group = [p for p in photos if p.format == fmt]
            if not group:
                continue
            fns = engines(task)
            for fn in fns.values():  # warm-up: imports, codecs, caches
                fn(group[0])
            times: dict[str, list[float]] = {name: [] for name in fns}
            names = list(fns)
            for r in range(rounds):
                order = names if r % 2 == 0 else names[::-1]
                for name in order:
                    times[name].append(timed(lambda fn=fns[name], g=group: [fn(p) for p in g]))  # type: ignore[misc]
            mp = sum(p.megapixels for p in group)
            row: dict[str, Any] = {"images": len(group), "megapixels": round(mp, 1)}
            for name in names:
                t = best_of(times[name])
                row[name] = {"seconds": t, "images_per_s": len(group) / t, "mp_per_s": mp / t}
            if "libvips" in row:
                for name in names:
                    row[name]["ratio_to_libvips"] = row[name]["images_per_s"] / row["libvips"]["images_per_s"]
            table[fmt] = row
        all_imgqueue = sum(r["imgqueue"]["seconds"] for r in table.values())
        results["tasks"][task] = {"by_format": table,
                                  "imgqueue_images_per_s": sum(r["images"] for r in table.values()) / all_imgqueue}
    return results


def run_in_child(quick: bool, rounds: int, out: Any) -> None:
    """Entry point of the pinned child process (see benchmarks.__main__)."""
    from .common import load_photos

    photos, _ = load_photos(quick)
    out.put(run(photos, rounds))
