"""Part 1: resize + encode on one pinned core, imgqueue against sharp and plain pyvips, by format.

Tasks: "cover" (the demo's 300x300 cover) and "inside" (fit within 300x300), each keeping the input's
format at quality 80. Contenders: imgqueue (``IMAGING_ENGINE=auto``), imgqueue's Pillow engine (what it
did before), plain pyvips (``thumbnail_buffer`` + ``write_to_buffer``) and sharp (Node, ``onecore.js``).
Images are in memory; this process and sharp's are pinned to the same CPU and libvips to one thread.
Contenders alternate round by round; the best round counts. Then one untimed pass scores every output
(``quality``: PSNR and SSIM against a Lanczos reference) and sums its bytes.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from imgqueue import imaging, vips
from imgqueue.spec import Fit, Limits, ResizeSpec

from . import quality, sharp, srcset
from .common import FORMATS, Photo, best_of

LIMITS = Limits(max_pixels=10**9)
FITS = {"cover": Fit.COVER, "inside": Fit.INSIDE}
SIZE = 300
_PYVIPS_SAVE = {"JPEG": ".jpg[Q=80]", "PNG": ".png[compression=6]", "WEBP": ".webp[Q=80]"}
# A contender resizes a group of photos: the encoded outputs, and the seconds it took when it timed
# itself (sharp, in Node) or None (timed here).
Run = Callable[[list[Photo]], tuple[list[bytes], float | None]]


def pin_to_one_core() -> int:
    os.environ["VIPS_CONCURRENCY"] = "1"
    cpu = sorted(os.sched_getaffinity(0))[0]
    os.sched_setaffinity(0, {cpu})
    vips.set_threads(1)
    return cpu


def spec_for(task: str) -> ResizeSpec:
    return ResizeSpec(SIZE, SIZE, FITS[task], quality=80)


def python_contenders(task: str) -> dict[str, Run]:
    spec = spec_for(task)
    out: dict[str, Run] = {
        "imgqueue": lambda g: ([imaging.resize_bytes(p.data, spec, LIMITS)[0] for p in g], None),
        "imgqueue (Pillow)": lambda g: ([imaging.resize_bytes(p.data, spec, LIMITS, "pillow")[0] for p in g], None),
    }
    if vips.available():
        import pyvips

        crop = {"crop": "centre"} if task == "cover" else {}
        out["pyvips"] = lambda g: ([pyvips.Image.thumbnail_buffer(p.data, SIZE, height=SIZE, **crop)
                                    .write_to_buffer(_PYVIPS_SAVE[p.format]) for p in g], None)
    return out


def sharp_contender(node: sharp.OneCore, task: str) -> Run:
    """sharp times itself (no pipe or JSON in its figure); its outputs are read back from files."""
    def run(group: list[Photo]) -> tuple[list[bytes], float | None]:
        with tempfile.TemporaryDirectory(prefix="imgqueue-bench-sharp-") as folder:
            targets = [Path(folder) / f"{i}.out" for i in range(len(group))]
            seconds, _ = node.run([p.path for p in group], SIZE, SIZE, task, save=targets)
            return [t.read_bytes() for t in targets], seconds
    return run


def measure_group(group: list[Photo], task: str, contenders: dict[str, Run], rounds: int) -> dict[str, Any]:
    for fn in contenders.values():  # warm-up: imports, codecs
        fn(group[:1])
    times: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    outputs: dict[str, list[bytes]] = {}
    for r in range(rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            t0 = time.perf_counter()
            outputs[name], own = contenders[name](group)
            times[name].append(own if own is not None else time.perf_counter() - t0)
    mp = sum(p.megapixels for p in group)
    row: dict[str, Any] = {"images": len(group), "megapixels": round(mp, 1)}
    spec = spec_for(task)
    for name in names:
        seconds = best_of(times[name])
        scores = [quality.score(p.data, spec, out) for p, out in zip(group, outputs[name], strict=True)]
        row[name] = {"seconds": seconds, "images_per_s": len(group) / seconds, "mp_per_s": mp / seconds,
                     "bytes": sum(len(o) for o in outputs[name]),
                     "psnr": _mean([s[0] for s in scores]), "ssim": _mean([s[1] for s in scores])}
    for base in ("sharp", "pyvips"):
        if base in row:
            for name in names:
                row[name][f"speed_vs_{base}"] = row[name]["images_per_s"] / row[base]["images_per_s"]
                row[name][f"bytes_vs_{base}"] = row[name]["bytes"] / row[base]["bytes"]
    return row


def _mean(values: list[float]) -> float | None:
    """The mean of the scores that exist (inf: identical to the reference)."""
    scored = [v for v in values if v == v]
    return sum(scored) / len(scored) if scored else None


def run(photos: list[Photo], rounds: int) -> dict[str, Any]:
    cpu = pin_to_one_core()
    results: dict[str, Any] = {"pinning": f"pinned to CPU {cpu}, one libvips thread", "tasks": {}}
    node = None
    try:
        node = sharp.OneCore(sharp.install(), cpu)
        results["sharp"] = {k: node.info[k] for k in ("sharp", "libvips")}
    except sharp.Unavailable as exc:
        results["sharp_unavailable"] = str(exc)
    try:
        for task in FITS:
            table: dict[str, Any] = {}
            for fmt in FORMATS:
                group = [p for p in photos if p.format == fmt]
                if not group:
                    continue
                contenders = python_contenders(task)
                if node is not None:
                    contenders["sharp"] = sharp_contender(node, task)
                table[fmt] = measure_group(group, task, contenders, rounds)
            results["tasks"][task] = {"by_format": table}
        results["srcset"] = srcset.one_core(photos, node, rounds)
    finally:
        if node is not None:
            node.close()
    return results


def run_in_child(quick: bool, rounds: int, out: Any) -> None:
    """Entry point of the pinned child process (see benchmarks.__main__)."""
    from .common import load_photos

    photos, _ = load_photos(quick)
    out.put(run(photos, rounds))
