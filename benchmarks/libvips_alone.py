"""The worker's CPU outside libvips: the same photos and task through libvips alone (``imgqueue.vips.render``:
one ``thumbnail``, the colour conversion, the encoder; the geometry worked out beforehand), in a child
process with a worker process's libvips threads, CPU per image from ``getrusage``. What a worker process
spends per image beyond that (its probe, Redis, the files, Python) is the part outside libvips."""

from __future__ import annotations

import multiprocessing
import queue
import resource
from typing import Any

from imgqueue import vips
from imgqueue.geometry import compute_geometry
from imgqueue.imaging import output_formats
from imgqueue.probe import inspect
from imgqueue.spec import Limits, ResizeSpec, output_format_for

from .common import Photo, median

LIMITS = Limits(max_pixels=10**9)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _render_all(photos: list[bytes], spec: ResizeSpec, threads: int, rounds: int, out: Any) -> None:
    vips.set_threads(threads)
    prepared = []
    for data in photos:
        im, info = inspect(data, LIMITS)
        im.close()
        geo = compute_geometry(info.width, info.height, spec)
        fmt = output_format_for(info.format, spec, output_formats())
        prepared.append((data, geo, fmt, info.orientation in (0, 1), info.format))
    warm = {item[4]: item for item in prepared}  # one of each format first, untimed (libvips' first calls)
    for data, geo, fmt, upright, in_fmt in warm.values():
        vips.render(data, geo, spec, fmt, upright, in_fmt)
    per_image = []
    for _ in range(rounds):
        t0 = _cpu_seconds()
        for data, geo, fmt, upright, in_fmt in prepared:
            vips.render(data, geo, spec, fmt, upright, in_fmt)
        per_image.append((_cpu_seconds() - t0) * 1000 / len(prepared))
    out.put(per_image)


def cpu_ms(batch: list[Photo], spec: ResizeSpec, threads: int, rounds: int = 1, timeout: float = 600) -> float | None:
    """Median CPU milliseconds per image libvips alone spends on ``batch`` (None without libvips)."""
    if not vips.available():
        return None
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    child = ctx.Process(target=_render_all, args=([p.data for p in batch], spec, threads, rounds, out))
    child.start()
    try:
        return median(out.get(timeout=timeout))
    except queue.Empty:
        raise TimeoutError(f"libvips alone took longer than {timeout:.0f} s") from None
    finally:
        child.join(10)
        if child.is_alive():
            child.kill()
