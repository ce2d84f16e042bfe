"""Part 8: a set of outputs from one upload, a srcset of four widths (320, 640, 1024, 1600; fit inside).

* On one pinned core (run in part 1's pinned process), WebP: imgqueue's one job (one decode, each width
  derived) against sharp making the same four from one ``sharp(input)`` with ``clone()`` (as its
  documentation shows; each clone decodes again) and against four separate single-output jobs. Best of
  ``rounds``, contenders alternating; then every output's bytes against sharp's, and SSIM against a
  Lanczos reference.
* End to end through the API, the same client and watcher as part 3: one upload asking for the set,
  against the Node demo doing it the only way it can, four uploads (each its own width, the input's
  format, as the demo writes it).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from imgqueue import imaging
from imgqueue.spec import Fit, Limits, ResizeSpec
from imgqueue_client import Client

from . import end_to_end, quality, sharp
from .common import Photo, bench_stack, best_of

WIDTHS = (320, 640, 1024, 1600)
LIMITS = Limits(max_pixels=10**9, max_output_pixels=10**9)
TARGETS = {"vs_sharp_clone": 1.3, "vs_four_jobs": 1.3, "end_to_end_vs_demo": 1.5, "bytes_vs_sharp": 1.10}
Run = Callable[[list[Photo]], tuple[list[bytes], float | None]]


def specs(fmt: str | None = "webp") -> list[ResizeSpec]:
    return [ResizeSpec(width=w, fit=Fit.INSIDE, format=fmt) for w in WIDTHS]


def one_core(photos: list[Photo], node: sharp.OneCore | None, rounds: int) -> dict[str, Any]:
    """Called in the pinned process of part 1 (``node``: sharp's, pinned alike, or None)."""
    wanted = specs()
    contenders: dict[str, Run] = {
        "imgqueue set": lambda g: ([o.data for p in g for o in imaging.render_set(p.data, wanted, LIMITS).outputs],
                                   None),
        "imgqueue, 4 jobs": lambda g: ([imaging.resize_bytes(p.data, s, LIMITS)[0] for p in g for s in wanted], None),
    }
    if node is not None:
        contenders["sharp clone()"] = _sharp(node)
    times: dict[str, list[float]] = {name: [] for name in contenders}
    outputs: dict[str, list[bytes]] = {}
    names = list(contenders)
    for fn in contenders.values():
        fn(photos[:1])  # warm-up
    for r in range(rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            t0 = time.perf_counter()
            outputs[name], own = contenders[name](photos)
            times[name].append(own if own is not None else time.perf_counter() - t0)
    rows: dict[str, Any] = {}
    for name in names:
        seconds = best_of(times[name])
        scores = [quality.score(p.data, s, out) for p, (s, out) in
                  zip([p for p in photos for _ in wanted], zip(wanted * len(photos), outputs[name], strict=True),
                      strict=True)]
        ssims = [s[1] for s in scores if s[1] == s[1]]
        rows[name] = {"seconds": seconds, "sets_per_s": len(photos) / seconds,
                      "bytes": sum(len(o) for o in outputs[name]), "ssim": sum(ssims) / len(ssims) if ssims else None}
    out: dict[str, Any] = {"photos": len(photos), "widths": WIDTHS, "by_contender": rows, "targets": TARGETS}
    mine = rows["imgqueue set"]
    out["vs_four_jobs"] = mine["sets_per_s"] / rows["imgqueue, 4 jobs"]["sets_per_s"]
    if "sharp clone()" in rows:
        out["vs_sharp_clone"] = mine["sets_per_s"] / rows["sharp clone()"]["sets_per_s"]
        out["bytes_vs_sharp"] = mine["bytes"] / rows["sharp clone()"]["bytes"]
    return out


def _sharp(node: sharp.OneCore) -> Run:
    outputs = [{"width": w, "height": None, "fit": "inside", "format": "webp"} for w in WIDTHS]

    def run(group: list[Photo]) -> tuple[list[bytes], float | None]:
        with tempfile.TemporaryDirectory(prefix="imgqueue-bench-set-") as folder:
            targets = [Path(folder) / f"{i}.webp" for i in range(len(group) * len(WIDTHS))]
            seconds, _ = node.run_set([p.path for p in group], outputs, save=targets)
            return [t.read_bytes() for t in targets], seconds
    return run


def through_the_api(photos: list[Photo], rounds: int) -> dict[str, Any]:
    """One upload per photo asking for the set, against the demo's four uploads per photo."""
    try:
        folder: Path | None = sharp.install()
    except sharp.Unavailable as exc:
        return {"sharp_unavailable": str(exc)}
    assert folder is not None
    variants = [{"name": f"w{w}", "width": w} for w in WIDTHS]
    with ExitStack() as exits:
        mine = end_to_end._imgqueue(exits.enter_context(bench_stack(max_output_pixels=10**9)),
                                    "imgqueue (default), one upload per set", 0)
        single = end_to_end._imgqueue(exits.enter_context(bench_stack(max_output_pixels=10**9)),
                                      "imgqueue x1, one upload per set", 1)
        demo = end_to_end._demo(exits, folder, 1)
        contenders = [mine, single, demo]
        uploads = {mine.name: lambda c, p: _set_upload(c, p, variants), demo.name: _demo_uploads}
        uploads[single.name] = uploads[mine.name]
        best: dict[str, dict[str, Any]] = {}
        for r in range(rounds + 1):  # the first round warms up
            for target in contenders[r % 3:] + contenders[:r % 3]:
                row = _measure(target, photos, uploads[target.name])
                if r and (target.name not in best or row["sets_per_s"] > best[target.name]["sets_per_s"]):
                    best[target.name] = row
    return {"photos": len(photos), "by_contender": best, "target": TARGETS["end_to_end_vs_demo"],
            "ratio": best[mine.name]["sets_per_s"] / best[demo.name]["sets_per_s"],
            "ratio_one_process": best[single.name]["sets_per_s"] / best[demo.name]["sets_per_s"]}


def _set_upload(client: Client, photo: Photo, variants: list[dict[str, Any]]) -> list[str]:
    return [str(client.submit(photo.data, filename=photo.path.name, fit="inside", variants=variants)["jobId"])]


def _demo_uploads(client: Client, photo: Photo) -> list[str]:
    """The demo's resize(w, h) crops to fill: the height that keeps the photo's aspect makes it an inside."""
    return [str(client.submit(photo.data, w, max(1, round(w * photo.height / photo.width)),
                              filename=photo.path.name)["jobId"]) for w in WIDTHS]


def _measure(target: end_to_end.Contender, photos: list[Photo],
             upload: Callable[[Client, Photo], list[str]]) -> dict[str, Any]:
    client = Client(target.upload_url)
    try:
        t0 = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            ids = [i for batch in pool.map(lambda p: upload(client, p), photos) for i in batch]
        failed = end_to_end.wait_ended(target, ids)
        seconds = time.perf_counter() - t0
    finally:
        client.session.close()
    return {"seconds": seconds, "sets_per_s": len(photos) / seconds, "jobs": len(ids), "failed": failed}
